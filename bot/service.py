"""The conversation, independent of any transport: a chat's input in, :class:`Reply` objects out.

:class:`MovieBot` is used by the Telegram handlers (:mod:`bot.telegram_app`) and by the terminal
console (:mod:`bot.console`), so both share one logic and one set of texts (:mod:`bot.texts`).

Three entry points, one per kind of input:

* :meth:`MovieBot.command` — ``/name argument``;
* :meth:`MovieBot.text` — a plain message (offers to like the movie it resolves to);
* :meth:`MovieBot.button` — the data of a pressed button (``like:2571``, ``un:2571``,
  ``sim:2571``, ``why:2571``, ``fav:1``, ``reset:yes``…), parsed strictly; anything else is
  "expired".

Commands are one table, :data:`COMMANDS` (name, aliases, handler, whether it takes a title, its
texts in :mod:`bot.texts`): dispatch, the Telegram menu, /help and the usage lines all derive from
it. Buttons are one enum, :class:`Kind`, with one table of the arguments each kind takes and one
of the method that answers it.

Each entry point admits the input through the per-chat flood limit, then runs under the chat's
lock (one chat's inputs are applied in order; different chats run concurrently), turns
:class:`~bot.store.StoreUnavailable` into a short "temporarily unavailable" reply, and runs the
CPU-bound matcher and model calls in a worker thread (``asyncio.to_thread``). Only catalog
movie ids ever reach the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from bot import texts
from bot.locks import ChatLocks
from bot.ratelimit import Admission, FloodLimiter
from bot.steering import GenreNames, ListRequest, parse_request
from bot.store import (
    MAX_ADD_MANY,
    MAX_SHOWN,
    AddOutcome,
    Alignment,
    ChatState,
    ImportWrite,
    Mark,
    ShownList,
    StoreFault,
    StoreUnavailable,
)
from recsys.engine import FilterError
from recsys.imports import MAX_FILE_BYTES, ImportFileError, ImportResolver, export_csv, import_file
from recsys.imports import Action as ImportAction
from recsys.movielens import movie_url, movie_urls
from recsys.titles import TitleIndex, is_small_talk

if TYPE_CHECKING:
    import pandas as pd

    from recsys.engine import Explanation, Filters, RecommendResult, SimilarMovie
    from recsys.identity import IdentityIndex
    from recsys.imports import ImportSummary
    from recsys.titles import Candidate, Resolution

logger = logging.getLogger(__name__)

MAX_CALLBACK_DATA = 64
"""Telegram's limit for a button's callback data, in bytes."""
RECOMMENDATIONS = 10
SIMILAR = 10
PAGE_SIZE = 15
"""Favorites per page of /favorites (each with a remove button)."""


# ---------------------------------------------------------------------------------------------
# What the service returns


@dataclass(frozen=True)
class Button:
    """One inline button: either ``data`` (sent back when pressed) or ``url`` (opens a page)."""

    label: str
    data: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        data = self.data
        if (data is None) == (self.url is None):
            raise ValueError("a button has exactly one of data and url")
        # 16 characters are at most 64 bytes in UTF-8: only longer data is encoded to count
        if data is not None and len(data) > 16 and len(data.encode()) > MAX_CALLBACK_DATA:
            raise ValueError(f"callback data over {MAX_CALLBACK_DATA} bytes: {data!r}")


Rows = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Document:
    """A file to send (``/export``): its name and bytes; the reply's text is its caption."""

    name: str
    data: bytes
    mime: str = "text/csv"


@dataclass(frozen=True)
class Reply:
    """A message to show: Telegram HTML and rows of buttons.

    ``edit`` asks a transport to replace the message whose button was pressed (a refreshed
    favorites page, a confirmed reset) instead of sending a new one. With ``document`` the reply
    is a file, ``text`` its caption (at most 1,024 characters).
    """

    text: str
    buttons: Rows = ()
    edit: bool = False
    document: Document | None = None


@dataclass(frozen=True)
class Upload:
    """A document a chat sent: what Telegram says about it, and how to download it."""

    name: str
    size: int | None
    mime: str | None
    download: Callable[[], Awaitable[bytes]]


@dataclass(frozen=True)
class ButtonAnswer:
    """The answer to a pressed button: a short ``notice`` (a toast) and replies."""

    notice: str | None = None
    replies: tuple[Reply, ...] = ()


# ---------------------------------------------------------------------------------------------
# What the service needs (see docs/architecture.md for the full contracts)


class Recommending(Protocol):
    """The serving side of :class:`recsys.engine.Recommender`."""

    @property
    def catalog(self) -> pd.DataFrame: ...  # noqa: D102

    @property
    def genres(self) -> tuple[str, ...]: ...  # noqa: D102

    def recommend(  # noqa: D102
        self,
        favorites: Iterable[int],
        n: int = 10,
        *,
        dislikes: Iterable[int] = (),
        seen: Iterable[int] = (),
        filters: Filters | None = None,
        discover: bool = False,
    ) -> RecommendResult: ...

    def similar(self, movie_id: int, n: int = 10) -> tuple[SimilarMovie, ...]: ...  # noqa: D102

    def why(  # noqa: D102
        self, movie_id: int, favorites: Iterable[int], *, dislikes: Iterable[int] = ()
    ) -> Explanation: ...

    def knows(self, movie_id: int) -> bool: ...  # noqa: D102


class Resolving(Protocol):
    """:class:`recsys.titles.TitleIndex`."""

    def resolve(self, query: str) -> Resolution: ...  # noqa: D102

    def split(self, text: str) -> list[str]: ...  # noqa: D102


class Storing(Protocol):
    """:class:`bot.store.FavoritesStore`."""

    async def add(
        self,
        chat_id: int,
        movie_id: int,
        *,
        update_id: int | None = None,
    ) -> AddOutcome:
        """Add a favorite (see :meth:`bot.store.FavoritesStore.add`)."""
        ...

    async def add_counted(  # noqa: D102
        self, chat_id: int, movie_id: int, *, update_id: int | None = None
    ) -> tuple[AddOutcome, int | None]: ...

    async def add_many(  # noqa: D102
        self, chat_id: int, movie_ids: Sequence[int], *, update_id: int | None = None
    ) -> tuple[AddOutcome, ...]: ...

    async def make_shown(  # noqa: D102
        self,
        chat_id: int,
        make: Callable[[ChatState], ShownList | None],
        *,
        update_id: int | None = None,
    ) -> tuple[ChatState, ShownList, int] | None: ...

    async def remove(
        self,
        chat_id: int,
        movie_id: int,
        *,
        update_id: int | None = None,
    ) -> bool:
        """Remove a favorite (see :meth:`bot.store.FavoritesStore.remove`)."""
        ...

    async def favorites(self, chat_id: int) -> list[int]: ...  # noqa: D102

    async def clear(  # noqa: D102
        self, chat_id: int, *, update_id: int | None = None, expected: int | None = None
    ) -> int: ...

    async def outcome(self, update_id: int) -> int | None: ...  # noqa: D102

    async def mark(  # noqa: D102
        self, chat_id: int, movie_id: int, kind: Mark, *, update_id: int | None = None
    ) -> AddOutcome: ...

    async def unmark(  # noqa: D102
        self, chat_id: int, movie_id: int, *, update_id: int | None = None
    ) -> bool: ...

    async def state(self, chat_id: int) -> ChatState: ...  # noqa: D102

    async def save_shown(  # noqa: D102
        self, chat_id: int, shown: ShownList, *, update_id: int | None = None
    ) -> int: ...

    async def shown(self, chat_id: int) -> ShownList | None: ...  # noqa: D102

    async def align_catalog(  # noqa: D102
        self, index: IdentityIndex, release: str, fingerprint: str
    ) -> Alignment: ...

    async def import_movies(  # noqa: D102
        self,
        chat_id: int,
        additions: Sequence[tuple[int, str]],
        *,
        import_id: int,
        update_id: int | None = None,
    ) -> ImportWrite: ...

    async def undo_import(  # noqa: D102
        self, chat_id: int, import_id: int, *, update_id: int | None = None
    ) -> int: ...


# ---------------------------------------------------------------------------------------------
# Button data: ``kind:arguments``; one table says which arguments each kind takes


class Kind(StrEnum):
    """What a button does; its value is the prefix of the button's callback data."""

    LIKE = "like"  # like:MOVIE
    UNLIKE = "un"  # un:MOVIE, or un:MOVIE:PAGE on a favorites page
    SIMILAR = "sim"  # sim:MOVIE
    WHY = "why"  # why:MOVIE
    PAGE = "fav"  # fav:PAGE
    RESET = "reset"  # reset:yes:COUNT / reset:no (COUNT: the list's size the question showed)
    DISLIKE = "no"  # no:MOVIE (not for me)
    SEEN = "seen"  # seen:MOVIE
    UNMARK = "um"  # um:MOVIE (undo a dislike or seen)
    CARD_LIKE = "rl"  # rl:LIST:MOVIE, a feedback button of a recommendation card
    CARD_DISLIKE = "rn"  # rn:LIST:MOVIE
    CARD_SEEN = "rs"  # rs:LIST:MOVIE
    CARD_UNDO = "ru"  # ru:LIST:MOVIE
    MORE = "more"  # more:LIST
    UNDO_IMPORT = "imp"  # imp:IMPORT (remove what that import added)


@dataclass(frozen=True)
class Action:
    """A parsed button: its ``kind`` and arguments."""

    kind: Kind
    movie_id: int | None = None
    page: int | None = None
    confirm: bool | None = None
    serial: int | None = None
    import_id: int | None = None
    count: int | None = None


_MOVIE = r"(?P<movie>[1-9][0-9]{0,9})"
_PAGE = r"(?P<page>[0-9]{1,4})"
_LIST = r"(?P<serial>[1-9][0-9]{0,9})"
_CARD = re.compile(rf"{_LIST}:{_MOVIE}")
_ARGUMENTS: dict[Kind, re.Pattern[str]] = {
    Kind.LIKE: re.compile(_MOVIE),
    Kind.UNLIKE: re.compile(rf"{_MOVIE}(?::{_PAGE})?"),
    Kind.SIMILAR: re.compile(_MOVIE),
    Kind.WHY: re.compile(_MOVIE),
    Kind.PAGE: re.compile(_PAGE),
    Kind.RESET: re.compile(r"(?P<confirm>yes|no)(?::(?P<count>[0-9]{1,6}))?"),
    Kind.DISLIKE: re.compile(_MOVIE),
    Kind.SEEN: re.compile(_MOVIE),
    Kind.UNMARK: re.compile(_MOVIE),
    Kind.CARD_LIKE: _CARD,
    Kind.CARD_DISLIKE: _CARD,
    Kind.CARD_SEEN: _CARD,
    Kind.CARD_UNDO: _CARD,
    Kind.MORE: re.compile(_LIST),
    Kind.UNDO_IMPORT: re.compile(r"(?P<import>[1-9][0-9]{0,17})"),
}
"""The arguments each kind takes; anything else is not a button this bot sent."""


def parse_button(data: str) -> Action | None:
    """Parse button data strictly; None for anything this bot never sends."""
    if len(data) > MAX_CALLBACK_DATA:
        return None
    prefix, _, rest = data.partition(":")
    try:
        kind = Kind(prefix)
    except ValueError:
        return None
    match = _ARGUMENTS[kind].fullmatch(rest)
    if match is None:
        return None
    args = match.groupdict()
    return Action(
        kind,
        movie_id=None if args.get("movie") is None else int(args["movie"]),
        page=None if args.get("page") is None else int(args["page"]),
        confirm=None if args.get("confirm") is None else args["confirm"] == "yes",
        serial=None if args.get("serial") is None else int(args["serial"]),
        import_id=None if args.get("import") is None else int(args["import"]),
        count=None if args.get("count") is None else int(args["count"]),
    )


def button_data(kind: Kind | str, *args: int | str | None) -> str:
    """Build ``kind:arg:arg`` (``None`` arguments are left out)."""
    return ":".join([kind, *[str(a) for a in args if a is not None]])


@dataclass(frozen=True)
class Turn:
    """Who is speaking: the chat, and the Telegram update (for exactly-once store writes)."""

    chat_id: int
    update_id: int | None = None


# ---------------------------------------------------------------------------------------------
# The conversation

Replies = tuple[Reply, ...]
Act = Callable[[int], Awaitable[Reply]]


class MovieBot:
    """Transport-agnostic conversation logic (see the module docstring)."""

    def __init__(
        self,
        recommender: Recommending,
        titles: Resolving,
        store: Storing,
        *,
        limiter: FloodLimiter | None = None,
        favorites_limit: int = 500,
        marks_limit: int | None = None,
        page_size: int = PAGE_SIZE,
        identity: IdentityIndex | None = None,
    ) -> None:
        self._rec = recommender
        self._titles = titles
        self._store = store
        self._limiter = limiter
        self._favorites_limit = favorites_limit
        self._marks_limit = marks_limit if marks_limit is not None else 4 * favorites_limit
        self._page_size = page_size
        catalog = recommender.catalog
        self._title_of: dict[int, str] = dict(
            zip(catalog.index.tolist(), catalog["title"].tolist(), strict=True)
        )
        self._urls: dict[int, str] = {}
        self._similar_buttons: dict[int, Button] = {}  # a card's 🔎 button, per movie
        genres = catalog["genres"] if "genres" in catalog.columns else None
        self._genres_of: dict[int, tuple[str, ...]] = (
            {
                int(m): tuple(g for g in str(v).split("|") if g and not g.startswith("("))
                for m, v in zip(catalog.index.tolist(), genres.tolist(), strict=True)
            }
            if genres is not None
            else {}
        )
        self._genre_names = GenreNames(recommender.genres)
        self._catalog_info = catalog_info(recommender)
        self._locks = ChatLocks()
        self._identity = identity
        self._aligned = identity is None
        self._align_lock = asyncio.Lock()
        self._resolver: ImportResolver | None = None
        self._resolver_lock = asyncio.Lock()

    @property
    def command_names(self) -> tuple[str, ...]:
        """Every command this bot answers, aliases included."""
        return tuple(_DISPATCH)

    # -- entry points --------------------------------------------------------------------------

    async def command(
        self, chat_id: int, name: str, arg: str = "", *, update_id: int | None = None
    ) -> Replies:
        """Answer ``/name arg`` in ``chat_id``."""
        spec = _DISPATCH.get(name.lower())
        turn = Turn(chat_id, update_id)
        if spec is None:
            return await self._guarded(turn, lambda: self._unknown(name))
        return await self._guarded(turn, lambda: spec.handler(self, turn, arg.strip()), tell=True)

    async def text(self, chat_id: int, text: str, *, update_id: int | None = None) -> Replies:
        """Answer a plain (non-command) message: offer to like the movie it names."""
        turn = Turn(chat_id, update_id)
        return await self._guarded(turn, lambda: self._plain(turn, text.strip()), tell=True)

    async def button(
        self, chat_id: int, data: str, *, update_id: int | None = None
    ) -> ButtonAnswer:
        """Answer a pressed button whose callback data is ``data``."""
        turn = Turn(chat_id, update_id)
        answer: ButtonAnswer | None = None

        async def work() -> Replies:
            nonlocal answer
            answer = await self._press(turn, data)
            return answer.replies

        replies = await self._guarded(turn, work)
        return answer if answer is not None else ButtonAnswer(replies=replies)

    async def document(
        self, chat_id: int, upload: Upload, *, update_id: int | None = None
    ) -> Replies:
        """Import a Letterboxd or IMDb export the chat sent as a document (one summary)."""
        turn = Turn(chat_id, update_id)
        return await self._guarded(turn, lambda: self._import(turn, upload), tell=True)

    async def unsupported(self, chat_id: int) -> Replies:
        """Answer a sticker, photo or anything else that is not text."""

        async def work() -> Replies:
            return (Reply(texts.not_text()),)

        return await self._guarded(Turn(chat_id), work)

    def movie_title(self, movie_id: int) -> str | None:
        """The catalog title of ``movie_id`` (None if it is not in the catalog)."""
        return self._title_of.get(movie_id)

    # -- plumbing ------------------------------------------------------------------------------

    async def _guarded(
        self, turn: Turn, work: Callable[[], Awaitable[Replies]], *, tell: bool = False
    ) -> Replies:
        """Flood limit, then the chat's lock, then ``work``; a dead store is said politely.

        With ``tell``, movies of the chat's lists that the loaded catalog lacks (found at start)
        are reported first, once.
        """
        admission = (
            self._limiter.admit(turn.chat_id) if self._limiter is not None else Admission.ALLOW
        )
        if admission is Admission.WARN:
            logger.info("Flood limit reached in chat %s", turn.chat_id)
            return (Reply(texts.flood()),)
        if admission is Admission.SILENT:
            return ()
        async with self._locks.hold(turn.chat_id):
            try:
                await self.prepare()
                note = await self._missing_note(turn.chat_id) if tell else None
                replies = await work()
                return replies if note is None else (note, *replies)
            except StoreFault:  # logged at ERROR by the store, with what to do
                return (Reply(texts.cannot_save()),)
            except StoreUnavailable as exc:
                logger.warning("Store unavailable for chat %s: %s", turn.chat_id, exc)
                return (Reply(texts.unavailable()),)

    async def prepare(self) -> None:
        """Point the chats' stored movies at this catalog (once; before the first input).

        With an identity index (see :class:`recsys.identity.IdentityIndex`), the store maps every
        chat's lists to this catalog when they were made on another release or model; what this
        catalog lacks is kept, hidden and told to the chat once. Front ends may call it at start;
        otherwise the first input does.

        Raises:
            StoreUnavailable: The database cannot be reached (tried again at the next input).
        """
        if self._aligned or self._identity is None:
            return
        async with self._align_lock:
            if self._aligned:
                return
            fingerprint = await asyncio.to_thread(catalog_fingerprint, self._rec.catalog)
            release = self._catalog_info.name or "unknown"
            await self._store.align_catalog(self._identity, release, fingerprint)
            self._aligned = True

    async def _missing_note(self, chat_id: int) -> Reply | None:
        """Once: the chat's stored movies this catalog lacks (stores without the check: none)."""
        take = getattr(self._store, "take_missing", None)
        if take is None:
            return None
        try:
            missing = await take(chat_id)
        except StoreUnavailable:
            return None  # told at a later message
        if not missing:
            return None
        pairs = [(m.kind, m.title) for m in missing]
        return Reply(texts.missing_movies(pairs, self._catalog_info.name))

    async def _resolve(self, query: str) -> Resolution:
        return await asyncio.to_thread(self._titles.resolve, query)

    async def _resolved(
        self, command: str, arg: str, kind: Kind, act: Act, res: Resolution | None = None
    ) -> Replies:
        """Resolve the title in ``arg`` and ``act`` on the movie; else usage, choices or not found.

        Choices are buttons of ``kind`` (pressing one does what ``act`` would have done).
        ``res``: ``arg`` already resolved.
        """
        if not arg:
            return (Reply(texts.usage(command, _SPECS[command].text.example)),)
        if res is None:
            res = await self._resolve(arg)
        movie_id = self._matched(res)
        if movie_id is None:
            return self._unresolved(res, kind)
        return (await act(movie_id),)

    def _title(self, movie_id: int) -> str:
        return self._title_of.get(movie_id, f"movie #{movie_id}")

    def _url(self, movie_id: int) -> str | None:
        url = self._urls.get(movie_id)
        if url is None and movie_id in self._title_of:
            url = self._urls[movie_id] = movie_url(self._rec.catalog, movie_id)
        return url

    def _choices(self, kind: Kind, candidates: Sequence[Candidate]) -> Rows:
        return tuple(
            (
                Button(
                    texts.label(texts.CHOICE_PREFIX[kind], self._title(c.movie_id)),
                    data=button_data(kind, c.movie_id),
                ),
            )
            for c in candidates
            if c.movie_id in self._title_of
        )

    def _unresolved(self, res: Resolution, kind: Kind) -> Replies:
        """The reply when ``res`` did not match one movie: pick one, did you mean, or not found."""
        if res.error:
            return (Reply(texts.bad_query(res.error)),)
        rows = self._choices(kind, res.candidates)
        if not rows:
            return (Reply(texts.not_found(res.query, self._catalog_info)),)
        if res.status == "ambiguous":
            return (Reply(texts.pick_one(res.query), rows),)
        return (Reply(texts.did_you_mean(res.query, self._catalog_info), rows),)

    def _matched(self, res: Resolution) -> int | None:
        if res.status == "matched" and res.movie_id in self._title_of:
            return res.movie_id
        return None

    def _movie_rows(self, movie_ids: Iterable[int]) -> Rows:
        """A like and a similar button for each movie of a list."""
        return tuple(
            (
                Button(
                    texts.label(texts.CHOICE_PREFIX[Kind.LIKE], self._title(m)),
                    data=button_data(Kind.LIKE, m),
                ),
                Button(texts.BUTTON_SIMILAR_SHORT, data=button_data(Kind.SIMILAR, m)),
            )
            for m in movie_ids
        )

    # -- commands ------------------------------------------------------------------------------

    async def _start(self, turn: Turn, arg: str) -> Replies:
        return (Reply(texts.start()),)

    async def _help(self, turn: Turn, arg: str) -> Replies:
        return (Reply(texts.help_text([spec.help_entry() for spec in COMMANDS])),)

    async def _unknown(self, name: str) -> Replies:
        return (Reply(texts.unknown_command(name)),)

    async def _like(self, turn: Turn, arg: str) -> Replies:
        parts, res = await asyncio.to_thread(self._split, arg) if arg else ([], None)
        if len(parts) > 1:
            return await self._like_many(turn, parts)
        return await self._resolved("like", arg, Kind.LIKE, lambda m: self._add(turn, m), res)

    def _split(self, text: str) -> tuple[list[str], Resolution | None]:
        """The titles of ``text``; when it holds one, also its resolution (one worker call)."""
        parts = self._titles.split(text)
        return parts, (self._titles.resolve(text) if len(parts) <= 1 else None)

    async def _like_many(self, turn: Turn, queries: Sequence[str]) -> Replies:
        """``/like a, b, c``: add each title that resolves; one summary, choices as buttons."""
        cut = len(queries) > MAX_ADD_MANY
        queries = queries[:MAX_ADD_MANY]
        resolutions = await asyncio.to_thread(lambda: [self._titles.resolve(q) for q in queries])
        matched = list(dict.fromkeys(m for r in resolutions if (m := self._matched(r))))
        outcomes = await self._store.add_many(turn.chat_id, matched, update_id=turn.update_id)
        by_outcome = {
            kind: [self._title(m) for m, o in zip(matched, outcomes, strict=True) if o == kind]
            for kind in AddOutcome
        }
        choose = [r for r in resolutions if self._matched(r) is None and not r.error]
        choose = [r for r in choose if self._choices(Kind.LIKE, r.candidates)]
        missing = [r.query for r in resolutions if self._matched(r) is None and r not in choose]
        rows = [row for r in choose for row in self._choices(Kind.LIKE, r.candidates[:3])][:24]
        count = None
        if by_outcome[AddOutcome.ADDED]:
            with contextlib.suppress(StoreUnavailable):
                count = len(await self._store.favorites(turn.chat_id))
        summary = texts.ManyAdded(
            added=by_outcome[AddOutcome.ADDED],
            already=by_outcome[AddOutcome.ALREADY],
            full=by_outcome[AddOutcome.LIMIT],
            choose=[r.query for r in choose],
            missing=missing,
            count=count,
        )
        text = texts.added_many(summary, self._catalog_info)
        if cut:
            text = texts.join_fitting([text, texts.too_many_titles(MAX_ADD_MANY)])
        return (Reply(text, tuple(rows)),)

    async def _add(self, turn: Turn, movie_id: int) -> Reply:
        return (await self._add_counted(turn, movie_id))[0]

    async def _add_counted(self, turn: Turn, movie_id: int) -> tuple[Reply, AddOutcome]:
        """Add ``movie_id``; the reply and the store's outcome."""
        outcome, count = await self._store.add_counted(
            turn.chat_id, movie_id, update_id=turn.update_id
        )
        title = self._title(movie_id)
        if outcome == "limit":
            return Reply(texts.list_full(self._favorites_limit)), outcome
        if outcome == "already":
            return Reply(texts.already(title)), outcome
        if count is None:  # a redelivered update: the list may have changed since
            with contextlib.suppress(StoreUnavailable):  # the add is committed: say so anyway
                count = len(await self._store.favorites(turn.chat_id))
        rows = (
            (
                Button(texts.BUTTON_SIMILAR, data=button_data(Kind.SIMILAR, movie_id)),
                Button(texts.BUTTON_UNDO, data=button_data(Kind.UNLIKE, movie_id)),
            ),
        )
        return Reply(texts.added(title, count), rows), outcome

    async def _unlike(self, turn: Turn, arg: str) -> Replies:
        if not arg:
            return (Reply(texts.usage("unlike", _SPECS["unlike"].text.example)),)
        if turn.update_id is not None:
            # A redelivered /unlike answers what the first delivery answered: the store kept
            # which movie it removed (the list no longer holds it, so re-deriving cannot tell).
            removed = await self._store.outcome(turn.update_id)
            if removed is not None and -removed in self._title_of:
                left = len(await self._store.favorites(turn.chat_id))
                return (self._removed_reply(-removed, left),)
        favorites = await self._store.favorites(turn.chat_id)
        if arg.isdecimal() and len(arg) <= 4 and 1 <= int(arg) <= len(favorites):
            # /unlike 2: the second movie of the list /favorites shows
            return (await self._remove(turn, favorites[int(arg) - 1], len(favorites)),)
        res = await self._resolve(arg)
        movie_id = self._matched(res)
        if movie_id is not None and movie_id in favorites:
            return (await self._remove(turn, movie_id, len(favorites)),)
        held = [c for c in res.candidates if c.movie_id in favorites and c.movie_id != movie_id]
        if len(held) == 1 and movie_id is None:
            return (await self._remove(turn, held[0].movie_id, len(favorites)),)
        if held:
            return (Reply(texts.pick_one(res.query), self._choices(Kind.UNLIKE, held)),)
        if movie_id is not None:
            return (Reply(texts.not_a_favorite(self._title(movie_id))),)
        if res.error:
            return (Reply(texts.bad_query(res.error)),)
        if res.candidates:
            return (Reply(texts.none_of_them_favorites(res.query)),)
        return (Reply(texts.not_found(res.query, self._catalog_info)),)

    async def _remove(self, turn: Turn, movie_id: int, before: int) -> Reply:
        removed = await self._store.remove(turn.chat_id, movie_id, update_id=turn.update_id)
        if not removed:
            return Reply(texts.not_a_favorite(self._title(movie_id)))
        try:  # counted after the change: a redelivered update counts the same list
            count = len(await self._store.favorites(turn.chat_id))
        except StoreUnavailable:
            count = max(before - 1, 0)  # committed: counted from the list read before it
        return self._removed_reply(movie_id, count)

    def _removed_reply(self, movie_id: int, count: int | None) -> Reply:
        """The "Removed …" reply, with an add-back button; ``count``: the list's size after it."""
        rows = ((Button(texts.BUTTON_ADD_BACK, data=button_data(Kind.LIKE, movie_id)),),)
        return Reply(texts.removed(self._title(movie_id), count), rows)

    async def _favorites(self, turn: Turn, arg: str) -> Replies:
        kind = _MARK_WORDS.get(" ".join(arg.lower().split()))
        if kind is not None:
            return (await self._marks_page(turn, kind),)
        return (await self._favorites_page(turn, 0, edit=False),)

    async def _marks_page(self, turn: Turn, kind: Mark) -> Reply:
        state = await self._store.state(turn.chat_id)
        movies = state.dislikes if kind is Mark.DISLIKE else state.seen
        titles = [self._title(m) for m in movies]
        rows = tuple(
            (
                Button(
                    texts.label(texts.UNDO_PREFIX, self._title(m)), data=button_data(Kind.UNMARK, m)
                ),
            )
            for m in reversed(movies[-self._page_size :])
        )
        return Reply(texts.marks_page(str(kind), titles), rows)

    async def _favorites_page(self, turn: Turn, page: int, *, edit: bool) -> Reply:
        state = await self._store.state(turn.chat_id)
        favorites = state.favorites
        footer = texts.marks_footer(len(state.dislikes), len(state.seen))
        if not favorites:
            return Reply(texts.favorites_empty(footer), edit=edit)
        pages = -(-len(favorites) // self._page_size)
        page = min(max(page, 0), pages - 1)
        first = page * self._page_size
        shown = favorites[first : first + self._page_size]
        rows: list[tuple[Button, ...]] = [
            (
                Button(
                    texts.label(texts.CHOICE_PREFIX[Kind.UNLIKE], self._title(m)),
                    data=button_data(Kind.UNLIKE, m, page),
                ),
            )
            for m in shown
        ]
        nav = []
        if page > 0:
            nav.append(Button(texts.BUTTON_PREVIOUS, data=button_data(Kind.PAGE, page - 1)))
        if page < pages - 1:
            nav.append(Button(texts.BUTTON_NEXT, data=button_data(Kind.PAGE, page + 1)))
        if nav:
            rows.append(tuple(nav))
        text = texts.favorites_page(
            [self._title(m) for m in shown], first=first + 1, total=len(favorites), footer=footer
        )
        return Reply(text, tuple(rows), edit=edit)

    # -- dislikes and seen ---------------------------------------------------------------------

    async def _dislike(self, turn: Turn, arg: str) -> Replies:
        return await self._resolved(
            "dislike", arg, Kind.DISLIKE, lambda m: self._mark(turn, m, Mark.DISLIKE)
        )

    async def _seen(self, turn: Turn, arg: str) -> Replies:
        return await self._resolved(
            "seen", arg, Kind.SEEN, lambda m: self._mark(turn, m, Mark.SEEN)
        )

    async def _mark(self, turn: Turn, movie_id: int, kind: Mark) -> Reply:
        outcome = await self._store.mark(turn.chat_id, movie_id, kind, update_id=turn.update_id)
        title = self._title(movie_id)
        if outcome == AddOutcome.LIMIT:
            return Reply(texts.marks_full(self._marks_limit))
        if outcome == AddOutcome.ALREADY:
            return Reply(texts.already_marked(title, str(kind)))
        undo = Button(texts.BUTTON_UNDO, data=button_data(Kind.UNMARK, movie_id))
        return Reply(texts.marked(title, str(kind)), ((undo,),))

    async def _unmark(self, turn: Turn, movie_id: int) -> Reply:
        removed = await self._store.unmark(turn.chat_id, movie_id, update_id=turn.update_id)
        title = self._title(movie_id)
        return Reply(texts.unmarked(title) if removed else texts.not_marked(title))

    async def _recommend(self, turn: Turn, arg: str) -> Replies:
        request = parse_request(arg, self._genre_names)
        if request.too_long or (
            request.not_understood and request.filters is None and not request.discover
        ):
            return (Reply(self._request_help(request)),)
        # Read the chat's state, pick the list and save it as the shown list in one transaction
        # (the store runs `make` inside it): one trip to the store, not three.
        results: list[RecommendResult] = []
        errors: list[FilterError] = []

        def make(state: ChatState) -> ShownList | None:
            try:
                result = self._pick(state, request, ())
            except FilterError as exc:
                errors.append(exc)
                return None
            results.append(result)
            return self._new_list(request, result)

        made = await self._store.make_shown(turn.chat_id, make, update_id=turn.update_id)
        if made is None and not errors:  # a redelivered update (nothing ran): its list number
            state = await self._store.state(turn.chat_id)
            shown = await asyncio.to_thread(make, state)
            if shown is not None:
                serial = await self._store.save_shown(turn.chat_id, shown, update_id=turn.update_id)
                made = state, replace(shown, serial=serial), serial
        if errors:
            return (Reply(texts.filter_error(str(errors[0]))),)
        assert made is not None  # set on every path without an error
        state, shown, _serial = made
        result = results[-1]
        ignored = [self._title(m) for m in result.ignored]
        return (self._card(shown, 0, state, request, fallback=result.fallback, ignored=ignored),)

    def _new_list(self, request: ListRequest, result: RecommendResult) -> ShownList:
        """The shown list (serial 0: a new one) of a picked result."""
        items = [it for it in result.items if it.movie_id in self._title_of]
        return ShownList(
            0,
            request.canonical(),
            tuple(it.movie_id for it in items),
            tuple(it.because[: texts.MAX_BECAUSE] for it in items),
        )

    def _request_help(self, request: ListRequest) -> str:
        return texts.request_help(
            request.not_understood, self._genre_names.genres, too_long=request.too_long
        )

    def _pick(
        self, state: ChatState, request: ListRequest, exclude: tuple[int, ...]
    ) -> RecommendResult:
        """The engine's list for a chat's state and request (worker thread)."""
        wanted = RECOMMENDATIONS * (8 if request.all_genres else 1)
        result = self._rec.recommend(
            state.favorites,
            wanted,
            dislikes=state.dislikes,
            seen=(*state.seen, *exclude),
            filters=request.filters,
            discover=request.discover,
        )
        if request.all_genres:  # romcom: romance *and* comedy
            items = tuple(
                it
                for it in result.items
                if request.all_genres <= set(self._genres_of.get(it.movie_id, ()))
            )
            result = replace(result, items=items[:RECOMMENDATIONS])
        return result

    def _card(
        self,
        shown: ShownList,
        page: int,
        state: ChatState,
        request: ListRequest,
        *,
        fallback: bool = False,
        ignored: Sequence[str] = (),
        edit: bool = False,
    ) -> Reply:
        """One page of a recommendation list, with each movie's feedback buttons or choice."""
        first = page * RECOMMENDATIONS
        movies = shown.movies[first : first + RECOMMENDATIONS]
        because = shown.because[first : first + RECOMMENDATIONS]
        marks = _said(movies, state)
        new = [m for m in movies if m not in self._urls and m in self._title_of]
        if new:  # the links of the movies no card showed yet, in one catalog lookup
            self._urls.update(movie_urls(self._rec.catalog, new))
        asked = request.filters.genres if request.filters is not None else frozenset()
        title_of = self._title_of
        lines = [
            texts.CardLine(
                self._title(m),
                self._url(m),
                _first(self._genres_of.get(m, ()), asked),
                tuple([title_of[b] for b in why if b in title_of]),
                mark,
            )
            for m, why, mark in zip(movies, because, marks, strict=True)
        ]
        # Button data ``kind:LIST:MOVIE`` (what button_data builds), written out: 31 of them a
        # card; the 🔎 button of a movie is the same on every card (made once per movie).
        like, dislike, seen, undo = (f"{kind}:{shown.serial}:" for kind in _CARD_KINDS)
        rows: list[tuple[Button, ...]] = []
        for number, (m, mark) in enumerate(zip(movies, marks, strict=True), first + 1):
            similar = self._similar_buttons.get(m)
            if similar is None:
                similar = self._similar_buttons[m] = Button(
                    texts.CARD_SIMILAR, data=button_data(Kind.SIMILAR, m)
                )
            if mark is not None:
                rows.append((Button(texts.card_undo(number), data=f"{undo}{m}"), similar))
                continue
            rows.append(
                (
                    Button(texts.card_like(number), data=f"{like}{m}"),
                    Button(texts.CARD_DISLIKE, data=f"{dislike}{m}"),
                    Button(texts.CARD_SEEN, data=f"{seen}{m}"),
                    similar,
                )
            )
        last_page = first + len(movies) == len(shown.movies)
        if len(movies) == RECOMMENDATIONS and last_page and len(shown.movies) < MAX_SHOWN:
            rows.append((Button(texts.BUTTON_MORE, data=button_data(Kind.MORE, shown.serial)),))
        text = texts.recommendation_card(
            lines,
            first=first + 1,
            understood=request.understood,
            discover=request.discover,
            fallback=fallback,
            ignored=ignored,
            not_understood=request.not_understood,
        )
        return Reply(text, tuple(rows), edit=edit)

    async def _similar(self, turn: Turn, arg: str) -> Replies:
        return await self._resolved("similar", arg, Kind.SIMILAR, self._similar_to)

    async def _similar_to(self, movie_id: int) -> Reply:
        found = await asyncio.to_thread(self._rec.similar, movie_id, SIMILAR)
        found = tuple(s for s in found if s.movie_id in self._title_of and s.movie_id != movie_id)
        title = self._title(movie_id)
        if not found:
            return Reply(texts.similar_unknown(title))
        text = texts.similar(
            title, [(self._title(s.movie_id), self._url(s.movie_id)) for s in found]
        )
        return Reply(text, self._movie_rows(s.movie_id for s in found))

    async def _why(self, turn: Turn, arg: str) -> Replies:
        return await self._resolved("why", arg, Kind.WHY, lambda m: self._explain(turn, m))

    async def _explain(self, turn: Turn, movie_id: int) -> Reply:
        title = self._title(movie_id)
        state = await self._store.state(turn.chat_id)
        favorites = state.favorites
        if not favorites:
            return Reply(texts.why_no_favorites(title))
        why = functools.partial(self._rec.why, movie_id, favorites, dislikes=state.dislikes)
        exp = await asyncio.to_thread(why)
        if not exp.known:
            return Reply(texts.why_unknown(title))
        contributions = [(m, c) for m, c in exp.contributions if m != movie_id]
        positive = [(m, c) for m, c in contributions if c > 0 and m in self._title_of]
        total = sum(c for _, c in positive) or 1.0
        pushes = [(self._title(m), round(100 * c / total)) for m, c in positive[:3]]
        negative = sorted((c, m) for m, c in contributions if c < 0 and m in self._title_of)
        pulls = [self._title(m) for _, m in negative[:3]]
        text = texts.why(
            title,
            rank=exp.rank,
            n_items=exp.n_items,
            is_favorite=movie_id in favorites,
            pushes=pushes,
            pulls=pulls,
            ignored=[self._title(m) for m in exp.ignored],
        )
        similar_button = Button(
            texts.BUTTON_SIMILAR_SHORT, data=button_data(Kind.SIMILAR, movie_id)
        )
        rows: Rows = (
            ((similar_button,),)
            if movie_id in favorites
            else (
                (
                    Button(texts.BUTTON_LIKE_IT, data=button_data(Kind.LIKE, movie_id)),
                    similar_button,
                ),
            )
        )
        return Reply(text, rows)

    async def _reset(self, turn: Turn, arg: str) -> Replies:
        count = len(await self._store.favorites(turn.chat_id))
        if not count:
            return (Reply(texts.reset_nothing()),)
        return (Reply(texts.reset_confirm(count), _reset_rows(count)),)

    async def _plain(self, turn: Turn, text: str) -> Replies:
        if not text:
            return (Reply(texts.start()),)
        if is_small_talk(text):
            return (Reply(texts.small_talk()),)
        res: Resolution | None = None
        if "\n" in text:  # one title a line: add them all
            parts, res = await asyncio.to_thread(self._split, text)
            if len(parts) > 1:
                return await self._like_many(turn, parts)
        if res is None:
            res = await self._resolve(text)
        movie_id = self._matched(res)
        if movie_id is None:
            return self._unresolved(res, Kind.LIKE)
        rows = (
            (
                Button(texts.BUTTON_YES_ADD, data=button_data(Kind.LIKE, movie_id)),
                Button(texts.BUTTON_SIMILAR, data=button_data(Kind.SIMILAR, movie_id)),
            ),
        )
        return (Reply(texts.offer_like(self._title(movie_id)), rows),)

    # -- import and export ---------------------------------------------------------------------

    async def _export(self, turn: Turn, arg: str) -> Replies:
        state = await self._store.state(turn.chat_id)
        count = len(state.favorites) + len(state.dislikes) + len(state.seen)
        if not count:
            return (Reply(texts.export_empty()),)
        lists = {"favorites": state.favorites, "dislikes": state.dislikes, "seen": state.seen}
        data = await asyncio.to_thread(export_csv, self._rec.catalog, lists)
        document = Document(EXPORT_NAME, data)
        return (Reply(texts.export_caption(count), document=document),)

    async def _import(self, turn: Turn, upload: Upload) -> Replies:
        """Check the document, download it, import it in one transaction, answer once."""
        refusal = check_upload(upload.name, upload.size, upload.mime)
        if refusal is not None:
            return (Reply(texts.import_refused(refusal)),)
        try:
            data = bytes(await upload.download())
        except Exception as exc:  # Telegram's or the network's: say so, nothing is written
            logger.warning("Download of a document failed in chat %s: %r", turn.chat_id, exc)
            return (Reply(texts.download_failed()),)
        resolver = await self._import_resolver()
        state = await self._store.state(turn.chat_id)
        existing = {
            ImportAction.LIKE: state.favorites,
            ImportAction.DISLIKE: state.dislikes,
            ImportAction.SEEN: state.seen,
        }
        try:
            summary = await asyncio.to_thread(import_file, data, upload.name, resolver, existing)
        except ImportFileError as exc:
            return (Reply(texts.import_refused(str(exc))),)
        import_id = turn.update_id if turn.update_id is not None else new_import_id()
        written = await self.write_import(turn, summary, import_id)
        rows: Rows = ()
        if written.added:
            undo = Button(texts.BUTTON_UNDO_IMPORT, data=button_data(Kind.UNDO_IMPORT, import_id))
            rows = ((undo,),)
        return (Reply(texts.imported(self.import_result(summary, written)), rows),)

    async def write_import(self, turn: Turn, summary: ImportSummary, import_id: int) -> ImportWrite:
        """Write an import's additions in one transaction (also ``moviebot import --chat``)."""
        additions = [(movie_id, str(action)) for movie_id, action in summary.additions]
        return await self._store.import_movies(
            turn.chat_id, additions, import_id=import_id, update_id=turn.update_id
        )

    def import_result(self, summary: ImportSummary, written: ImportWrite) -> texts.ImportResult:
        """What :func:`bot.texts.imported` says about an import."""
        if written.full:
            added = {"movies": written.added}  # the caps cut the lists: only the total is known
        else:
            added = dict(Counter(str(action) for _, action in summary.additions))
        skipped = Counter(r.reason or "unreadable" for r in summary.skipped)
        return texts.ImportResult(
            files=summary.files,
            added=added,
            already=len(summary.already),
            absent=summary.not_in_catalog,
            skipped=dict(skipped),
            full=written.full,
            limits=(self._favorites_limit, self._marks_limit),
        )

    async def _import_resolver(self) -> ImportResolver:
        """The catalog's import resolver, built on first use (a few seconds, in a thread)."""
        async with self._resolver_lock:
            if self._resolver is None:
                titles = self._titles if isinstance(self._titles, TitleIndex) else None
                build = functools.partial(
                    ImportResolver, self._rec.catalog, titles=titles, identity=self._identity
                )
                self._resolver = await asyncio.to_thread(build)
            return self._resolver

    async def _press_undo_import(self, turn: Turn, action: Action) -> ButtonAnswer:
        if action.import_id is None:  # pragma: no cover - excluded by _ARGUMENTS
            raise ValueError("undo button without an import")
        removed = await self._store.undo_import(
            turn.chat_id, action.import_id, update_id=turn.update_id
        )
        return ButtonAnswer(
            texts.notice_undone("the import"), (Reply(texts.import_undone(removed)),)
        )

    # -- buttons -------------------------------------------------------------------------------

    async def _press(self, turn: Turn, data: str) -> ButtonAnswer:
        action = parse_button(data)
        if action is None or (
            action.movie_id is not None and action.movie_id not in self._title_of
        ):
            logger.info("Expired or forged button in chat %s", turn.chat_id)
            return ButtonAnswer(texts.notice_expired(), (Reply(texts.expired()),))
        return await _PRESSES[action.kind](self, turn, action)

    async def _press_like(self, turn: Turn, action: Action) -> ButtonAnswer:
        movie_id = _movie(action)
        reply, outcome = await self._add_counted(turn, movie_id)
        notice = (
            texts.notice_full()
            if outcome == AddOutcome.LIMIT
            else texts.notice_added(self._title(movie_id))
        )
        return ButtonAnswer(notice, (reply,))

    async def _press_similar(self, turn: Turn, action: Action) -> ButtonAnswer:
        return ButtonAnswer(replies=(await self._similar_to(_movie(action)),))

    async def _press_why(self, turn: Turn, action: Action) -> ButtonAnswer:
        return ButtonAnswer(replies=(await self._explain(turn, _movie(action)),))

    async def _press_page(self, turn: Turn, action: Action) -> ButtonAnswer:
        page = await self._favorites_page(turn, action.page or 0, edit=True)
        return ButtonAnswer(replies=(page,))

    async def _press_reset(self, turn: Turn, action: Action) -> ButtonAnswer:
        if not action.confirm:
            return ButtonAnswer(replies=(Reply(texts.reset_cancelled(), edit=True),))
        # The button carries the count its question showed: the list is emptied only if it still
        # holds that many (checked in the store's transaction); otherwise the question is asked
        # again with the new count. A button without a count (older versions) asks again too.
        cleared = -1
        if action.count is not None:
            cleared = await self._store.clear(
                turn.chat_id, update_id=turn.update_id, expected=action.count
            )
        if cleared >= 0:
            return ButtonAnswer(replies=(Reply(texts.reset_done(cleared), edit=True),))
        count = len(await self._store.favorites(turn.chat_id))
        if not count:
            return ButtonAnswer(replies=(Reply(texts.reset_nothing(), edit=True),))
        text = texts.reset_changed(count)
        reply = Reply(text, _reset_rows(count), edit=True)
        return ButtonAnswer(texts.notice_reset_changed(), (reply,))

    async def _press_dislike(self, turn: Turn, action: Action) -> ButtonAnswer:
        movie_id = _movie(action)
        reply = await self._mark(turn, movie_id, Mark.DISLIKE)
        return ButtonAnswer(texts.notice_marked(self._title(movie_id), "dislike"), (reply,))

    async def _press_seen(self, turn: Turn, action: Action) -> ButtonAnswer:
        movie_id = _movie(action)
        reply = await self._mark(turn, movie_id, Mark.SEEN)
        return ButtonAnswer(texts.notice_marked(self._title(movie_id), "seen"), (reply,))

    async def _press_unmark(self, turn: Turn, action: Action) -> ButtonAnswer:
        return ButtonAnswer(replies=(await self._unmark(turn, _movie(action)),))

    async def _press_card(self, turn: Turn, action: Action) -> ButtonAnswer:
        """A feedback button of a recommendation card: store it, then edit the card in place."""
        movie_id, chat = _movie(action), turn.chat_id
        title = self._title(movie_id)
        if action.kind is Kind.CARD_LIKE:
            added = await self._store.add(chat, movie_id, update_id=turn.update_id)
            notice = texts.notice_full() if added == AddOutcome.LIMIT else texts.notice_added(title)
        elif action.kind is Kind.CARD_UNDO:
            before = await self._store.state(chat)
            if movie_id in before.favorites:
                await self._store.remove(chat, movie_id, update_id=turn.update_id)
            else:
                await self._store.unmark(chat, movie_id, update_id=turn.update_id)
            notice = texts.notice_undone(title)
        else:
            kind = Mark.DISLIKE if action.kind is Kind.CARD_DISLIKE else Mark.SEEN
            marked = await self._store.mark(chat, movie_id, kind, update_id=turn.update_id)
            full = marked == AddOutcome.LIMIT
            notice = texts.notice_full() if full else texts.notice_marked(title, str(kind))
        try:
            shown = await self._store.shown(chat)
            state = await self._store.state(chat)
        except StoreUnavailable:  # the choice is committed: the toast confirms it
            return ButtonAnswer(notice)
        if shown is None or shown.serial != action.serial or movie_id not in shown.movies:
            return ButtonAnswer(notice)  # stored; an older list's message is left as it is
        page = shown.movies.index(movie_id) // RECOMMENDATIONS
        request = parse_request(shown.query, self._genre_names)
        return ButtonAnswer(notice, (self._card(shown, page, state, request, edit=True),))

    async def _press_more(self, turn: Turn, action: Action) -> ButtonAnswer:
        """The next movies of the chat's current list, never one it was shown already."""
        shown = await self._store.shown(turn.chat_id)
        if shown is None or shown.serial != action.serial:
            return ButtonAnswer(texts.list_replaced())
        if turn.update_id is not None and await self._store.outcome(turn.update_id) is not None:
            # A redelivered press: the ten its first delivery added are the list's last page.
            request = parse_request(shown.query, self._genre_names)
            state = await self._store.state(turn.chat_id)
            last = (len(shown.movies) - 1) // RECOMMENDATIONS
            return ButtonAnswer(replies=(self._card(shown, last, state, request),))
        if len(shown.movies) >= MAX_SHOWN:
            return ButtonAnswer(replies=(Reply(texts.list_end(len(shown.movies))),))
        request = parse_request(shown.query, self._genre_names)
        state = await self._store.state(turn.chat_id)
        try:
            result = await asyncio.to_thread(self._pick, state, request, shown.movies)
        except FilterError as exc:
            return ButtonAnswer(replies=(Reply(texts.filter_error(str(exc))),))
        items = [
            it
            for it in result.items
            if it.movie_id in self._title_of and it.movie_id not in shown.movies
        ][: MAX_SHOWN - len(shown.movies)]
        if not items:
            return ButtonAnswer(replies=(Reply(texts.nothing_more()),))
        longer = ShownList(
            shown.serial,
            shown.query,
            shown.movies + tuple(it.movie_id for it in items),
            shown.because + tuple(it.because[: texts.MAX_BECAUSE] for it in items),
        )
        await self._store.save_shown(turn.chat_id, longer, update_id=turn.update_id)
        page = len(shown.movies) // RECOMMENDATIONS
        return ButtonAnswer(replies=(self._card(longer, page, state, request),))

    async def _press_unlike(self, turn: Turn, action: Action) -> ButtonAnswer:
        movie_id, page = _movie(action), action.page
        if page is None:
            before = len(await self._store.favorites(turn.chat_id))
            return ButtonAnswer(replies=(await self._remove(turn, movie_id, before),))
        title = self._title(movie_id)
        # Asked of the store even when the list lacks it: a redelivered press gets the answer
        # of its first delivery (the store replays the recorded result).
        removed = await self._store.remove(turn.chat_id, movie_id, update_id=turn.update_id)
        notice = texts.notice_removed(title) if removed else texts.notice_already_removed(title)
        try:
            page_reply = await self._favorites_page(turn, page, edit=True)
        except StoreUnavailable:  # the removal is committed: confirm it without the new page
            return ButtonAnswer(notice, (Reply(texts.removed(title, None)),))
        return ButtonAnswer(notice, (page_reply,))


EXPORT_NAME = "moviebot-lists.csv"
IMPORT_EXTENSIONS = (".csv", ".zip")
IMPORT_MIMES = frozenset(
    {
        "text/csv",
        "text/comma-separated-values",
        "application/csv",
        "application/zip",
        "application/x-zip-compressed",
        "application/vnd.ms-excel",
    }
)


def check_upload(name: str, size: int | None, mime: str | None) -> str | None:
    """Why a document cannot be an export, judged before downloading it; None if it may be."""
    if size is not None and size > MAX_FILE_BYTES:
        return texts.file_too_big(size)
    if not name.lower().endswith(IMPORT_EXTENSIONS) and (mime or "").lower() not in IMPORT_MIMES:
        return texts.not_an_export_file(name)
    return None


def catalog_fingerprint(catalog: pd.DataFrame) -> str:
    """A digest of the catalog's movie ids and titles: another release or model, another digest."""
    digest = hashlib.sha256()
    for movie_id, title in zip(catalog.index.tolist(), catalog["title"].tolist(), strict=True):
        digest.update(f"{movie_id}\t{title}\n".encode())
    return digest.hexdigest()[:32]


def new_import_id() -> int:
    """An import id for an import without a Telegram update (microseconds since the epoch)."""
    return time.time_ns() // 1000


def catalog_info(recommender: Recommending) -> texts.CatalogInfo:
    """The release name, number of movies and newest year of the recommender's catalog."""
    catalog = recommender.catalog
    metadata = getattr(recommender, "metadata", None)
    name = metadata.get("release") if isinstance(metadata, dict) else None
    newest: int | None = None
    if "year" in catalog.columns and len(catalog):
        years = catalog["year"].dropna()
        newest = int(years.max()) if len(years) else None
    return texts.CatalogInfo(str(name) if name else None, len(catalog), newest)


def _reset_rows(count: int) -> Rows:
    """The buttons of a /reset question about a list of ``count`` favorites."""
    return (
        (
            Button(texts.BUTTON_RESET_YES, data=button_data(Kind.RESET, "yes", count)),
            Button(texts.BUTTON_RESET_NO, data=button_data(Kind.RESET, "no")),
        ),
    )


def _first(genres: tuple[str, ...], asked: frozenset[str]) -> tuple[str, ...]:
    """A movie's genres, those the request ``asked`` for first."""
    if not asked:
        return genres
    return tuple(sorted(genres, key=lambda g: g not in asked))


def _said(movies: Sequence[int], state: ChatState) -> list[str | None]:
    """What the chat said about each shown movie: ``like``, ``dislike``, ``seen`` or nothing.

    One pass over each list in C (``set.intersection``), not a scan per movie: a chat may hold
    thousands of marks.
    """
    said: dict[int, str] = {}
    wanted = set(movies)
    lists = (("like", state.favorites), ("dislike", state.dislikes), ("seen", state.seen))
    for kind, chosen in lists:
        for movie_id in wanted.intersection(chosen):
            said.setdefault(movie_id, kind)
    return [said.get(m) for m in movies]


_CARD_KINDS = (Kind.CARD_LIKE, Kind.CARD_DISLIKE, Kind.CARD_SEEN, Kind.CARD_UNDO)
"""The kinds of a recommendation card's buttons besides 🔎, in the order ``_card`` uses them."""


def _movie(action: Action) -> int:
    """The movie of a movie button (the argument table guarantees one)."""
    if action.movie_id is None:  # pragma: no cover - excluded by _ARGUMENTS
        raise ValueError(f"{action.kind} button without a movie")
    return action.movie_id


Press = Callable[[MovieBot, Turn, Action], Awaitable[ButtonAnswer]]
_PRESSES: dict[Kind, Press] = {
    Kind.LIKE: MovieBot._press_like,
    Kind.UNLIKE: MovieBot._press_unlike,
    Kind.SIMILAR: MovieBot._press_similar,
    Kind.WHY: MovieBot._press_why,
    Kind.PAGE: MovieBot._press_page,
    Kind.RESET: MovieBot._press_reset,
    Kind.DISLIKE: MovieBot._press_dislike,
    Kind.SEEN: MovieBot._press_seen,
    Kind.UNMARK: MovieBot._press_unmark,
    Kind.CARD_LIKE: MovieBot._press_card,
    Kind.CARD_DISLIKE: MovieBot._press_card,
    Kind.CARD_SEEN: MovieBot._press_card,
    Kind.CARD_UNDO: MovieBot._press_card,
    Kind.MORE: MovieBot._press_more,
    Kind.UNDO_IMPORT: MovieBot._press_undo_import,
}
"""The method that answers each kind of button (every :class:`Kind` has one)."""


# ---------------------------------------------------------------------------------------------
# The command registry


@dataclass(frozen=True)
class Command:
    """One command: its name, aliases, handler, whether it takes a title, and its texts."""

    name: str
    handler: Callable[[MovieBot, Turn, str], Awaitable[Replies]]
    text: texts.CommandText
    aliases: tuple[str, ...] = ()
    takes_title: bool = False

    def help_entry(self) -> texts.HelpEntry:
        """What /help and the menu say about this command."""
        return texts.HelpEntry(self.name, self.text, self.aliases, self.takes_title)


COMMANDS: tuple[Command, ...] = (
    Command("like", MovieBot._like, texts.LIKE, takes_title=True),
    Command("unlike", MovieBot._unlike, texts.UNLIKE, ("remove",), takes_title=True),
    Command("dislike", MovieBot._dislike, texts.DISLIKE, ("notforme",), takes_title=True),
    Command("seen", MovieBot._seen, texts.SEEN, ("watched",), takes_title=True),
    Command("favorites", MovieBot._favorites, texts.FAVORITES, ("fav", "favs", "favourites")),
    Command("recommend", MovieBot._recommend, texts.RECOMMEND, ("rec", "recs", "recommendations")),
    Command("similar", MovieBot._similar, texts.SIMILAR, takes_title=True),
    Command("why", MovieBot._why, texts.WHY, takes_title=True),
    Command("reset", MovieBot._reset, texts.RESET),
    Command("export", MovieBot._export, texts.EXPORT),
    Command("help", MovieBot._help, texts.HELP),
    Command("start", MovieBot._start, texts.START),
)
"""Every command, in the order of the Telegram menu."""

_MARK_WORDS: dict[str, Mark] = {
    word: kind
    for kind, words in (
        (Mark.DISLIKE, ("dislikes", "dislike", "disliked", "not for me", "no", "👎")),
        (Mark.SEEN, ("seen", "watched", "👁")),
    )
    for word in words
}
"""``/favorites dislikes``, ``/favorites seen``: the words that show a chat's marks."""

_SPECS: dict[str, Command] = {c.name: c for c in COMMANDS}
_DISPATCH: dict[str, Command] = {name: c for c in COMMANDS for name in (c.name, *c.aliases)}


def menu() -> tuple[tuple[str, str], ...]:
    """The Telegram command menu: (command, description) pairs."""
    return tuple((c.name, c.text.menu) for c in COMMANDS)
