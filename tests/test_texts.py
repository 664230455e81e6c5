"""bot.texts: pure functions; every text is valid Telegram HTML within the limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import texts
from bot.service import COMMANDS
from tests.emulator import render_text

hostile = st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.sampled_from(
    ["<b>", "</a>", "&amp;", "&", "<", ">", '"', "'", "*_`[", "<a href='x'>", "\u202e", "🎬" * 300]
)


def valid(html: str) -> str:
    plain, _ = render_text(html, "HTML", None)
    assert len(plain) <= 4096
    assert texts.utf16_len(html) <= 4096
    return plain


@settings(max_examples=40, deadline=None)
@given(title=hostile, query=hostile, n=st.integers(0, 10_000))
def test_every_text_is_valid_html_for_any_title(title: str, query: str, n: int) -> None:
    line = texts.RecommendationLine(title, "https://example.org/?a=1&b=<2>", (title, title))
    for html in [
        texts.pick_one(query),
        texts.did_you_mean(query),
        texts.not_found(query),
        texts.bad_query(query),
        texts.offer_like(title),
        texts.added(title, n),
        texts.already(title),
        texts.removed(title, n),
        texts.not_a_favorite(title),
        texts.none_of_them_favorites(query),
        texts.unknown_command(query),
        texts.favorites_page([title] * 15, first=1, total=n + 15),
        texts.recommendations([line] * 10, fallback=False, ignored=[title] * 7),
        texts.recommendations([line] * 10, fallback=True, ignored=[]),
        texts.similar(title, [(title, None), (title, "https://imdb.com/")] * 5),
        texts.similar_unknown(title),
        texts.why_no_favorites(title),
        texts.why_unknown(title),
        texts.why(
            title,
            rank=n + 1,
            n_items=n + 1,
            is_favorite=True,
            pushes=[(title, 50)] * 3,
            pulls=[title] * 3,
            ignored=[title] * 9,
        ),
        texts.reset_confirm(n),
        texts.reset_done(n),
    ]:
        valid(html)
    assert len(texts.notice_added(title)) <= texts.MAX_NOTICE
    assert len(texts.label("👍", title)) <= texts.MAX_LABEL


def test_titles_are_escaped_not_interpreted() -> None:
    plain = valid(texts.added("<b>Evil</b> & Sons", 2))
    assert "<b>Evil</b> & Sons" in plain
    assert texts.esc('a<b>&"c"') == 'a&lt;b&gt;&amp;"c"'


def test_static_texts_are_valid() -> None:
    for html in (
        texts.start(),
        texts.help_text([c.help_entry() for c in COMMANDS]),
        texts.usage("like"),
        texts.not_text(),
        texts.favorites_empty(),
        texts.reset_cancelled(),
        texts.reset_nothing(),
        texts.expired(),
        texts.unavailable(),
        texts.flood(),
        texts.something_wrong(),
        texts.list_full(500),
    ):
        valid(html)
    assert texts.usage("like").startswith("Usage: /like &lt;title&gt;")
    assert texts.expired().startswith("This button has expired")
    assert "try again in a minute" in texts.unavailable()


def test_long_lists_are_cut_at_whole_lines() -> None:
    titles = [f"Movie number {i} " + "x" * 150 + " (2000)" for i in range(200)]
    html = texts.favorites_page(titles, first=1, total=200)
    plain = valid(html)
    assert "1. Movie number 0" in plain
    assert "more." in plain
    assert plain.endswith("Tap a button to remove a movie.")


@pytest.mark.parametrize(
    ("rank", "n", "top", "verdict"),
    [
        (1, 9000, "top 1%", "a very strong match"),
        (12, 9000, "top 1%", "a very strong match"),
        (300, 9000, "top 4%", "a strong match"),
        (1500, 9000, "top 17%", "a good match"),
        (4000, 9000, "top 45%", "so-so"),
        (9000, 9000, "bottom 1%", "probably not your kind"),
        (7311, 7363, "bottom 1%", "probably not your kind"),  # never "in your top 100%"
        (5000, 9000, "bottom 45%", "probably not your kind"),
    ],
)
def test_rank_in_words(rank: int, n: int, top: str, verdict: str) -> None:
    words = texts.match_words(rank, n)
    assert words[0] == top
    assert words[1].startswith(verdict)
    html = texts.why(
        "Heat (1995)", rank=rank, n_items=n, is_favorite=False, pushes=[], pulls=[], ignored=[]
    )
    assert f"#{rank:,} of {n:,}" in html


def test_clip() -> None:
    assert texts.clip("a  b\n c", 10) == "a b c"
    assert texts.clip("abcdefghij", 5) == "abcd…"
    assert texts.count_movies(1) == "1 movie"
    assert texts.count_movies(1200) == "1,200 movies"


def test_why_without_a_rank_still_says_something() -> None:
    html = texts.why(
        "Heat (1995)", rank=None, n_items=100, is_favorite=False, pushes=[], pulls=[], ignored=[]
    )
    assert "can't tell yet" in valid(html)


# ---------------------------------------------------------------------------------------------
# Issue 9: titles people read, labels that keep the year, counts that agree


@pytest.mark.parametrize(
    ("title", "display", "short"),
    [
        ("Godfather, The (1972)", "The Godfather (1972)", "The Godfather"),
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            "The City of Lost Children (1995)",  # the alternate name dropped: too long
            "The City of Lost Children",
        ),
        ("Delicatessen (1991)", "Delicatessen (1991)", "Delicatessen"),
        ("Twelve Monkeys (a.k.a. 12 Monkeys) (1995)", "Twelve Monkeys (1995)", "Twelve Monkeys"),
        ("Shall We Dance? (Shall We Dansu?) (1996)", "Shall We Dance? (1996)", "Shall We Dance?"),
        ("Up (Arriba) (2009)", "Up (Arriba) (2009)", "Up"),  # short: the alternate name stays
        ("Toy Story (1995)", "Toy Story (1995)", "Toy Story"),
        (
            "Seven Samurai (Shichinin no samurai) (1954)",
            "Seven Samurai (1954)",
            "Seven Samurai",
        ),
        ("Kiss, The (Le) (1900)", "The Kiss (Le) (1900)", "The Kiss"),
        ("No Year", "No Year", "No Year"),
    ],
)
def test_titles_as_people_write_them(title: str, display: str, short: str) -> None:
    assert texts.display_title(title) == display
    assert texts.short_title(title) == short


def test_a_long_label_keeps_its_year() -> None:
    title = "Night of the Day of the Dawn of the Son of the Bride of the Return (1991)"
    label = texts.label("👍", title)
    assert len(label) <= texts.MAX_LABEL
    assert label.endswith("(1991)")
    assert label.startswith("👍 Night of the Day")
    assert "…" in label
    assert texts.label("👍", "Up (2009)") == "👍 Up (2009)"


def test_counts_agree_and_like_replies_vary() -> None:
    assert texts.reset_confirm(1).startswith("Remove the only movie")
    assert "Remove all 2 movies" in texts.reset_confirm(2)
    tails = {texts.added("Up (2009)", n).split("now).", 1)[1] for n in range(1, 6)}
    assert len(tails) >= 3
    head = texts.card_heading(1, understood=(), discover=False, fallback=False)
    assert head == "<b>1 movie for you</b>"


@settings(max_examples=50, deadline=None)
@given(
    titles=st.lists(st.text(min_size=1, max_size=300), min_size=1, max_size=10),
    understood=st.lists(st.text(max_size=50), max_size=5),
    first=st.integers(1, 91),
)
def test_recommendation_cards_are_valid_html_within_limits(
    titles: list[str], understood: list[str], first: int
) -> None:
    lines = [
        texts.CardLine(t, "https://example.org/?a=1&b=2", (t[:20], "Comedy"), (t, t[::-1]), None)
        for t in titles
    ]
    text = texts.recommendation_card(
        lines, first=first, understood=understood, discover=True, not_understood=understood
    )
    plain, _ = render_text(text, "HTML", None)
    assert texts.utf16_len(text) <= texts.MAX_MESSAGE
    assert plain


def test_missing_movies_names_each_list_and_fits_telegram() -> None:
    one = texts.missing_movies([("like", "Get Out (2017)")], "ml-100k")
    assert one.startswith("One of your favorites is not in this catalog (ml-100k):\n• Get Out")
    several = texts.missing_movies(
        [("like", "Get Out (2017)"), ("like", "Coco (2017)"), ("seen", "Matrix, The (1999)")],
        None,
    )
    assert several.startswith("2 of your favorites and one of your seen movies are not in this")
    assert "• The Matrix (1999)" in several
    many = texts.missing_movies([("like", f"Film {i} (2017)") for i in range(2000)], "ml-100k")
    assert texts.utf16_len(many) <= texts.MAX_MESSAGE
    assert "…and" in many
    assert many.endswith("No other movie took their place.")


def test_an_import_summary_escapes_titles_and_says_what_the_caps_left_out() -> None:
    result = texts.ImportResult(
        files=("ratings.csv",),
        added={"movies": 4},
        already=0,
        absent=("<b>Tom & Jerry</b> (2021)",),
        skipped={"watchlist": 2},
        full=3,
        limits=(5, 20),
    )
    text = texts.imported(result)
    assert text.startswith("<b>Imported 4 movies</b> from ratings.csv.")
    assert "<b>3 movies were not imported: your lists are full</b> (at most 5 favorites" in text
    assert "Skipped rows: 2 watchlist." in text
    assert "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt; (2021)" in text
