"""The shortcuts of the hot paths (bench/bench_bot.py) answer exactly what the plain ways answer.

A recommendation card writes its 41 buttons' data directly, the text helpers are cached, one
python-telegram-bot handler serves every command name, and a button's data is encoded only when
it may be over Telegram's 64 bytes: each is checked here against the general machinery.
"""

from __future__ import annotations

import html
import re

import pytest

from bot import texts
from bot.service import COMMANDS, Button, Kind, MovieBot, button_data, parse_button
from bot.store import FavoritesStore
from tests.fixtures_bot import BOT_USERNAME, TelegramHarness

ALICE = 1001
GROUP = -100500


async def _card_rows(moviebot: MovieBot, arg: str = "") -> tuple[list[list[str]], str]:
    for title in ("toy story", "heat", "alien", "the godfather"):
        await moviebot.command(ALICE, "like", title)
    (reply,) = await moviebot.command(ALICE, "recommend", arg)
    return [[b.data or "" for b in row] for row in reply.buttons], reply.text


async def test_card_buttons_are_what_button_data_builds(
    moviebot: MovieBot, sqlite_store: FavoritesStore
) -> None:
    rows, _ = await _card_rows(moviebot)
    shown = await sqlite_store.shown(ALICE)
    assert shown is not None
    assert len(shown.movies) == 10
    serial = shown.serial
    expected = [
        [
            button_data(Kind.CARD_LIKE, serial, m),
            button_data(Kind.CARD_DISLIKE, serial, m),
            button_data(Kind.CARD_SEEN, serial, m),
            button_data(Kind.SIMILAR, m),
        ]
        for m in shown.movies
    ]
    assert rows == [*expected, [button_data(Kind.MORE, serial)]]
    assert rows[0][0] == f"rl:{serial}:{shown.movies[0]}"  # the format other versions parse
    assert all(parse_button(d) is not None for row in rows for d in row)


async def test_a_pressed_card_row_offers_undo_with_the_same_data(
    moviebot: MovieBot, sqlite_store: FavoritesStore
) -> None:
    rows, _ = await _card_rows(moviebot)
    shown = await sqlite_store.shown(ALICE)
    assert shown is not None
    movie = shown.movies[1]
    answer = await moviebot.button(ALICE, rows[1][1])  # 👎 on the second movie
    (card,) = answer.replies
    row = [b.data for b in card.buttons[1]]
    assert row == [
        button_data(Kind.CARD_UNDO, shown.serial, movie),
        button_data(Kind.SIMILAR, movie),
    ]
    assert [b.label for b in card.buttons[1]] == [texts.card_undo(2), texts.CARD_SIMILAR]


def _line_genres(text: str) -> list[list[str]]:
    """The genres of each numbered line of a card (after the title's " · ")."""
    found = re.findall(r"^\d+\. .*? · ([^\n]+)$", text, flags=re.MULTILINE)
    return [html.unescape(g).split(", ") for g in found]


async def test_a_filter_puts_its_genre_first_and_no_filter_keeps_the_catalog_order(
    moviebot: MovieBot, sqlite_store: FavoritesStore
) -> None:
    catalog = moviebot._rec.catalog

    async def shown_genres() -> list[list[str]]:
        shown = await sqlite_store.shown(ALICE)
        assert shown is not None
        return [
            [g for g in str(catalog.at[m, "genres"]).split("|") if not g.startswith("(")]
            for m in shown.movies
        ]

    _, text = await _card_rows(moviebot, "comedy")
    genres = await shown_genres()
    assert any(g[0] != "Comedy" for g in genres)  # the catalog does not always name it first
    comedy_first = [sorted(g, key=lambda x: x != "Comedy")[:3] for g in genres]
    assert _line_genres(text) == comedy_first
    assert all(g[0] == "Comedy" for g in comedy_first)

    _, text = await _card_rows(moviebot)
    assert _line_genres(text) == [g[:3] for g in await shown_genres()]


def test_cached_escaping_depends_on_every_argument() -> None:
    assert texts.esc("Amélie & <Nino>", 300) == "Amélie &amp; &lt;Nino&gt;"
    assert texts.esc("Amélie & <Nino>", 7) == "Amélie…"
    assert texts.esc("Amélie & <Nino>") == "Amélie &amp; &lt;Nino&gt;"
    assert texts.link("Heat", None) == "Heat"
    url = "https://example.org/?a=1&b=<2>"
    assert texts.link("Heat", url) == '<a href="https://example.org/?a=1&amp;b=&lt;2&gt;">Heat</a>'
    assert texts.link("Heat & Dust", url, 4) == f'<a href="{html.escape(url)}">Hea…</a>'


@pytest.mark.parametrize(
    ("data", "fits"),
    [
        ("a" * 64, True),
        ("a" * 65, False),
        ("🎬" * 16, True),  # 16 characters, 64 bytes: the longest never encoded to count
        ("é" * 17, True),  # 34 bytes
        ("é" * 33, False),  # 33 characters, 66 bytes
        ("like:" + "🎬" * 15, False),  # 20 characters, 65 bytes
    ],
)
def test_button_data_is_limited_in_bytes(data: str, fits: bool) -> None:
    if fits:
        assert Button("x", data=data).data == data
    else:
        with pytest.raises(ValueError, match="over 64 bytes"):
            Button("x", data=data)


async def test_every_command_name_is_handled_with_and_without_the_bot_name(
    telegram: TelegramHarness,
) -> None:
    names = [name for command in COMMANDS for name in (command.name, *command.aliases)]
    assert len(names) > len(COMMANDS)
    for name in names:
        for chat, text in ((ALICE, f"/{name}"), (GROUP, f"/{name}@{BOT_USERNAME}")):
            calls = await telegram.send(chat, text)
            sent = [c for c in calls if c.endpoint in ("sendMessage", "sendDocument")]
            assert sent, text
            assert all("I don't know the command" not in c.text for c in sent), text
        assert await telegram.send(GROUP, f"/{name}@OtherBot") == []
