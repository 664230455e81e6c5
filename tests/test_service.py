"""MovieBot: the conversation logic, on small fakes (exact answers) and a real SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import texts
from bot.ratelimit import FloodLimiter
from bot.service import (
    Action,
    Button,
    ButtonAnswer,
    Kind,
    MovieBot,
    Reply,
    button_data,
    menu,
    parse_button,
)
from bot.steering import GenreNames, parse_request
from bot.store import FavoritesStore, StoreFault, StoreUnavailable
from recsys.engine import Filters
from tests.emulator import render_text
from tests.fixtures_bot import FAKE_TITLES, LONG_TITLE, FakeRecommender, FakeTitles

CHAT = 501


def check(replies: Sequence[Reply]) -> None:
    """Every reply is valid Telegram HTML within the limits, with valid button data."""
    for reply in replies:
        plain, _ = render_text(reply.text, "HTML", None)
        assert len(plain) <= 4096
        assert texts.utf16_len(reply.text) <= 4096
        for row in reply.buttons:
            for button in row:
                assert button.label.strip()
                if button.data is not None:
                    assert 1 <= len(button.data.encode()) <= 64
                    assert parse_button(button.data) is not None


def data_of(reply: Reply) -> list[str]:
    return [b.data for row in reply.buttons for b in row if b.data]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FavoritesStore]:
    opened = await FavoritesStore.open(f"sqlite+aiosqlite:///{tmp_path / 'fav.sqlite3'}", limit=3)
    yield opened
    await opened.close()


@pytest.fixture
def bot(store: FavoritesStore) -> MovieBot:
    return MovieBot(FakeRecommender(), FakeTitles(), store, favorites_limit=3, page_size=2)


async def ask(bot: MovieBot, name: str, arg: str = "", **kw: Any) -> Reply:
    replies = await bot.command(CHAT, name, arg, **kw)
    check(replies)
    assert len(replies) == 1
    return replies[0]


async def press(bot: MovieBot, data: str, **kw: Any) -> ButtonAnswer:
    answer = await bot.button(CHAT, data, **kw)
    check(answer.replies)
    if answer.notice is not None:
        assert len(answer.notice) <= 200
    return answer


# ---------------------------------------------------------------------------------------------
# /like


async def test_like_matched_adds_with_full_title(bot: MovieBot, store: FavoritesStore) -> None:
    reply = await ask(bot, "like", "toy story")
    assert "Toy Story (1995)" in reply.text
    assert "Added" in reply.text
    assert await store.favorites(CHAT) == [1]
    assert data_of(reply) == ["sim:1", "un:1"]


async def test_like_twice_says_already(bot: MovieBot, store: FavoritesStore) -> None:
    await ask(bot, "like", "toy story")
    reply = await ask(bot, "like", "toy story")
    assert "already" in reply.text
    assert await store.favorites(CHAT) == [1]


async def test_like_ambiguous_offers_candidates_and_adds_nothing(
    bot: MovieBot, store: FavoritesStore
) -> None:
    reply = await ask(bot, "like", "alien")
    assert "Which one" in reply.text
    assert data_of(reply) == ["like:5", "like:6"]
    assert [b.label for row in reply.buttons for b in row] == [
        "👍 Alien (1979)",
        "👍 Aliens (1986)",
    ]
    assert await store.favorites(CHAT) == []
    answer = await press(bot, "like:6")
    assert await store.favorites(CHAT) == [6]
    assert "Aliens (1986)" in answer.replies[0].text


async def test_like_not_found_with_suggestions(bot: MovieBot, store: FavoritesStore) -> None:
    reply = await ask(bot, "like", "toi stori")
    assert "Close in spelling:" in reply.text
    assert data_of(reply) == ["like:1", "like:2"]
    assert await store.favorites(CHAT) == []


async def test_like_not_found_without_suggestions(bot: MovieBot, store: FavoritesStore) -> None:
    reply = await ask(bot, "like", "zzz <script>")
    assert "couldn't find" in reply.text
    assert "&lt;script&gt;" in reply.text
    assert reply.buttons == ()
    assert await store.favorites(CHAT) == []


async def test_like_without_title_shows_usage(bot: MovieBot) -> None:
    reply = await ask(bot, "like", "   ")
    assert reply.text.startswith("Usage: /like &lt;title&gt;")


async def test_like_too_long_shows_resolver_message(bot: MovieBot) -> None:
    reply = await ask(bot, "like", "x" * 5000)
    assert "too long" in reply.text
    assert len(reply.text) < 400


async def test_titles_are_html_escaped(bot: MovieBot) -> None:
    reply = await ask(bot, "like", "evil")
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; Sons &lt;i&gt;(2001)" in reply.text
    assert "<b>Evil" not in reply.text


async def test_full_list_is_refused_clearly(bot: MovieBot, store: FavoritesStore) -> None:
    for title in ("toy story", "matrix", "heat"):
        await ask(bot, "like", title)
    reply = await ask(bot, "like", "jaws")
    assert "full" in reply.text
    assert "3" in reply.text
    assert await store.favorites(CHAT) == [1, 3, 9]


# ---------------------------------------------------------------------------------------------
# /unlike and /favorites


async def test_unlike(bot: MovieBot, store: FavoritesStore) -> None:
    await ask(bot, "like", "toy story")
    reply = await ask(bot, "unlike", "toy story")
    assert "Removed" in reply.text
    assert "Toy Story (1995)" in reply.text
    assert await store.favorites(CHAT) == []
    again = await ask(bot, "unlike", "toy story")
    assert "not in your favorites" in again.text
    assert (await ask(bot, "unlike")).text.startswith("Usage: /unlike")


async def test_unlike_ambiguous_picks_the_favorite(bot: MovieBot, store: FavoritesStore) -> None:
    await ask(bot, "like", "toy story 2")
    reply = await ask(bot, "unlike", "toy")
    assert "Removed" in reply.text
    assert "Toy Story 2 (1999)" in reply.text
    assert await store.favorites(CHAT) == []


async def test_favorites_empty_and_listed_with_remove_buttons(
    bot: MovieBot, store: FavoritesStore
) -> None:
    assert "empty" in (await ask(bot, "favorites")).text
    for title in ("toy story", "matrix", "heat"):
        await ask(bot, "like", title)
    page = await ask(bot, "favorites")
    assert "Toy Story (1995)" in page.text
    assert "Matrix, The (1999)" in page.text
    assert "Heat" not in page.text  # page size 2
    assert data_of(page) == ["un:1:0", "un:3:0", "fav:1"]
    second = await press(bot, "fav:1")
    assert second.replies[0].edit
    assert "Heat (1995)" in second.replies[0].text
    assert data_of(second.replies[0]) == ["un:9:1", "fav:0"]


async def test_remove_button_on_favorites_page_refreshes_it(
    bot: MovieBot, store: FavoritesStore
) -> None:
    for title in ("toy story", "matrix"):
        await ask(bot, "like", title)
    answer = await press(bot, "un:1:0")
    assert answer.notice == "Removed Toy Story (1995)"
    assert answer.replies[0].edit
    assert data_of(answer.replies[0]) == ["un:3:0"]
    assert await store.favorites(CHAT) == [3]
    stale = await press(bot, "un:1:0")  # the same button again
    assert "already removed" in (stale.notice or "")
    assert await store.favorites(CHAT) == [3]


# ---------------------------------------------------------------------------------------------
# /recommend, /similar, /why


async def test_recommend_without_favorites_says_popular(bot: MovieBot) -> None:
    reply = await ask(bot, "recommend")
    assert "most popular" in reply.text
    assert "because" not in reply.text


async def test_recommend_gives_reasons_links_and_buttons(bot: MovieBot) -> None:
    await ask(bot, "like", "toy story")
    await ask(bot, "like", "obscure")
    reply = await ask(bot, "recommend")
    assert reply.text.count("because you liked Toy Story") == 10
    assert 'href="https://www.imdb.com/title/tt0100003/"' in reply.text  # movie 3 has an IMDb id
    assert 'href="https://movielens.org/movies/2"' in reply.text  # movie 2 has none
    assert "I know too little about Obscure (2010)" in reply.text
    assert "The Matrix (1999)</a> · Action, Sci-Fi" in reply.text  # article in front, genres
    data = data_of(reply)
    assert len(data) == 41  # 👍 👎 👁 🔎 per movie, and More
    assert {"rl:1:2", "rn:1:2", "rs:1:2", "sim:2"} <= set(data)
    assert data[-1] == "more:1"
    assert not any(d.endswith(":1") and d.startswith(("rl", "rn", "rs")) for d in data)


async def test_similar(bot: MovieBot) -> None:
    reply = await ask(bot, "similar", "matrix")
    assert "similar to Matrix, The (1999)" in reply.text
    assert '1. <a href="https://www.imdb.com/title/tt0100001/">Toy Story (1995)</a>' in reply.text
    assert "sim:3" not in data_of(reply)
    unknown = await ask(bot, "similar", "obscure")
    assert "too little" in unknown.text
    ambiguous = await ask(bot, "similar", "alien")
    assert data_of(ambiguous) == ["sim:5", "sim:6"]
    assert (await ask(bot, "similar")).text.startswith("Usage: /similar")


async def test_why(bot: MovieBot) -> None:
    assert "need some of your favorites" in (await ask(bot, "why", "matrix")).text
    await ask(bot, "like", "toy story")
    await ask(bot, "like", "heat")
    await ask(bot, "like", "jaws")
    reply = await ask(bot, "why", "matrix")
    assert "#2 of 13" in reply.text
    assert "top 16%" in reply.text
    assert "Toy Story (1995) (78%)" in reply.text  # 0.7 of the 0.9 that pushes up
    assert "Heat (1995) (22%)" in reply.text
    assert "pull it down:\n• Jaws (1975)" in reply.text
    assert "too little" in (await ask(bot, "why", "obscure")).text
    own = await ask(bot, "why", "toy story")
    assert "one of your favorites" in own.text
    assert "• Toy Story" not in own.text  # a favorite never explains itself
    assert "• Heat (1995)" in own.text


async def test_why_with_only_unknown_favorites(bot: MovieBot) -> None:
    await ask(bot, "like", "obscure")
    reply = await ask(bot, "why", "matrix")
    assert "can't tell yet" in reply.text
    assert "I know too little about Obscure (2010)" in reply.text


# ---------------------------------------------------------------------------------------------
# /reset


async def test_reset_asks_then_empties(bot: MovieBot, store: FavoritesStore) -> None:
    assert "already empty" in (await ask(bot, "reset")).text
    await ask(bot, "like", "toy story")
    await ask(bot, "like", "matrix")
    confirm = await ask(bot, "reset")
    assert "Remove all 2 movies" in confirm.text
    assert data_of(confirm) == ["reset:yes:2", "reset:no"]
    kept = await press(bot, "reset:no")
    assert "stay" in kept.replies[0].text
    assert await store.favorites(CHAT) == [1, 3]
    done = await press(bot, "reset:yes:2")
    assert "removed 2 movies" in done.replies[0].text
    assert done.replies[0].edit
    assert await store.favorites(CHAT) == []


# ---------------------------------------------------------------------------------------------
# Buttons: strict parsing


@pytest.mark.parametrize(
    "data",
    [
        "like:99999",
        "like:0",
        "like:007",
        "like:-1",
        "like:abc",
        "like:",
        "like:1:2",
        "sim:1:0",
        "un:1:99999",
        "reset:maybe",
        "reset:YES",
        "fav:x",
        "drop table",
        "",
        "like:1 ",
        " like:1",
        "like:1\n",
        "x" * 65,
        "like:" + "9" * 30,
    ],
)
async def test_forged_buttons_expire_politely(
    bot: MovieBot, store: FavoritesStore, data: str
) -> None:
    answer = await press(bot, data)
    assert answer.replies[0].text == texts.expired()
    assert answer.notice == texts.notice_expired()
    assert await store.favorites(CHAT) == []


@given(st.text(max_size=100))
def test_parse_button_never_raises(data: str) -> None:
    action = parse_button(data)
    if action is not None:
        assert data.startswith(action.kind)


@pytest.mark.parametrize(
    ("data", "action"),
    [
        ("like:2571", Action(Kind.LIKE, movie_id=2571)),
        ("un:2571", Action(Kind.UNLIKE, movie_id=2571)),
        ("un:2571:3", Action(Kind.UNLIKE, movie_id=2571, page=3)),
        ("sim:1", Action(Kind.SIMILAR, movie_id=1)),
        ("why:1", Action(Kind.WHY, movie_id=1)),
        ("fav:2", Action(Kind.PAGE, page=2)),
        ("reset:yes", Action(Kind.RESET, confirm=True)),
        ("reset:yes:3", Action(Kind.RESET, confirm=True, count=3)),
        ("reset:no", Action(Kind.RESET, confirm=False)),
    ],
)
def test_parse_button_round_trip(data: str, action: Action) -> None:
    assert parse_button(data) == action


def test_button_rejects_oversized_data() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        Button("x", data="like:" + "1" * 60)
    assert button_data("un", 5, 2) == "un:5:2"


# ---------------------------------------------------------------------------------------------
# Plain text, unknown commands


async def test_plain_text_offers_to_like(bot: MovieBot, store: FavoritesStore) -> None:
    replies = await bot.text(CHAT, "  matrix ")
    check(replies)
    assert "Did you mean <b>Matrix, The (1999)</b>" in replies[0].text
    assert data_of(replies[0]) == ["like:3", "sim:3"]
    assert await store.favorites(CHAT) == []
    nothing = await bot.text(CHAT, "qwertyuiop")
    assert "couldn't find" in nothing[0].text


async def test_unknown_command(bot: MovieBot) -> None:
    reply = await ask(bot, "frobnicate<b>")
    assert "/frobnicate&lt;b&gt;" in reply.text


async def test_start_and_help(bot: MovieBot) -> None:
    assert "/like toy story" in (await ask(bot, "start")).text
    help_text = (await ask(bot, "help")).text
    for name, _ in menu():
        assert f"/{name}" in help_text or name in ("start", "help")


# ---------------------------------------------------------------------------------------------
# Long texts


async def test_long_titles_stay_within_limits(tmp_path: Path) -> None:
    store = await FavoritesStore.open(f"sqlite+aiosqlite:///{tmp_path / 'f.sqlite3'}")
    try:
        bot = MovieBot(FakeRecommender(), FakeTitles(), store, page_size=50)
        for movie in FAKE_TITLES:
            await store.add(CHAT, movie)
        page = (await bot.command(CHAT, "favorites"))[0]
        assert LONG_TITLE[:100] in page.text
        assert LONG_TITLE not in page.text  # clipped with an ellipsis
        for name, arg in (
            ("favorites", ""),
            ("recommend", ""),
            ("similar", "long"),
            ("why", "long"),
            ("like", "long"),
            ("unlike", "long"),
        ):
            check(await bot.command(CHAT, name, arg))
    finally:
        await store.close()


def test_fit_lines_cuts_whole_lines_and_counts_the_rest() -> None:
    lines = [f"{i}. " + "é" * 100 for i in range(100)]
    text = texts.fit_lines("<b>Head</b>", lines, tail="tail")
    assert texts.utf16_len(text) <= 4096
    kept = sum(1 for line in lines if line in text)
    assert 30 < kept < 100
    assert f"…and {100 - kept} more." in text
    assert text.endswith("tail")


# ---------------------------------------------------------------------------------------------
# Store trouble, update ids, flood limit, per-chat order


class DeadStore:
    """Every call fails the way an unreachable database does."""

    async def add(self, *a: Any, **k: Any) -> Any:
        raise StoreUnavailable("down")

    remove = clear = mark = unmark = save_shown = add_many = add_counted = make_shown = add

    async def favorites(self, chat_id: int) -> list[int]:
        raise StoreUnavailable("down")

    state = shown = favorites


@pytest.mark.parametrize(
    ("name", "arg"),
    [
        ("like", "toy story"),
        ("unlike", "matrix"),
        ("favorites", ""),
        ("recommend", ""),
        ("why", "matrix"),
        ("reset", ""),
    ],
)
async def test_store_unavailable_is_said_briefly(name: str, arg: str) -> None:
    bot = MovieBot(FakeRecommender(), FakeTitles(), DeadStore())  # type: ignore[arg-type]
    replies = await bot.command(CHAT, name, arg)
    assert replies == (Reply(texts.unavailable()),)
    answer = await bot.button(CHAT, "like:1")
    assert answer.replies == (Reply(texts.unavailable()),)
    # commands that need no store still work
    assert "similar to" in (await bot.command(CHAT, "similar", "matrix"))[0].text


async def test_a_change_the_store_cannot_keep_is_said_so() -> None:
    class FaultyStore(DeadStore):
        async def add(self, *a: Any, **k: Any) -> Any:
            raise StoreFault("disk full at /data: free space", lost=False)

        add_counted = add

    bot = MovieBot(FakeRecommender(), FakeTitles(), FaultyStore())  # type: ignore[arg-type]
    replies = await bot.command(CHAT, "like", "toy story")
    assert replies == (Reply(texts.cannot_save()),)
    assert "Added" not in replies[0].text


class RecordingStore:
    """Wraps a store, recording update ids and how many calls of one chat overlap."""

    def __init__(self, inner: FavoritesStore) -> None:
        self.inner = inner
        self.update_ids: list[tuple[str, int | None]] = []
        self.active: dict[int, int] = {}
        self.max_active: dict[int, int] = {}
        self.max_total = 0

    async def _enter(self, chat_id: int) -> None:
        self.active[chat_id] = self.active.get(chat_id, 0) + 1
        self.max_active[chat_id] = max(self.max_active.get(chat_id, 0), self.active[chat_id])
        self.max_total = max(self.max_total, sum(self.active.values()))
        await asyncio.sleep(0.01)

    def _leave(self, chat_id: int) -> None:
        self.active[chat_id] -= 1

    async def add(self, chat_id: int, movie_id: int, *, update_id: int | None = None) -> Any:
        return (await self.add_counted(chat_id, movie_id, update_id=update_id))[0]

    async def add_counted(
        self, chat_id: int, movie_id: int, *, update_id: int | None = None
    ) -> Any:
        self.update_ids.append(("add", update_id))
        await self._enter(chat_id)
        try:
            return await self.inner.add_counted(chat_id, movie_id, update_id=update_id)
        finally:
            self._leave(chat_id)

    async def add_many(self, chat_id: int, movie_ids: Any, *, update_id: Any = None) -> Any:
        self.update_ids.append(("add_many", update_id))
        return await self.inner.add_many(chat_id, movie_ids, update_id=update_id)

    async def remove(self, chat_id: int, movie_id: int, *, update_id: int | None = None) -> bool:
        self.update_ids.append(("remove", update_id))
        return await self.inner.remove(chat_id, movie_id, update_id=update_id)

    async def clear(
        self, chat_id: int, *, update_id: int | None = None, expected: int | None = None
    ) -> int:
        self.update_ids.append(("clear", update_id))
        return await self.inner.clear(chat_id, update_id=update_id, expected=expected)

    async def outcome(self, update_id: int) -> int | None:
        return await self.inner.outcome(update_id)

    async def favorites(self, chat_id: int) -> list[int]:
        return await self.inner.favorites(chat_id)

    async def state(self, chat_id: int) -> Any:
        return await self.inner.state(chat_id)

    async def shown(self, chat_id: int) -> Any:
        return await self.inner.shown(chat_id)

    async def mark(self, chat_id: int, movie_id: int, kind: Any, *, update_id: Any = None) -> Any:
        self.update_ids.append(("mark", update_id))
        return await self.inner.mark(chat_id, movie_id, kind, update_id=update_id)

    async def unmark(self, chat_id: int, movie_id: int, *, update_id: Any = None) -> Any:
        self.update_ids.append(("unmark", update_id))
        return await self.inner.unmark(chat_id, movie_id, update_id=update_id)

    async def save_shown(self, chat_id: int, shown: Any, *, update_id: Any = None) -> Any:
        self.update_ids.append(("save_shown", update_id))
        return await self.inner.save_shown(chat_id, shown, update_id=update_id)

    async def make_shown(self, chat_id: int, make: Any, *, update_id: Any = None) -> Any:
        self.update_ids.append(("save_shown", update_id))
        return await self.inner.make_shown(chat_id, make, update_id=update_id)


async def test_update_ids_reach_the_store(store: FavoritesStore) -> None:
    recording = RecordingStore(store)
    bot = MovieBot(FakeRecommender(), FakeTitles(), recording)  # type: ignore[arg-type]
    await bot.command(CHAT, "like", "toy story", update_id=11)
    await bot.command(CHAT, "unlike", "toy story", update_id=12)
    await bot.button(CHAT, "like:3", update_id=13)
    await bot.button(CHAT, "un:3:0", update_id=14)
    await bot.button(CHAT, "like:3", update_id=15)
    await bot.button(CHAT, "reset:yes:1", update_id=16)
    await bot.command(CHAT, "dislike", "heat", update_id=17)
    await bot.button(CHAT, "um:9", update_id=18)
    await bot.command(CHAT, "recommend", "", update_id=19)
    await bot.button(CHAT, "rs:1:2", update_id=20)
    await bot.button(CHAT, "ru:1:2", update_id=21)
    await bot.button(CHAT, "more:1", update_id=22)
    await bot.command(CHAT, "like", "fargo, up", update_id=23)
    assert recording.update_ids == [
        ("add", 11),
        ("remove", 12),
        ("add", 13),
        ("remove", 14),
        ("add", 15),
        ("clear", 16),
        ("mark", 17),
        ("unmark", 18),
        ("save_shown", 19),
        ("mark", 20),
        ("unmark", 21),
        ("save_shown", 22),
        ("add_many", 23),
    ]


async def test_redelivered_update_is_applied_once(bot: MovieBot, store: FavoritesStore) -> None:
    await bot.command(CHAT, "like", "toy story", update_id=21)
    await bot.command(CHAT, "unlike", "toy story", update_id=22)
    await bot.command(CHAT, "like", "toy story", update_id=21)  # redelivered after a restart
    assert await store.favorites(CHAT) == []


async def test_one_chat_is_serialised_while_chats_run_concurrently(tmp_path: Path) -> None:
    inner = await FavoritesStore.open(f"sqlite+aiosqlite:///{tmp_path / 'c.sqlite3'}")
    try:
        recording = RecordingStore(inner)
        bot = MovieBot(FakeRecommender(), FakeTitles(), recording)  # type: ignore[arg-type]
        titles = ["toy story", "matrix", "heat", "up", "jaws"]
        await asyncio.gather(*(bot.command(chat, "like", t) for chat in (1, 2, 3) for t in titles))
        assert all(v == 1 for v in recording.max_active.values())
        assert recording.max_total > 1
        for chat in (1, 2, 3):
            assert sorted(await inner.favorites(chat)) == [1, 3, 9, 10, 11]
    finally:
        await inner.close()


async def test_flood_limit_replies_once_then_stays_silent(store: FavoritesStore) -> None:
    now = [0.0]
    limiter = FloodLimiter(5, 10.0, clock=lambda: now[0])
    bot = MovieBot(FakeRecommender(), FakeTitles(), store, limiter=limiter)
    answers = [await bot.command(CHAT, "help") for _ in range(8)]
    assert all(len(a) == 1 and "What I can do" in a[0].text for a in answers[:5])
    assert answers[5] == (Reply(texts.flood()),)
    assert answers[6] == ()
    assert answers[7] == ()
    assert (await bot.button(CHAT, "like:1")).replies == ()
    assert await bot.command(CHAT + 1, "help")  # another chat is not limited
    now[0] = 2.5  # a refill of one token per 2 s
    assert "What I can do" in (await bot.command(CHAT, "help"))[0].text
    assert (await bot.command(CHAT, "help")) == (Reply(texts.flood()),)  # a new flood: once more


# ---------------------------------------------------------------------------------------------
# Any input, on the real title index and model: valid replies, and never a phantom favorite


class MemoryStore:
    """The store contract in memory (records every id it is given)."""

    def __init__(self) -> None:
        self.lists: dict[int, list[int]] = {}
        self.seen: set[int] = set()
        self.marks: dict[int, dict[int, Any]] = {}
        self.shown_lists: dict[int, Any] = {}

    async def add(self, chat_id: int, movie_id: int, *, update_id: int | None = None) -> Any:
        from bot.store import AddOutcome

        self.seen.add(movie_id)
        items = self.lists.setdefault(chat_id, [])
        if movie_id in items:
            return AddOutcome.ALREADY
        items.append(movie_id)
        return AddOutcome.ADDED

    async def add_counted(
        self, chat_id: int, movie_id: int, *, update_id: int | None = None
    ) -> Any:
        return await self.add(chat_id, movie_id), None  # the service then reads the list

    async def add_many(self, chat_id: int, movie_ids: Any, *, update_id: Any = None) -> Any:
        return tuple([await self.add(chat_id, m) for m in movie_ids])

    async def remove(self, chat_id: int, movie_id: int, *, update_id: int | None = None) -> bool:
        self.seen.add(movie_id)
        items = self.lists.setdefault(chat_id, [])
        if movie_id in items:
            items.remove(movie_id)
            return True
        return False

    async def favorites(self, chat_id: int) -> list[int]:
        return list(self.lists.get(chat_id, []))

    async def clear(
        self, chat_id: int, *, update_id: int | None = None, expected: int | None = None
    ) -> int:
        if expected is not None and len(self.lists.get(chat_id, [])) != expected:
            return -1
        return len(self.lists.pop(chat_id, []))

    async def outcome(self, update_id: int) -> int | None:
        return None  # keeps no update ids

    async def mark(self, chat_id: int, movie_id: int, kind: Any, *, update_id: Any = None) -> Any:
        from bot.store import AddOutcome

        self.seen.add(movie_id)
        self.marks.setdefault(chat_id, {})[movie_id] = kind
        return AddOutcome.ADDED

    async def unmark(self, chat_id: int, movie_id: int, *, update_id: Any = None) -> bool:
        self.seen.add(movie_id)
        return self.marks.setdefault(chat_id, {}).pop(movie_id, None) is not None

    async def state(self, chat_id: int) -> Any:
        from bot.store import ChatState, Mark

        marks = self.marks.get(chat_id, {})
        return ChatState(
            tuple(self.lists.get(chat_id, [])),
            tuple(m for m, k in marks.items() if k == Mark.DISLIKE),
            tuple(m for m, k in marks.items() if k == Mark.SEEN),
        )

    async def save_shown(self, chat_id: int, shown: Any, *, update_id: Any = None) -> int:
        from dataclasses import replace

        self.seen.update(shown.movies)
        old = self.shown_lists.get(chat_id)
        serial = shown.serial or (old.serial + 1 if old else 1)
        self.shown_lists[chat_id] = replace(shown, serial=serial)
        return serial

    async def make_shown(self, chat_id: int, make: Any, *, update_id: Any = None) -> Any:
        from dataclasses import replace

        state = await self.state(chat_id)
        shown = make(state)
        if shown is None:
            return None
        serial = await self.save_shown(chat_id, shown)
        return state, replace(shown, serial=serial), serial

    async def shown(self, chat_id: int) -> Any:
        return self.shown_lists.get(chat_id)


anything = st.text(max_size=300) | st.sampled_from(
    ["toy story", "matrix", "<b>", "&amp;", "king kong", "x" * 4096, "🎬", "\u0000", "  "]
)
button_like = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda k, n: f"{k}:{n}",
        st.sampled_from(["like", "un", "sim", "why", "fav", "no", "seen", "um", "more"]),
        st.integers(-5, 10**12),
    ),
    st.builds(
        lambda k, a, b: f"{k}:{a}:{b}",
        st.sampled_from(["rl", "rn", "rs", "ru", "un", "more"]),
        st.integers(-5, 10**11),
        st.integers(-5, 10**11) | st.sampled_from([1, 2571, 318]),
    ),
    st.sampled_from(
        ["reset:yes", "reset:no", "like:1", "un:1:0", "fav:0", "rl:1:1", "rn:1:2571", "more:1"]
    ),
)


@settings(max_examples=40, deadline=None)
@given(
    command=st.sampled_from(
        [
            "like",
            "unlike",
            "similar",
            "why",
            "favorites",
            "recommend",
            "reset",
            "start",
            "nonsense",
            "dislike",
            "seen",
            "fav",
            "rec",
        ]
    ),
    arg=anything
    | st.sampled_from(["comedy 90s", "-horror gems", "1999-1990", "dislikes", "seen", "2", "0"]),
    text=anything,
    data=button_like,
)
def test_any_input_gives_valid_replies_and_no_phantoms(
    recommender: Any, title_index: Any, command: str, arg: str, text: str, data: str
) -> None:
    store = MemoryStore()
    bot = MovieBot(recommender, title_index, store)  # type: ignore[arg-type]

    async def talk() -> None:
        await bot.command(CHAT, "like", "toy story")
        check(await bot.command(CHAT, "recommend", ""))  # a shown list for the card buttons
        check(await bot.command(CHAT, command, arg))
        check(await bot.text(CHAT, text))
        answer = await bot.button(CHAT, data)
        check(answer.replies)
        assert answer.replies or answer.notice  # always an answer
        assert answer.notice is None or len(answer.notice) <= 200

    asyncio.run(talk())
    assert store.seen <= set(recommender.catalog.index)


# ---------------------------------------------------------------------------------------------
# Several titles at once, small talk, honest "not found" (issue 12, the chat side)


async def test_like_several_titles_gives_one_summary(bot: MovieBot, store: FavoritesStore) -> None:
    await ask(bot, "like", "heat")
    replies = await bot.command(CHAT, "like", "toy story, matrix, heat, alien, qwertyuiop")
    check(replies)
    (reply,) = replies
    assert "Added 2 movies (3 movies now):\n• Toy Story (1995)\n• Matrix, The (1999)" in reply.text
    assert "Already in your favorites:\n• Heat (1995)" in reply.text
    assert "Which one do you mean for “alien”?" in reply.text
    assert "Not found: “qwertyuiop”" in reply.text
    assert data_of(reply) == ["like:5", "like:6"]  # the choices for "alien", as buttons
    assert await store.favorites(CHAT) == [9, 1, 3]


async def test_one_title_a_line_in_plain_text_adds_each(
    bot: MovieBot, store: FavoritesStore
) -> None:
    (reply,) = await bot.text(CHAT, "toy story\nfargo\n")
    assert reply.text.startswith("Added 2 movies")
    assert await store.favorites(CHAT) == [1, 14]


async def test_a_redelivered_list_like_gets_the_same_answer(
    bot: MovieBot, store: FavoritesStore
) -> None:
    first = await bot.command(CHAT, "like", "toy story, matrix", update_id=700)
    again = await bot.command(CHAT, "like", "toy story, matrix", update_id=700)
    assert first[0].text.startswith("Added 2 movies")
    assert again[0].text.startswith("Added 2 movies")  # the recorded outcomes, not "already"
    assert await store.favorites(CHAT) == [1, 3]


@pytest.mark.parametrize("text", ["what should I watch tonight?", "hello there", "Hi, any tips?"])
async def test_small_talk_gets_help_not_a_title(bot: MovieBot, text: str) -> None:
    (reply,) = await bot.text(CHAT, text)
    assert reply.text == texts.small_talk()
    assert not reply.buttons


async def test_not_found_names_the_catalog(bot: MovieBot) -> None:
    (reply,) = await bot.command(CHAT, "like", "qwertyuiop")
    assert "probably not in my catalog (14 movies, the newest from 2010)" in reply.text
    (suggest,) = await bot.command(CHAT, "like", "toi stori")
    assert "Close in spelling:" in suggest.text


# ---------------------------------------------------------------------------------------------
# /recommend in plain words (bot/steering.py)

GENRES = GenreNames(
    [
        "Action",
        "Adventure",
        "Animation",
        "Children",
        "Comedy",
        "Crime",
        "Documentary",
        "Drama",
        "Fantasy",
        "Film-Noir",
        "Horror",
        "IMAX",
        "Musical",
        "Mystery",
        "Romance",
        "Sci-Fi",
        "Thriller",
        "War",
        "Western",
        "(no genres listed)",
    ]
)


@pytest.mark.parametrize(
    ("words", "genres", "exclude", "years", "recent", "discover"),
    [
        ("comedy", {"Comedy"}, set(), (None, None), False, False),
        ("Comedies", {"Comedy"}, set(), (None, None), False, False),
        ("90s", set(), set(), (1990, 1999), False, False),
        ("1990-1999", set(), set(), (1990, 1999), False, False),
        ("1999 - 1990", set(), set(), (1990, 1999), False, False),
        ("animation 2010s", {"Animation"}, set(), (2010, 2019), False, False),
        ("new", set(), set(), (None, None), True, False),
        ("-horror", set(), {"Horror"}, (None, None), False, False),
        ("no horror", set(), {"Horror"}, (None, None), False, False),
        ("gems", set(), set(), (None, None), False, True),
        ("hidden gems", set(), set(), (None, None), False, True),
        ("sci-fi", {"Sci-Fi"}, set(), (None, None), False, False),
        ("scifi", {"Sci-Fi"}, set(), (None, None), False, False),
        ("science fiction", {"Sci-Fi"}, set(), (None, None), False, False),
        ("kids", {"Children"}, set(), (None, None), False, False),
        ("docs", {"Documentary"}, set(), (None, None), False, False),
        ("documentary", {"Documentary"}, set(), (None, None), False, False),
        ("before 1980", set(), set(), (None, 1979), False, False),
        ("thrillers from the 80s", {"Thriller"}, set(), (1980, 1989), False, False),
    ],
)
def test_plain_words_become_filters(
    words: str,
    genres: set[str],
    exclude: set[str],
    years: tuple[int | None, int | None],
    recent: bool,
    discover: bool,
) -> None:
    request = parse_request(words, GENRES)
    assert request.not_understood == ()
    again = parse_request(request.canonical(), GENRES)  # what the store keeps: no user text
    assert (again.filters, again.discover, again.all_genres) == (
        request.filters,
        request.discover,
        request.all_genres,
    )
    assert request.discover is discover
    f = request.filters or Filters()
    assert (set(f.genres), set(f.exclude_genres)) == (genres, exclude)
    assert (f.year_min, f.year_max) == years
    assert f.recent is recent
    assert request.understood  # the heading can say what is on


def test_romcom_needs_both_genres_and_the_rest_is_named() -> None:
    request = parse_request("romcom 5 xyzzy", GENRES)
    assert request.all_genres == {"Romance", "Comedy"}
    assert request.canonical() == "romcom"  # the words not understood are not kept
    assert request.not_understood == ("5", "xyzzy")
    assert parse_request("", GENRES).empty
    assert parse_request("x" * 300, GENRES).too_long


async def test_recommend_with_words(bot: MovieBot, store: FavoritesStore) -> None:
    await ask(bot, "like", "toy story")
    horror = await ask(bot, "recommend", "horror")
    assert "<i>Filter: horror</i>" in horror.text
    movies = [int(d.rsplit(":", 1)[1]) for d in data_of(horror) if d.startswith("rl:")]
    assert movies == [5, 6, 11]  # the fake's horror films
    assert "more:" not in " ".join(data_of(horror))  # fewer than ten: nothing more
    (unknown,) = await bot.command(CHAT, "recommend", "5")
    assert unknown.text.startswith("I didn't understand “5”. /recommend understands:")
    assert not unknown.buttons
    partly = await ask(bot, "recommend", "horror zzz")
    assert "I didn't understand “zzz”, so I left it out." in partly.text


async def test_dislike_seen_and_their_undo(bot: MovieBot, store: FavoritesStore) -> None:
    await ask(bot, "like", "toy story")
    disliked = await ask(bot, "dislike", "toy story")  # a favorite: it leaves the favorites
    assert disliked.text.startswith("Noted: <b>Toy Story (1995)</b> is not for you.")
    assert data_of(disliked) == ["um:1"]
    seen = await ask(bot, "seen", "matrix")
    assert "you've seen <b>Matrix, The (1999)</b>" in seen.text
    state = await store.state(CHAT)
    assert (state.favorites, state.dislikes, state.seen) == ((), (1,), (3,))
    recommended = await ask(bot, "rec")  # an alias
    assert not any(d.endswith((":1", ":3")) and d[:2] in ("rl", "rn") for d in data_of(recommended))
    listing = await ask(bot, "favourites", "dislikes")
    assert "Toy Story (1995)" in listing.text
    assert data_of(listing) == ["um:1"]
    undone = await bot.button(CHAT, "um:1")
    assert undone.replies[0].text == "OK, <b>Toy Story (1995)</b> can be recommended again."
    assert (await store.state(CHAT)).dislikes == ()
    assert "nothing marked" in (await ask(bot, "fav", "dislikes")).text


async def test_card_press_edits_in_place_and_undo(bot: MovieBot, store: FavoritesStore) -> None:
    await ask(bot, "like", "toy story")
    card = await ask(bot, "recommend")
    answer = await bot.button(CHAT, "rn:1:2")
    assert answer.notice == "Not for me: Toy Story 2 (1999)"
    (edited,) = answer.replies
    assert edited.edit
    assert "<i>👎 not for me</i>" in edited.text
    assert data_of(edited)[:2] == ["ru:1:2", "sim:2"]
    assert len(data_of(edited)) == len(data_of(card)) - 2
    undo = await bot.button(CHAT, "ru:1:2")
    assert undo.replies[0].text == card.text
    liked = await bot.button(CHAT, "rl:1:3")
    assert "<i>👍 liked</i>" in liked.replies[0].text
    assert await store.favorites(CHAT) == [1, 3]
    more = await bot.button(CHAT, "more:1")
    assert "<b>More for you</b> (11–12)" in more.replies[0].text
    stale = await bot.button(CHAT, "rs:1:4")  # still list 1: edited
    assert stale.replies[0].edit
    await ask(bot, "recommend")  # list 2 replaces it
    old = await bot.button(CHAT, "rs:1:5")
    assert old.notice == "Seen: Alien (1979)"
    assert old.replies == ()  # stored, the older message is left alone
    assert 5 in (await store.state(CHAT)).seen
    assert (await bot.button(CHAT, "more:1")).notice == texts.list_replaced()


async def test_unlike_by_position(bot: MovieBot, store: FavoritesStore) -> None:
    await ask(bot, "like", "toy story")
    await ask(bot, "like", "matrix")
    removed = await ask(bot, "unlike", "2")
    assert removed.text.startswith("Removed <b>Matrix, The (1999)</b>")
    assert await store.favorites(CHAT) == [1]


async def test_too_many_marks_is_said_clearly(tmp_path: Path) -> None:
    store = await FavoritesStore.open(f"sqlite:///{tmp_path / 'm.sqlite3'}", marks_limit=1)
    try:
        bot = MovieBot(FakeRecommender(), FakeTitles(), store, marks_limit=1)
        await ask(bot, "seen", "heat")
        full = await ask(bot, "dislike", "fargo")
        assert full.text == texts.marks_full(1)
        assert "/favorites dislikes" in full.text
        assert (await store.state(CHAT)).dislikes == ()
    finally:
        await store.close()


async def test_a_card_choice_committed_before_the_store_fails_is_confirmed(
    store: FavoritesStore,
) -> None:
    class FailsAfterWriting(RecordingStore):
        async def shown(self, chat_id: int) -> Any:
            raise StoreUnavailable("down")

    bot = MovieBot(FakeRecommender(), FakeTitles(), store)
    await ask(bot, "like", "toy story")
    await ask(bot, "recommend")
    failing = MovieBot(FakeRecommender(), FakeTitles(), FailsAfterWriting(store))  # type: ignore[arg-type]
    answer = await failing.button(CHAT, "rn:1:2")
    assert answer.notice == "Not for me: Toy Story 2 (1999)"
    assert answer.replies == ()
    assert (await store.state(CHAT)).dislikes == (2,)
