"""Fixtures owned by the bot part (see docs/architecture.md and docs/bot.md).

In-process Telegram testing the way python-telegram-bot tests itself: a request layer that
records every Bot API call and answers canned JSON (validating texts and keyboards the way the
Bot API emulator does), real ``Update`` objects, ``await app.process_update(update)``.

``title_index``
    A :class:`recsys.titles.TitleIndex` over the session's ml-latest-small model catalog.
``sqlite_store``
    A fresh SQLite :class:`bot.store.FavoritesStore` in ``tmp_path``.
``moviebot``
    :class:`bot.service.MovieBot` on the real model, title index and ``sqlite_store`` (no flood
    limit).
``telegram``
    A :class:`TelegramHarness`: the Application built around ``moviebot`` with a
    :class:`RecordingRequest`, initialised; ``send``/``press`` feed it real updates.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Update
from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

from bot.service import MovieBot
from bot.store import FavoritesStore
from bot.telegram_app import TelegramApp, build_application
from recsys.engine import Recommender
from tests.emulator import ApiError, check_reply_markup, render_text

# A token of the real shape, built at run time so that nothing token-like is in the source.
TOKEN = "123456789:" + "AAFakeTokenForTestsOnly".ljust(35, "x")
BOT_USERNAME = "MovieTestBot"
BOT_USER = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "Movie",
    "username": BOT_USERNAME,
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class Call:
    """One recorded Bot API call."""

    endpoint: str
    params: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def buttons(self) -> list[dict[str, Any]]:
        markup = self.params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    @property
    def data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]


@dataclass
class RecordingRequest(BaseRequest):
    """A request layer that records calls and answers like the Bot API (never the network).

    Texts and keyboards are validated with the emulator's Telegram rules; a call Telegram would
    reject is answered 400 and kept in ``rejected``. ``fail`` maps an endpoint to an HTTP status
    to answer instead (e.g. ``{"sendMessage": 502}``), ``fail_times`` how often. ``time_out``
    maps an endpoint to how many of its calls time out after being sent (a read timeout: the
    request may have had its effect); they are kept in ``timed_out``.
    """

    calls: list[Call] = field(default_factory=list)
    rejected: list[tuple[Call, str]] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)
    fail_times: int = 1
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    validate: bool = True
    time_out: dict[str, int] = field(default_factory=dict)
    timed_out: list[Call] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float:
        return 1.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        call = Call(endpoint, params)
        if self.time_out.get(endpoint, 0) > 0:
            self.time_out[endpoint] -= 1
            self.timed_out.append(call)
            raise TimedOut("Timed out") from httpx.ReadTimeout("read timeout")
        if endpoint in self.fail and self.fail_times > 0:
            self.fail_times -= 1
            status = self.fail[endpoint]
            return status, json.dumps(
                {"ok": False, "error_code": status, "description": "Bad Gateway"}
            ).encode()
        if endpoint == "getUpdates" and not self.batches:
            await asyncio.sleep(0.01)  # an empty long poll
        try:
            result = self._answer(call)
        except ApiError as exc:
            self.rejected.append((call, exc.description))
            return exc.code, json.dumps(exc.payload()).encode()
        self.calls.append(call)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _answer(self, call: Call) -> Any:
        p = call.params
        if call.endpoint == "getMe":
            return BOT_USER
        if call.endpoint in ("sendMessage", "editMessageText"):
            if self.validate:
                render_text(p.get("text"), p.get("parse_mode"), p.get("entities"))
                markup = p.get("reply_markup")
                check_reply_markup(json.loads(markup) if isinstance(markup, str) else markup)
            chat_id = int(p.get("chat_id", 1))
            message_id = p.get("message_id") or next(self._ids)
            return {
                "message_id": message_id,
                "date": 0,
                "text": p["text"],
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            }
        if call.endpoint == "getUpdates":
            return self.batches.pop(0) if self.batches else []
        return True

    # -- queries ---------------------------------------------------------------------------------

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """sendMessage and editMessageText calls, optionally for one chat."""
        return [
            c
            for c in self.calls
            if c.endpoint in ("sendMessage", "editMessageText")
            and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)
        ]

    def of(self, endpoint: str) -> list[Call]:
        return [c for c in self.calls if c.endpoint == endpoint]

    def clear(self) -> None:
        self.calls.clear()


# ---------------------------------------------------------------------------------------------
# Updates


_update_ids = itertools.count(1)


def user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}


def chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
    return {"id": chat_id, "type": "group", "title": "Movie night"}


def message_json(
    chat_id: int, text: str | None, *, message_id: int = 1, **extra: Any
) -> dict[str, Any]:
    """A message as the Bot API sends it, with the bot_command entity Telegram adds."""
    sender = abs(chat_id) if chat_id > 0 else 4242
    msg: dict[str, Any] = {
        "message_id": message_id,
        "date": 0,
        "chat": chat(chat_id),
        "from": user(sender),
        **extra,
    }
    if text is not None:
        msg["text"] = text
        if text.startswith("/"):
            length = len(text.split()[0]) if text.split() else 1
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return msg


def message_update(
    chat_id: int, text: str | None, *, update_id: int | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "update_id": update_id or next(_update_ids),
        "message": message_json(chat_id, text, **extra),
    }


def callback_update(
    chat_id: int, data: str, *, update_id: int | None = None, message_id: int = 77
) -> dict[str, Any]:
    sender = abs(chat_id) if chat_id > 0 else 4242
    return {
        "update_id": update_id or next(_update_ids),
        "callback_query": {
            "id": f"cq{next(_update_ids)}",
            "from": user(sender),
            "chat_instance": "ci",
            "data": data,
            "message": message_json(chat_id, "earlier", message_id=message_id),
        },
    }


@dataclass
class TelegramHarness:
    """The Application with a recording request layer, fed real ``Update`` objects."""

    app: TelegramApp
    request: RecordingRequest

    async def feed(self, payload: dict[str, Any]) -> list[Call]:
        before = len(self.request.calls)
        await self.app.process_update(Update.de_json(payload, self.app.bot))
        return self.request.calls[before:]

    async def send(self, chat_id: int, text: str, **kw: Any) -> list[Call]:
        """A user writes ``text`` in ``chat_id``; returns the bot's calls."""
        return await self.feed(message_update(chat_id, text, **kw))

    async def press(self, chat_id: int, data: str, **kw: Any) -> list[Call]:
        """A user presses a button carrying ``data``; returns the bot's calls."""
        return await self.feed(callback_update(chat_id, data, **kw))


async def start_harness(moviebot: MovieBot, *, validate: bool = True) -> TelegramHarness:
    """The Application around ``moviebot``, initialised (``validate``: check what it sends)."""
    request = RecordingRequest(validate=validate)
    app = build_application(
        moviebot,
        token=TOKEN,
        request=request,
        overall_max_rate=0,
        group_max_rate=0,
        network_retries=2,
        retry_backoff=0.01,
    )
    await app.initialize()
    return TelegramHarness(app, request)


@pytest.fixture(scope="session")
def title_index(recommender: Recommender) -> Any:
    """The title resolver (:class:`recsys.titles.TitleIndex`) over the session model's catalog."""
    from recsys.titles import TitleIndex

    return TitleIndex.build(recommender.catalog)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[FavoritesStore]:
    """A fresh SQLite favorites store."""
    store = await FavoritesStore.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    yield store
    await store.close()


@pytest.fixture
def moviebot(recommender: Recommender, title_index: Any, sqlite_store: FavoritesStore) -> MovieBot:
    """The conversation on the real model, resolver and an SQLite store (no flood limit)."""
    return MovieBot(recommender, title_index, sqlite_store)


@pytest.fixture
async def telegram(moviebot: MovieBot) -> AsyncIterator[TelegramHarness]:
    """The Telegram Application around ``moviebot``, initialised, with a recording request."""
    harness = await start_harness(moviebot)
    yield harness
    await harness.app.shutdown()
    assert harness.request.rejected == [], "the bot sent something Telegram would reject"


# ---------------------------------------------------------------------------------------------
# Small fakes that follow the contracts exactly, for cases real data cannot stage on demand


LONG_TITLE = "The " + "Very " * 70 + "Long Movie (2000)"
FAKE_TITLES = {
    1: "Toy Story (1995)",
    2: "Toy Story 2 (1999)",
    3: "Matrix, The (1999)",
    4: "<b>Evil</b> & Sons <i>(2001)",
    5: "Alien (1979)",
    6: "Aliens (1986)",
    7: LONG_TITLE,
    8: "Obscure (2010)",
    9: "Heat (1995)",
    10: "Up (2009)",
    11: "Jaws (1975)",
    12: "Big (1988)",
    13: "Rocky (1976)",
    14: "Fargo (1996)",
}
UNKNOWN_TO_MODEL = frozenset({8})
FAKE_GENRES = {
    1: "Animation|Children|Comedy",
    2: "Animation|Children|Comedy",
    3: "Action|Sci-Fi",
    4: "Drama",
    5: "Horror|Sci-Fi",
    6: "Action|Horror|Sci-Fi",
    7: "Comedy|Romance",
    8: "(no genres listed)",
    9: "Action|Crime|Thriller",
    10: "Animation|Children",
    11: "Horror|Thriller",
    12: "Comedy|Romance",
    13: "Drama",
    14: "Comedy|Crime|Drama",
}


def fake_catalog() -> Any:
    import pandas as pd

    ids = sorted(FAKE_TITLES)
    return pd.DataFrame(
        {
            "title": [FAKE_TITLES[i] for i in ids],
            "genres": [FAKE_GENRES[i] for i in ids],
            "year": pd.array([int(FAKE_TITLES[i][-5:-1]) for i in ids], dtype="Int32"),
            "imdb_id": pd.array([100000 + i if i % 2 else None for i in ids], dtype="Int64"),
            "tmdb_id": pd.array([None] * len(ids), dtype="Int64"),
            "imdb_search": [None] * len(ids),
        },
        index=pd.Index(ids, name="movie_id"),
    )


class FakeRecommender:
    """The Recommender contract over :data:`FAKE_TITLES`; movie 8 has no factors."""

    def __init__(self) -> None:
        self.catalog = fake_catalog()
        self.calls: list[tuple[str, Any]] = []

    def knows(self, movie_id: int) -> bool:
        return movie_id in FAKE_TITLES and movie_id not in UNKNOWN_TO_MODEL

    @property
    def genres(self) -> tuple[str, ...]:
        return tuple(sorted({g for v in FAKE_GENRES.values() for g in v.split("|")}))

    def recommend(
        self,
        favorites: Any,
        n: int = 10,
        *,
        dislikes: Any = (),
        seen: Any = (),
        filters: Any = None,
        discover: bool = False,
    ) -> Any:
        from recsys.engine import FilterError, Recommendation, RecommendResult

        favs = list(dict.fromkeys(int(f) for f in favorites))
        hidden = {int(m) for m in (*dislikes, *seen)}
        self.calls.append(("recommend", favs))
        if filters is not None and (filters.genres | filters.exclude_genres) - set(self.genres):
            raise FilterError("Unknown genre")

        def passes(m: int) -> bool:
            if filters is None:
                return True
            genres = set(FAKE_GENRES[m].split("|"))
            year = int(FAKE_TITLES[m][-5:-1]) if FAKE_TITLES[m][-5:-1].isdigit() else None
            return (
                (not filters.genres or bool(genres & filters.genres))
                and not genres & filters.exclude_genres
                and (filters.year_min is None or (year is not None and year >= filters.year_min))
                and (filters.year_max is None or (year is not None and year <= filters.year_max))
            )

        ignored = tuple(f for f in favs if not self.knows(f))
        usable = [f for f in favs if self.knows(f)]
        pool = [
            m
            for m in sorted(FAKE_TITLES)
            if self.knows(m) and m not in favs and m not in hidden and passes(m)
        ][:n]
        because = tuple(usable[:3])
        items = tuple(
            Recommendation(m, FAKE_TITLES[m], 1.0 / (i + 1), because) for i, m in enumerate(pool)
        )
        return RecommendResult(items=items, fallback=not usable, ignored=ignored)

    def similar(self, movie_id: int, n: int = 10) -> Any:
        from recsys.engine import SimilarMovie

        if not self.knows(movie_id):
            return ()
        others = [m for m in sorted(FAKE_TITLES) if m != movie_id and self.knows(m)][:n]
        return tuple(SimilarMovie(m, FAKE_TITLES[m], 0.5) for m in others)

    def why(self, movie_id: int, favorites: Any, *, dislikes: Any = ()) -> Any:
        from recsys.engine import Explanation

        favs = [int(f) for f in favorites]
        usable = [f for f in favs if self.knows(f)]
        ignored = tuple(f for f in favs if not self.knows(f))
        n_items = len(FAKE_TITLES) - len(UNKNOWN_TO_MODEL)
        if not self.knows(movie_id):
            return Explanation(movie_id, False, None, n_items, None, (), ignored)
        if not usable:
            return Explanation(movie_id, True, None, n_items, None, (), ignored)
        shares = [0.7, 0.2, -0.1][: len(usable)]
        contributions = tuple(zip(usable, shares, strict=False))
        rank = None if movie_id in usable else 2
        return Explanation(movie_id, True, rank, n_items, 0.9, contributions, ignored)


class FakeTitles:
    """The TitleIndex contract with fixed answers."""

    def split(self, text: str) -> list[str]:
        from recsys.titles import split_titles

        return split_titles(text)

    def resolve(self, query: str) -> Any:
        from recsys.titles import Candidate, MatchStatus, Resolution

        def cand(*ids: int) -> tuple[Candidate, ...]:
            return tuple(Candidate(i, FAKE_TITLES[i], 90.0 - k) for k, i in enumerate(ids))

        q = " ".join(query.lower().split())
        if len(query) > 200:
            return Resolution(
                query,
                MatchStatus.NOT_FOUND,
                None,
                None,
                0.0,
                (),
                "That is too long to be a title (max 200 characters).",
            )
        matched = {
            "toy story": 1,
            "toy story 2": 2,
            "matrix": 3,
            "evil": 4,
            "obscure": 8,
            "long": 7,
            "heat": 9,
            "up": 10,
            "jaws": 11,
            "big": 12,
            "rocky": 13,
            "fargo": 14,
        }
        if q in ("alien", "aliens?"):
            return Resolution(query, MatchStatus.AMBIGUOUS, None, None, 90.0, cand(5, 6))
        if q == "toy":
            return Resolution(query, MatchStatus.AMBIGUOUS, None, None, 90.0, cand(1, 2))
        if matched.get(q) is not None:
            m = matched[q]
            return Resolution(query, MatchStatus.MATCHED, m, FAKE_TITLES[m], 100.0, ())
        if q == "toi stori":
            return Resolution(query, MatchStatus.NOT_FOUND, None, None, 60.0, cand(1, 2))
        return Resolution(query, MatchStatus.NOT_FOUND, None, None, 0.0, ())
