"""Title resolution: normalisation, decisions on a tiny catalog, accuracy on MovieLens, the CLI."""

from __future__ import annotations

import io
import json
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bench.bench_match import load_labelled, load_queries, print_report, report
from recsys.movielens import load_catalog, load_ratings, split_title
from recsys.titles import (
    ARTICLE_DROP,
    MAX_CANDIDATES,
    MAX_QUERY_CHARS,
    MAX_SUGGESTIONS,
    W_ALIAS,
    W_PART,
    W_TITLE,
    CatalogInfo,
    MatchStatus,
    Resolution,
    TitleIndex,
    is_small_talk,
    parse_aliases,
    split_aliases,
    split_titles,
    title_aliases,
    title_keys,
    words,
)

QUERIES = Path(__file__).parent / "data" / "title_queries.tsv"
HOLDOUT = Path(__file__).parent / "data" / "title_queries_holdout.tsv"
QUERIES_2 = Path(__file__).parent / "data" / "title_queries_2.tsv"
HOLDOUT_2 = Path(__file__).parent / "data" / "title_queries_2_holdout.tsv"


def make_catalog(rows: list[tuple[int, str, int]]) -> pd.DataFrame:
    """A catalog frame like load_catalog's from (movie_id, MovieLens title, likes)."""
    split = [split_title(title) for _id, title, _likes in rows]
    frame = pd.DataFrame(
        {
            "movie_id": [r[0] for r in rows],
            "title": [r[1] for r in rows],
            "name": [s[0] for s in split],
            "year": pd.array([s[1] for s in split], dtype="Int32"),
            "genres": "Drama",
            "imdb_id": pd.array([pd.NA] * len(rows), dtype="Int64"),
            "tmdb_id": pd.array([pd.NA] * len(rows), dtype="Int64"),
            "imdb_search": None,
            "likes": [r[2] for r in rows],
        }
    )
    return frame.set_index("movie_id")


TINY = [
    (1, "Sing (2016)", 3),
    (2, "Singin' in the Rain (1952)", 38),
    (3, "Titanic (1997)", 100),
    (4, "Titanic (1953)", 5),
    (5, "The Greatest Showman (2017)", 2),
    (6, "Snowman, The (1982)", 4),
    (7, "Shawshank Redemption, The (1994)", 300),
    (8, "Godfather, The (1972)", 165),
    (9, "Godfather: Part II, The (1974)", 114),
    (10, "Seven (a.k.a. Se7en) (1995)", 90),
    (11, "Jaws (1975)", 80),
    (12, "1917 (2019)", 10),
    (13, "Lord of the Rings, The (1978)", 6),
    (14, "Lord of the Rings: The Fellowship of the Ring, The (2001)", 168),
    (15, "Lord of the Rings: The Two Towers, The (2002)", 156),
    (16, "City of Lost Children, The (Cité des enfants perdus, La) (1995)", 20),
    (17, "WALL·E (2008)", 70),
    (18, "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", 60),
    (19, "Shrek the Third (2007)", 30),
    (20, "In & Out (1997)", 15),
    (21, "Sixth Sense, The (1999)", 200),
    (22, "Incredibles, The (2004)", 150),
    (23, "Incredibles 2 (2018)", 3),
    (24, "Inglorious Bastards (Quel maledetto treno blindato) (1978)", 5),
    (25, "Inglourious Basterds (2009)", 81),
    (26, "Die Hard (1988)", 90),
    (27, "Die Hard 2 (1990)", 40),
    (28, "Die Hard: With a Vengeance (1995)", 50),
    (29, "Hard (1998)", 1),
    (30, "Sabrina (1954)", 22),
    (31, "Sabrina (1995)", 20),
    (32, "Arrival (2016)", 21),
    (33, "Arrival, The (1996)", 9),
    (34, "Toy Story (1995)", 165),
    (35, "Toy Story 2 (1999)", 69),
    (36, "Toy Story 3 (2010)", 50),
    (37, "T2: Trainspotting (2017)", 4),
    (38, "Terminator 2: Judgment Day (1991)", 173),
    (39, "Star Wars: Episode IV - A New Hope (1977)", 220),
    (40, "Star Wars: Episode V - The Empire Strikes Back (1980)", 180),
    (41, "Star Wars: Episode I - The Phantom Menace (1999)", 67),
    (42, "Star Wars: The Last Jedi (2017)", 7),
    (43, "Star Wars: Episode VII - The Force Awakens (2015)", 35),
    (44, "Aliens (1986)", 98),
    (45, "Alien (1979)", 118),
    (46, "Alien Nation (1988)", 4),
    (47, "Crouching Tiger, Hidden Dragon (Wo hu cang long) (2000)", 50),
    (48, "Good, the Bad and the Ugly, The (Buono, il brutto, il cattivo, Il) (1966)", 60),
    (49, "What Women Want (2000)", 20),
    (50, "Heat (1995)", 76),
    (51, "Heat, The (2013)", 4),
    (52, "Transformers: The Movie (1986)", 5),
    (53, "Transformers (2007)", 22),
    (54, "Transformers: Revenge of the Fallen (2009)", 5),
    (55, "It (2017)", 5),
    (56, "It Comes at Night (2017)", 1),
]


@pytest.fixture(scope="module")
def tiny() -> TitleIndex:
    return TitleIndex.build(make_catalog(TINY))


@pytest.fixture(scope="module")
def small(movielens_dir: Path) -> TitleIndex:
    folder = movielens_dir / "ml-latest-small"
    ratings = load_ratings(folder, "ml-latest-small")
    return TitleIndex.build(load_catalog(folder, "ml-latest-small", ratings))


def top1(res: Resolution) -> int | None:
    """The movie a resolution points at: the match, or the first candidate when ambiguous."""
    if res.status is MatchStatus.MATCHED:
        return res.movie_id
    if res.status is MatchStatus.AMBIGUOUS:
        return res.candidates[0].movie_id
    return None


def check_shape(res: Resolution) -> None:
    """The invariants of the Resolution contract."""
    assert isinstance(res.status, MatchStatus)
    if res.status is MatchStatus.MATCHED:
        assert res.movie_id is not None
        assert res.title
        assert res.candidates == ()
    else:
        assert res.movie_id is None
        assert res.title is None
    if res.status is MatchStatus.AMBIGUOUS:
        assert 2 <= len(res.candidates) <= MAX_CANDIDATES
    if res.status is MatchStatus.NOT_FOUND:
        assert len(res.candidates) <= MAX_SUGGESTIONS
    ids = [c.movie_id for c in res.candidates]
    assert len(ids) == len(set(ids))


# --------------------------------------------------------------------------------------------
# Normalisation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Toy Story", ["toy", "story"]),
        ("Godfather: Part II", ["godfather", "2"]),
        ("godfather part two", ["godfather", "2"]),
        ("Star Wars: Episode V", ["star", "wars", "5"]),
        ("Kill Bill: Vol. 1", ["kill", "bill", "1"]),
        ("Rocky IV", ["rocky", "4"]),
        ("Ocean's Eleven", ["oceans", "11"]),
        ("Shrek the Third", ["shrek", "the", "3"]),
        ("Léon", ["leon"]),
        ("WALL·E", ["wall", "e"]),
        ("E.T. the Extra-Terrestrial", ["et", "the", "extra", "terrestrial"]),
        ("L.A. Confidential", ["la", "confidential"]),
        ("Fabuleux destin d'Amélie Poulain", ["fabuleux", "destin", "d", "amelie", "poulain"]),
        ("Dumb & Dumber", ["dumb", "and", "dumber"]),
        ("I, Robot", ["i", "robot"]),
        ("Alien³", ["alien3"]),
        ("Ærø  \t Øst", ["aero", "ost"]),
        ("a\u200fb\u202ec", ["abc"]),
        ("🎬 !!! ...", []),
    ],
)
def test_words_normalise_spelling_numbers_and_punctuation(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_split_aliases_takes_every_trailing_parenthesis() -> None:
    assert split_aliases("Léon: The Professional (a.k.a. The Professional) (Léon)") == (
        "Léon: The Professional",
        ["The Professional", "Léon"],
    )
    assert split_aliases("Seven (a.k.a. Se7en)") == ("Seven", ["Se7en"])
    assert split_aliases("(500) Days of Summer") == ("(500) Days of Summer", [])


def test_title_keys_front_articles_aliases_and_parts() -> None:
    keys = title_keys("Godfather: Part II, The")
    assert keys[("the", "godfather", "2")] == W_TITLE
    assert keys[("godfather", "2")] == W_TITLE - ARTICLE_DROP  # "arrival" is Arrival first
    assert keys[("the", "godfather")] == W_PART
    alias = title_keys("City of Lost Children, The (Cité des enfants perdus, La)")
    assert alias[("la", "cite", "des", "enfants", "perdus")] == W_ALIAS
    assert alias[("cite", "des", "enfants", "perdus")] == W_ALIAS - ARTICLE_DROP
    assert alias[("the", "city", "of", "lost", "children")] == W_TITLE
    assert alias[("city", "of", "lost", "children")] == W_TITLE - ARTICLE_DROP
    # A part that is only a number or a stopword identifies nothing; a title that is one does.
    assert ("2",) not in keys
    assert title_keys("300")[("300",)] == W_TITLE
    assert title_keys("Die Hard") == {("die", "hard"): W_TITLE}  # "die" is not an article here


# --------------------------------------------------------------------------------------------
# Decisions on a tiny catalog where the right answer is known


@pytest.mark.parametrize(
    ("query", "movie_id"),
    [
        ("Sing", 1),  # an exact title beats a more popular partial match
        ("sing", 1),
        ("titanic 1953", 4),  # a year selects that year
        ("Titanic (1997)", 3),
        ("titanic 1954", 4),  # one year off still selects
        ("Showman", 5),  # a whole word of one title beats a one-letter typo of another
        ("shawshank redemtion", 7),
        ("the shawshank redemption", 7),
        ("godfather", 8),  # the full title beats the parts of others and is the most popular
        ("godfather 2", 9),
        ("The Godfather Part II", 9),
        ("se7en", 10),
        ("1917", 12),
        ("cite des enfants perdus", 16),
        ("walle", 17),
        ("wall-e", 17),
        ("amelie poulain", 18),
        ("seven 1995", 10),  # a number-word title with its year
        ("shrek 3", 19),  # ordinals are numbers too
        ("in and out", 20),  # stopwords and "&" still make an exact title
        ("thesixthsense", 21),  # without spaces, numbers are typed as spelled
        ("the 6th sense", 21),
        ("the incredibles 2", 23),  # a more popular title with another number is no typo
        ("shawshank redemption movie", 7),  # a whole title inside a longer query
        ("die hard", 26),  # "die" is German for "the", but not in this query
    ],
)
def test_tiny_catalog_matches(tiny: TitleIndex, query: str, movie_id: int) -> None:
    res = tiny.resolve(query)
    check_shape(res)
    assert res.status is MatchStatus.MATCHED, res
    assert res.movie_id == movie_id


def test_namesake_far_more_liked_is_matched_both_liked_are_asked(tiny: TitleIndex) -> None:
    titanic = tiny.resolve("titanic")  # 100 likes against 5
    assert (titanic.status, titanic.movie_id) == (MatchStatus.MATCHED, 3)
    sabrina = tiny.resolve("sabrina")  # 22 against 20: a question, most liked first
    check_shape(sabrina)
    assert sabrina.status is MatchStatus.AMBIGUOUS
    assert [c.movie_id for c in sabrina.candidates] == [30, 31]


def test_title_as_typed_needs_a_smaller_lead_than_one_reached_by_its_article(
    tiny: TitleIndex,
) -> None:
    arrival = tiny.resolve("arrival")  # Arrival (21 likes) as typed; The Arrival (9) only without
    assert (arrival.status, arrival.movie_id) == (MatchStatus.MATCHED, 32)
    the_heat = tiny.resolve("the heat")  # typed, The Heat (4) fits better than Heat (76): asked
    assert the_heat.status is MatchStatus.AMBIGUOUS
    assert {c.movie_id for c in the_heat.candidates} == {50, 51}
    assert tiny.resolve("heat").movie_id == 50


def test_exact_title_less_popular_than_parts_is_offered_not_forced(tiny: TitleIndex) -> None:
    res = tiny.resolve("lord of the rings")
    check_shape(res)
    assert res.status is MatchStatus.AMBIGUOUS
    assert res.candidates[0].movie_id == 14
    assert {c.movie_id for c in res.candidates} == {13, 14, 15}


def test_far_more_popular_title_one_typo_away_competes_with_an_exact_one(tiny: TitleIndex) -> None:
    res = tiny.resolve("inglorious bastards")  # 81 likes against 5: obvious
    check_shape(res)
    assert (res.status, res.movie_id) == (MatchStatus.MATCHED, 25)


@pytest.mark.parametrize(
    ("query", "movie_id"),
    [
        ("die hard 3", 28),  # the third Die Hard film by release order
        ("toy story 1", 34),
        ("toy story part 2", 35),  # a title that holds the number wins
        ("star wars 5", 40),  # by episode number
        ("star wars episode 1", 41),
        ("star wars 8", 42),  # after episode VII comes the next one released
        ("alien 2", 44),  # a plural is of the series, Alien Nation is not
        ("t2", 38),  # an abbreviation; T2 Trainspotting is that title but far less liked
        ("godfather ii", 9),
        ("transformers 2", 54),  # the 1986 film is older than the one called just that
    ],
)
def test_sequel_numbers_and_abbreviations(tiny: TitleIndex, query: str, movie_id: int) -> None:
    res = tiny.resolve(query)
    check_shape(res)
    assert (res.status, res.movie_id) == (MatchStatus.MATCHED, movie_id), res


@pytest.mark.parametrize(
    "query", ["die hard 7", "toy story 4", "titanic 2", "sabrina 3", "it chapter two"]
)
def test_sequel_number_beyond_the_series_is_absent(tiny: TitleIndex, query: str) -> None:
    res = tiny.resolve(query)
    check_shape(res)
    assert res.status is MatchStatus.NOT_FOUND
    assert res.absent


@pytest.mark.parametrize("query", ["0\U0001105a", "die hard \U0001105a", "toy story \u00b2"])
def test_digits_that_are_no_decimal_number_are_read_as_words(tiny: TitleIndex, query: str) -> None:
    # "𑁚" (Brahmi number) and "²" pass str.isdigit() but int() refuses them
    assert query.split()[-1].isdigit()
    check_shape(tiny.resolve(query))  # a resolution, not a ValueError


def test_series_pick_without_likes_is_offered_not_matched() -> None:
    index = TitleIndex.build(make_catalog([(r[0], r[1], 0) for r in TINY]))
    res = index.resolve("die hard 3")
    check_shape(res)
    assert res.status is MatchStatus.AMBIGUOUS
    assert res.candidates[0].movie_id == 28


def test_weak_typo_is_only_a_suggestion(tiny: TitleIndex) -> None:
    res = tiny.resolve("jwas")
    check_shape(res)
    assert res.status is MatchStatus.NOT_FOUND
    assert [c.movie_id for c in res.candidates] == [11]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "\t\n",
        "!!!",
        "🎬🍿",
        "\x00\x01",
        "\u202e\u200f",
        "qwertyuiop",
        "zzzzzz",
        "<script>alert(1)</script>",
        "'; DROP TABLE movies; --",
        "' OR '1'='1",
        "שלום עולם",
        "مرحبا",
        "%00%27",
        "&lt;b&gt;",
        "@@@@",
        "&&&&",
        "the",
        "of the",
    ],
)
def test_garbage_is_never_matched(tiny: TitleIndex, query: str) -> None:
    res = tiny.resolve(query)
    check_shape(res)
    assert res.status is MatchStatus.NOT_FOUND
    assert res.candidates == ()


def test_too_long_is_refused_with_a_message(tiny: TitleIndex) -> None:
    res = tiny.resolve("Toy Story " * 30)
    assert res.status is MatchStatus.NOT_FOUND
    assert res.error is not None
    assert str(MAX_QUERY_CHARS) in res.error
    assert tiny.resolve("x" * MAX_QUERY_CHARS).error is None


def test_empty_catalog_finds_nothing() -> None:
    index = TitleIndex.build(make_catalog([]))
    for query in ["toy story", "x", "", "titanic 1997"]:
        res = index.resolve(query)
        check_shape(res)
        assert res.status is MatchStatus.NOT_FOUND


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text(max_size=250))
def test_resolve_never_raises_and_keeps_the_contract(query: str) -> None:
    index = TitleIndex.build(make_catalog(TINY))
    res = index.resolve(query)
    check_shape(res)
    assert res.query == query


# --------------------------------------------------------------------------------------------
# ml-latest-small: the notebook's favorites, the examples, and a labelled query set


@pytest.mark.parametrize(
    ("query", "movie_id"),
    [
        ("Showman", 180985),
        ("Toystory", 1),
        ("spongebob", 8974),
        ("Lionking", 364),
        ("Sing", 167036),
        ("Up", 68954),
        ("Coco", 177765),
        ("Her", 106920),
        ("godfather 2", 1221),
        ("titanic 1953", 3404),
        ("se7en", 47),
        ("amelie", 4973),
        ("leon the professional", 293),
        ("wall e", 60069),
        ("matrix", 2571),
    ],
)
def test_must_pass_examples(small: TitleIndex, query: str, movie_id: int) -> None:
    res = small.resolve(query)
    assert res.status is MatchStatus.MATCHED, res
    assert res.movie_id == movie_id


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("star wars", 260),
        ("godzilla", 111364),  # three namesakes, none far more liked
        ("planet of the apes", 2529),  # 39 likes against 15
    ],
)
def test_too_close_to_call_is_ambiguous(small: TitleIndex, query: str, first: int) -> None:
    res = small.resolve(query)
    check_shape(res)
    assert res.status is MatchStatus.AMBIGUOUS
    assert res.candidates[0].movie_id == first


@pytest.mark.parametrize("path", [QUERIES, HOLDOUT], ids=["tuned", "holdout"])
def test_labelled_sets_name_real_movies(movielens_dir: Path, path: Path) -> None:
    catalog = load_catalog(movielens_dir / "ml-latest-small", "ml-latest-small")
    rows = load_queries(path)
    assert {expected for _q, expected, _c in rows} - {None} <= set(catalog.index)
    assert {c for _q, _e, c in rows} >= {
        "typo",
        "spacing",
        "article",
        "alternate",
        "sequel",
        "year",
        "short",
        "lowercase",
        "partial",
        "garbage",
    }


def test_labelled_queries_accuracy(small: TitleIndex) -> None:
    rows = load_queries(QUERIES)
    assert len(rows) >= 150
    correct: Counter[str] = Counter()
    total: Counter[str] = Counter()
    wrong_confident: list[str] = []
    garbage_matched: list[str] = []
    for query, expected, category in rows:
        res = small.resolve(query)
        check_shape(res)
        total[category] += 1
        if expected is None:
            correct[category] += res.status is MatchStatus.NOT_FOUND
            if res.status is MatchStatus.MATCHED:
                garbage_matched.append(query)
            continue
        correct[category] += top1(res) == expected
        if res.status is MatchStatus.MATCHED and res.movie_id != expected:
            wrong_confident.append(query)
    n = sum(total.values())
    accuracy = sum(correct.values()) / n
    print(
        f"\nlabelled queries: {n}, top-1 {accuracy:.1%}, wrong confident matches "
        f"{len(wrong_confident)} ({len(wrong_confident) / n:.1%}), garbage matched "
        f"{len(garbage_matched)}"
    )
    for category in sorted(total):
        print(f"  {category:10} {correct[category]:3}/{total[category]:3}")
    assert accuracy >= 0.97
    assert len(wrong_confident) / n <= 0.01, wrong_confident
    assert garbage_matched == []


@pytest.fixture(scope="module")
def ml_1m(movielens_dir: Path) -> TitleIndex:
    return TitleIndex.build(load_catalog(movielens_dir / "ml-1m", "ml-1m"))


@pytest.mark.parametrize("path", [QUERIES_2, HOLDOUT_2], ids=["tuned", "holdout"])
def test_second_labelled_sets_name_real_movies(movielens_dir: Path, path: Path) -> None:
    rows = load_labelled(path)
    for release in {r for _q, _e, _c, r in rows}:
        catalog = load_catalog(movielens_dir / release, release)
        ids = {e.movie_id for _q, e, _c, r in rows if r == release and e.movie_id is not None}
        assert ids <= set(catalog.index), release
    assert {c for _q, _e, c, _r in rows} >= {
        "number",
        "titlenum",
        "alias",
        "obvious",
        "namesake",
        "id",
        "absent",
        "nontitle",
        "qtitle",
    }


def test_second_labelled_set_meets_the_bars(small: TitleIndex, ml_1m: TitleIndex) -> None:
    """Sequel numbers, abbreviations, obvious titles, namesakes, ids, absent films, non-titles."""
    rows = load_labelled(QUERIES_2)
    indexes = {"ml-latest-small": small, "ml-1m": ml_1m}
    table, misses = report(rows, lambda query, release: indexes[release].resolve(query))
    print_report(table, misses)
    total: Counter[str] = Counter()
    for counts in table.values():
        total.update(counts)
    assert total["right"] / total["n"] >= 0.95, misses
    assert total["wrong_confident"] == 0, misses
    obvious = sum(table[c]["n"] for c in table if c not in ("absent", "nontitle", "namesake"))
    assert total["needless_question"] <= 0.10 * obvious, misses
    assert table["absent"]["several_match"] <= 1, misses
    assert table["absent"]["wrong_confident"] == 0, misses


@pytest.mark.parametrize(
    ("query", "movie_id"),
    [
        ("tt0111161", 318),
        ("TT0111161", 318),
        ("https://www.imdb.com/title/tt0111161/", 318),
        ("imdb.com/title/tt0068646/?ref_=fn_al_tt_1", 858),
        ("https://m.imdb.com/title/tt133093", 2571),  # ids compare as integers
        ("https://www.themoviedb.org/movie/603-the-matrix?language=en-US", 2571),
        ("tmdb:550", 2959),
        ("https://letterboxd.com/film/the-matrix/", 2571),
        ("https://letterboxd.com/film/heat-1995/", 6),
        ("https://movielens.org/movies/1", 1),
    ],
)
def test_ids_and_links_resolve_exactly(small: TitleIndex, query: str, movie_id: int) -> None:
    res = small.resolve(query)
    check_shape(res)
    assert (res.status, res.movie_id) == (MatchStatus.MATCHED, movie_id), res


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("tt7131622", "IMDb tt7131622 is not in this catalog."),
        ("https://www.themoviedb.org/movie/496243-parasite", "TMDB 496243 is not in this catalog."),
        ("https://movielens.org/movies/999999999", "MovieLens 999999999 is not in this catalog."),
        ("https://example.com/film/1", "That link is not to a film on IMDb, TMDB,"),
    ],
)
def test_an_id_the_catalog_lacks_says_so(small: TitleIndex, query: str, message: str) -> None:
    res = small.resolve(query)
    check_shape(res)
    assert res.status is MatchStatus.NOT_FOUND
    assert res.candidates == ()
    assert res.error is not None
    assert res.error.startswith(message)


def test_imdb_id_on_a_catalog_without_links_says_so(ml_1m: TitleIndex) -> None:
    res = ml_1m.resolve("tt0133093")
    assert res.status is MatchStatus.NOT_FOUND
    assert res.error == "This catalog has no IMDb ids; type the title instead."


@pytest.mark.parametrize(
    "query", ["hereditary", "tenet", "once upon a time in hollywood", "parasite 2019", "dune 2021"]
)
def test_film_not_in_the_catalog_is_absent_never_a_look_alike(
    small: TitleIndex, query: str
) -> None:
    res = small.resolve(query)
    check_shape(res)
    assert res.status is MatchStatus.NOT_FOUND
    assert res.absent
    assert res.error is None
    for cand in res.candidates:  # a year no film has is never answered with another year
        assert not query[-4:].isdigit() or query[-4:] not in cand.title


@pytest.mark.parametrize("query", ["showman", "sing", "inception"])
def test_ml_1m_ends_in_2000(ml_1m: TitleIndex, query: str) -> None:
    res = ml_1m.resolve(query)
    assert res.status is MatchStatus.NOT_FOUND
    assert res.absent
    info = ml_1m.describe()
    assert (info.movies, info.newest_year) == (3883, 2000)


def test_describe_counts_movies_and_years(tiny: TitleIndex) -> None:
    assert tiny.describe() == CatalogInfo(len(TINY), 2019, 1952)
    assert TitleIndex.build(make_catalog([])).describe() == CatalogInfo(0, None, None)


SMALL_TALK = [
    "hello",
    "Hi there!",
    "hey, what's up?",
    "thanks!",
    "thank you",
    "good morning",
    "ok",
    "bye",
    "what should I watch tonight?",
    "What can you do?",
    "can you recommend something funny",
    "any good horror movies?",
    "how does this work",
    "who are you?",
    "recommend me a movie",
    "help me find a movie",
    "i like sci-fi",
    "I'm bored",
    "so what's good",
]
TITLES = [
    "What Women Want",
    "Who Framed Roger Rabbit?",
    "What About Bob?",
    "How to Train Your Dragon",
    "Where the Wild Things Are",
    "When Harry Met Sally",
    "What Dreams May Come",
    "I, Robot",
    "I Am Legend",
    "Yes Man",
    "Hello, Dolly!",
    "Up",
    "Help!",
    "Titanic",
    "Any Given Sunday",
]


@pytest.mark.parametrize("text", SMALL_TALK)
def test_small_talk_is_recognised_and_never_resolved(small: TitleIndex, text: str) -> None:
    assert is_small_talk(text)
    assert small.is_small_talk(text)
    res = small.resolve(text)
    assert res.status is MatchStatus.NOT_FOUND
    assert res.error == "That reads as a question or a greeting, not a movie title."


@pytest.mark.parametrize("text", TITLES)
def test_titles_are_not_small_talk(text: str) -> None:
    assert not is_small_talk(text)


def test_exact_titles_are_never_small_talk_for_the_index(small: TitleIndex) -> None:
    assert not small.is_small_talk("lol")  # LOL (2012)
    assert is_small_talk("lol")
    assert small.resolve("lol").movie_id == 96975


@pytest.mark.parametrize("text", ["1999", "42 ", "2024", "123"])
def test_bare_numbers_are_titles_only_when_a_film_has_that_name(
    small: TitleIndex, text: str
) -> None:
    res = small.resolve(text)
    if text.strip() == "42":
        assert res.movie_id == 101895  # 42 (2013)
        return
    assert res.status is MatchStatus.NOT_FOUND
    assert res.error is not None
    assert "number" in res.error


def test_split_titles_lines_commas_and_semicolons() -> None:
    assert split_titles("toy story, the matrix, alien, heat") == [
        "toy story",
        "the matrix",
        "alien",
        "heat",
    ]
    assert split_titles("Toy Story\r\n\n  The Matrix ;Alien\n") == [
        "Toy Story",
        "The Matrix",
        "Alien",
    ]
    assert split_titles("Heat") == ["Heat"]
    assert split_titles("") == []
    assert split_titles(" , ;\n") == []


def test_index_split_keeps_titles_with_commas_whole(tiny: TitleIndex) -> None:
    assert tiny.split("Crouching Tiger, Hidden Dragon") == ["Crouching Tiger, Hidden Dragon"]
    assert tiny.split("good, the bad and the ugly") == ["good, the bad and the ugly"]
    assert tiny.split("jaws, crouching tiger, hidden dragon, heat") == [
        "jaws",
        "crouching tiger, hidden dragon",
        "heat",
    ]
    assert tiny.split("Titanic\nGood, the Bad and the Ugly\n\nSing") == [
        "Titanic",
        "Good, the Bad and the Ugly",
        "Sing",
    ]
    assert tiny.split("toy story, alien, heat") == ["toy story", "alien", "heat"]
    assert tiny.split("crouching tiger, hiden dragon") == ["crouching tiger, hiden dragon"]
    assert tiny.split("") == []


def test_aliases_file_parses_and_every_alias_resolves(small: TitleIndex) -> None:
    aliases = title_aliases()
    assert aliases[("lotr",)] == ("lord", "of", "the", "rings")
    assert aliases[("x", "men", "2")] == ("x2",)
    for alias, expansion in aliases.items():
        res = small.resolve(" ".join(expansion))
        assert res.status is not MatchStatus.NOT_FOUND, (alias, expansion)
    with pytest.raises(ValueError, match="line 2"):
        parse_aliases("# comment\nno tab here\n")


@pytest.mark.slow
def test_ml_32m_catalog_without_ratings(movielens_dir: Path) -> None:
    index = TitleIndex.build(load_catalog(movielens_dir / "ml-32m", "ml-32m"))
    assert len(index) == 87_585
    assert index.resolve("toystory").movie_id == 1
    assert index.resolve("godfather 2").movie_id == 1221
    assert index.resolve("asdfghjkl").status is MatchStatus.NOT_FOUND
    sing = index.resolve("sing 2016")  # two movies called Sing (2016): no popularity to decide
    assert sing.status is MatchStatus.AMBIGUOUS
    assert {c.movie_id for c in sing.candidates} >= {167036}


# --------------------------------------------------------------------------------------------
# moviebot match


def run_cli(
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    movielens_dir: Path,
    stdin: bytes | None = None,
) -> list[dict[str, object]]:
    from bot.cli import main

    monkeypatch.setenv("MOVIEBOT_MOVIELENS_DIR", str(movielens_dir))
    monkeypatch.delenv("MOVIEBOT_DATASET", raising=False)
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    assert main(["match", *argv]) == 0
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines()]


def test_cli_prints_one_json_object_per_query(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], movielens_dir: Path
) -> None:
    rows = run_cli(["Toystory", "star wars", "zzzzzz", "Léon"], monkeypatch, capsys, movielens_dir)
    assert [r["status"] for r in rows] == ["matched", "ambiguous", "not_found", "matched"]
    assert rows[0] == {
        "query": "Toystory",
        "status": "matched",
        "movie_id": 1,
        "title": "Toy Story (1995)",
        "score": 100.0,
        "candidates": [],
    }
    assert rows[1]["movie_id"] is None
    assert rows[1]["title"] is None
    assert set(rows[1]["candidates"][0]) == {"movie_id", "title", "score"}  # type: ignore[index]
    assert str(rows[3]["title"]).startswith("Léon")


def test_cli_reads_stdin_one_query_per_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], movielens_dir: Path
) -> None:
    stdin = b"Showman\nLionking\r\n\ngodfather 2\n" + b"\xff\xfe\n" + ("x" * 300).encode()
    rows = run_cli(["-"], monkeypatch, capsys, movielens_dir, stdin=stdin)
    assert [r["query"] for r in rows][:4] == ["Showman", "Lionking", "", "godfather 2"]
    assert [r["movie_id"] for r in rows][:4] == [180985, 364, None, 1221]
    assert rows[4]["status"] == "not_found"
    assert "200" in rows[5]["error"]  # type: ignore[operator]
    assert len(rows) == 6


def test_cli_accepts_ids_links_and_abbreviations(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], movielens_dir: Path
) -> None:
    queries = [
        "tt0111161",
        "https://www.themoviedb.org/movie/603-the-matrix",
        "lotr 2",
        "harry potter 2",
        "tt7131622",
        "hereditary",
    ]
    rows = run_cli(queries, monkeypatch, capsys, movielens_dir)
    assert [r["movie_id"] for r in rows] == [318, 2571, 5952, 5816, None, None]
    assert [r["status"] for r in rows[:4]] == ["matched"] * 4
    assert rows[4]["error"] == "IMDb tt7131622 is not in this catalog."
    assert rows[5] == {
        "query": "hereditary",
        "status": "not_found",
        "movie_id": None,
        "title": None,
        "score": rows[5]["score"],
        "candidates": [],
        "absent": True,
    }
    assert "absent" not in rows[0]


@pytest.mark.slow
def test_cli_works_on_a_catalog_only_release(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], movielens_dir: Path
) -> None:
    rows = run_cli(["--dataset", "ml-32m", "matrix"], monkeypatch, capsys, movielens_dir)
    assert rows[0]["movie_id"] == 2571
