"""A recommendation card built cheaply says exactly what the plain way says.

``bot.texts.fit_lines`` skips measuring each line when even two UTF-16 units per character would
fit; ``bot.texts.card_line`` caches a movie's title and genres and a reason's text;
``bot.service._said`` reads what a chat said about the shown movies in one pass per list. Each
is checked against the plain algorithm it replaces.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import pytest

from bot import texts
from bot.service import _said
from bot.store import ChatState

ASTRAL = "🎬"  # two UTF-16 units: where characters and Telegram's length differ


def plain_fit_lines(head: str, lines: Sequence[str], *, tail: str = "", limit: int) -> str:
    """What ``fit_lines`` promises, said another way: the longest run of whole lines that fits."""
    budget = limit - texts.utf16_len(head) - texts.utf16_len(tail) - 40
    used = itertools.accumulate(texts.utf16_len(line) + 1 for line in lines)
    kept = next((i for i, total in enumerate(used) if total > budget), len(lines))
    body = list(lines[:kept])
    if kept < len(lines):
        body.append(f"<i>…and {len(lines) - kept} more.</i>")
    text = "\n".join(([head] if head else []) + body)
    return f"{text}\n\n{tail}" if tail else text


@pytest.mark.parametrize("seed", range(40))
def test_fit_lines_keeps_what_measuring_every_line_keeps(seed: int) -> None:
    pick = random.Random(seed)
    alphabet = ["a", "é", " ", "<", ASTRAL, "·"]
    lines = [
        "".join(pick.choice(alphabet) for _ in range(pick.randint(0, 90)))
        for _ in range(pick.randint(0, 14))
    ]
    head = pick.choice(["", "<b>10 movies for you</b>", ASTRAL * 7])
    tail = pick.choice(["", "<i>👍 like · 👎 not for me</i>"])
    total = sum(texts.utf16_len(line) + 1 for line in lines) + len(head) * 2 + len(tail) * 2 + 40
    for limit in {total // 2, total - 3, total, total + 1, 2 * total, 4096}:
        fitted = texts.fit_lines(head, lines, tail=tail, limit=limit)
        assert fitted == plain_fit_lines(head, lines, tail=tail, limit=limit), (seed, limit)


def test_fit_lines_at_the_exact_budget() -> None:
    # 2 x 10 + 1 = 21 units at most, budget 61 - 40 = 21: kept whole without measuring ...
    assert texts.fit_lines("", ["a" * 10], limit=61) == "a" * 10
    # ... and five astral characters (10 units + 1) fit a budget of 11, measured.
    assert texts.fit_lines("", [ASTRAL * 5], limit=51) == ASTRAL * 5
    assert texts.fit_lines("", [ASTRAL * 5], limit=50) == "<i>…and 1 more.</i>"


def plain_card_line(number: int, item: texts.CardLine) -> str:
    """``card_line`` as it was, without its caches."""
    line = f"{number}. {texts.link(texts.display_title(item.title), item.url, 120)}"
    if item.genres:
        line += f" · {texts.esc(', '.join(item.genres[:3]), 60)}"
    if item.mark:
        line += f"\n    <i>{texts.MARK_WORDS.get(item.mark, item.mark)}</i>"
    elif item.because:
        line += f"\n    <i>because you liked {texts.liked_list(item.because)}</i>"
    return line


@pytest.mark.parametrize(
    "item",
    [
        texts.CardLine("Matrix, The (1999)", "https://x/603", ("Action", "Sci-Fi"), (), None),
        texts.CardLine("Amélie (2001)", None, (), ("Toy Story (1995)",), None),
        texts.CardLine(
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            "https://x/902?a=1&b=<2>",
            ("Adventure", "Drama", "Fantasy", "Mystery"),
            ("Godfather, The (1972)", "Fight Club (1999)", "Heat (1995)"),
            None,
        ),
        texts.CardLine("Heat (1995)", None, ("Crime",), ("Se7en (1995)",), "dislike"),
        texts.CardLine("Heat (1995)", None, ("Crime",), (), "seen"),
        texts.CardLine("<b>Bold</b> & co (2020)", None, ("A" * 80,), ("x" * 90,), None),
    ],
)
def test_card_line_says_what_it_said_uncached(item: texts.CardLine) -> None:
    for number in (1, 10, 100):
        assert texts.card_line(number, item) == plain_card_line(number, item)
        assert texts.card_line(number, item) == plain_card_line(number, item)  # from the cache


def plain_said(movies: Sequence[int], state: ChatState) -> list[str | None]:
    """The choice per movie as it was: a favorite, else its mark."""
    favorites = set(state.favorites)
    said: list[str | None] = []
    for movie in movies:
        mark = state.mark_of(movie)
        said.append("like" if movie in favorites else None if mark is None else str(mark))
    return said


@pytest.mark.parametrize("seed", range(30))
def test_said_is_the_favorite_else_the_mark(seed: int) -> None:
    pick = random.Random(seed)
    universe = range(1, 40)
    state = ChatState(
        tuple(pick.sample(universe, pick.randint(0, 15))),
        tuple(pick.sample(universe, pick.randint(0, 15))),  # overlaps: the favorite wins
        tuple(pick.sample(universe, pick.randint(0, 15))),
    )
    movies = pick.sample(universe, 10)
    said = _said(movies, state)
    assert said == plain_said(movies, state)
    assert all(s is None or type(s) is str for s in said)
