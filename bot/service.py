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
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from bot import texts
from bot.locks import ChatLocks
from bot.ratelimit import Admission, FloodLimiter
from bot.store import StoreUnavailable
from recsys.movielens import movie_url

if TYPE_CHECKING:
    import pandas as pd

    from bot.store import AddOutcome
    from recsys.engine import Explanation, RecommendResult, SimilarMovie
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
        if (self.data is None) == (self.url is None):
            raise ValueError("a button has exactly one of data and url")
        if self.data is not None and len(self.data.encode()) > MAX_CALLBACK_DATA:
            raise ValueError(f"callback data over {MAX_CALLBACK_DATA} bytes: {self.data!r}")


Rows = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Reply:
    """A message to show: Telegram HTML and rows of buttons.

    ``edit`` asks a transport to replace the message whose button was pressed (a refreshed
    favorites page, a confirmed reset) instead of sending a new one.
    """

    text: str
    buttons: Rows = ()
    edit: bool = False


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

    def recommend(self, favorites: Iterable[int], n: int = 10) -> RecommendResult: ...  # noqa: D102

    def similar(self, movie_id: int, n: int = 10) -> tuple[SimilarMovie, ...]: ...  # noqa: D102

    def why(self, movie_id: int, favorites: Iterable[int]) -> Explanation: ...  # noqa: D102

    def knows(self, movie_id: int) -> bool: ...  # noqa: D102


class Resolving(Protocol):
    """:class:`recsys.titles.TitleIndex`."""

    def resolve(self, query: str) -> Resolution: ...  # noqa: D102


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

    async def clear(self, chat_id: int, *, update_id: int | None = None) -> int: ...  # noqa: D102


# ---------------------------------------------------------------------------------------------
# Button data: ``kind:arguments``; one table says which arguments each kind takes


class Kind(StrEnum):
    """What a button does; its value is the prefix of the button's callback data."""

    LIKE = "like"  # like:MOVIE
    UNLIKE = "un"  # un:MOVIE, or un:MOVIE:PAGE on a favorites page
    SIMILAR = "sim"  # sim:MOVIE
    WHY = "why"  # why:MOVIE
    PAGE = "fav"  # fav:PAGE
    RESET = "reset"  # reset:yes / reset:no


@dataclass(frozen=True)
class Action:
    """A parsed button: its ``kind`` and arguments."""

    kind: Kind
    movie_id: int | None = None
    page: int | None = None
    confirm: bool | None = None


_MOVIE = r"(?P<movie>[1-9][0-9]{0,9})"
_PAGE = r"(?P<page>[0-9]{1,4})"
_ARGUMENTS: dict[Kind, re.Pattern[str]] = {
    Kind.LIKE: re.compile(_MOVIE),
    Kind.UNLIKE: re.compile(rf"{_MOVIE}(?::{_PAGE})?"),
    Kind.SIMILAR: re.compile(_MOVIE),
    Kind.WHY: re.compile(_MOVIE),
    Kind.PAGE: re.compile(_PAGE),
    Kind.RESET: re.compile(r"(?P<confirm>yes|no)"),
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
    )


def button_data(kind: Kind | str, *args: int | str | None) -> str:
    """Build ``kind:arg:arg`` (``None`` arguments are left out)."""
    return ":".join([str(kind), *(str(a) for a in args if a is not None)])


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
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._rec = recommender
        self._titles = titles
        self._store = store
        self._limiter = limiter
        self._favorites_limit = favorites_limit
        self._page_size = page_size
        catalog = recommender.catalog
        self._title_of: dict[int, str] = dict(
            zip(catalog.index.tolist(), catalog["title"].tolist(), strict=True)
        )
        self._urls: dict[int, str] = {}
        self._locks = ChatLocks()

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
        return await self._guarded(turn, lambda: spec.handler(self, turn, arg.strip()))

    async def text(self, chat_id: int, text: str, *, update_id: int | None = None) -> Replies:
        """Answer a plain (non-command) message: offer to like the movie it names."""
        turn = Turn(chat_id, update_id)
        return await self._guarded(turn, lambda: self._plain(text.strip()))

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

    async def unsupported(self, chat_id: int) -> Replies:
        """Answer a sticker, photo or anything else that is not text."""

        async def work() -> Replies:
            return (Reply(texts.not_text()),)

        return await self._guarded(Turn(chat_id), work)

    def movie_title(self, movie_id: int) -> str | None:
        """The catalog title of ``movie_id`` (None if it is not in the catalog)."""
        return self._title_of.get(movie_id)

    # -- plumbing ------------------------------------------------------------------------------

    async def _guarded(self, turn: Turn, work: Callable[[], Awaitable[Replies]]) -> Replies:
        """Flood limit, then the chat's lock, then ``work``; a dead store is said politely."""
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
                return await work()
            except StoreUnavailable as exc:
                logger.warning("Store unavailable for chat %s: %s", turn.chat_id, exc)
                return (Reply(texts.unavailable()),)

    async def _resolve(self, query: str) -> Resolution:
        return await asyncio.to_thread(self._titles.resolve, query)

    async def _resolved(self, command: str, arg: str, kind: Kind, act: Act) -> Replies:
        """Resolve the title in ``arg`` and ``act`` on the movie; else usage, choices or not found.

        Choices are buttons of ``kind`` (pressing one does what ``act`` would have done).
        """
        if not arg:
            return (Reply(texts.usage(command, _SPECS[command].text.example)),)
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
            return (Reply(texts.not_found(res.query)),)
        if res.status == "ambiguous":
            return (Reply(texts.pick_one(res.query), rows),)
        return (Reply(texts.did_you_mean(res.query), rows),)

    def _matched(self, res: Resolution) -> int | None:
        if res.status == "matched" and res.movie_id in self._title_of:
            return res.movie_id
        return None

    def _movie_rows(self, movie_ids: Iterable[int]) -> Rows:
        """A like and a similar button for each movie of a list."""
        return tuple(
            (
                Button(texts.label("👍", self._title(m)), data=button_data(Kind.LIKE, m)),
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
        return await self._resolved("like", arg, Kind.LIKE, lambda m: self._add(turn, m))

    async def _add(self, turn: Turn, movie_id: int) -> Reply:
        outcome = await self._store.add(turn.chat_id, movie_id, update_id=turn.update_id)
        title = self._title(movie_id)
        if outcome == "limit":
            return Reply(texts.list_full(self._favorites_limit))
        if outcome == "already":
            return Reply(texts.already(title))
        try:
            count: int | None = len(await self._store.favorites(turn.chat_id))
        except StoreUnavailable:
            count = None  # the add is committed: say so, even if the list cannot be counted now
        rows = (
            (
                Button(texts.BUTTON_SIMILAR, data=button_data(Kind.SIMILAR, movie_id)),
                Button(texts.BUTTON_UNDO, data=button_data(Kind.UNLIKE, movie_id)),
            ),
        )
        return Reply(texts.added(title, count), rows)

    async def _unlike(self, turn: Turn, arg: str) -> Replies:
        if not arg:
            return (Reply(texts.usage("unlike", _SPECS["unlike"].text.example)),)
        res = await self._resolve(arg)
        favorites = await self._store.favorites(turn.chat_id)
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
        return (Reply(texts.not_found(res.query)),)

    async def _remove(self, turn: Turn, movie_id: int, count: int) -> Reply:
        removed = await self._store.remove(turn.chat_id, movie_id, update_id=turn.update_id)
        title = self._title(movie_id)
        if not removed:
            return Reply(texts.not_a_favorite(title))
        rows = ((Button(texts.BUTTON_ADD_BACK, data=button_data(Kind.LIKE, movie_id)),),)
        return Reply(texts.removed(title, max(count - 1, 0)), rows)

    async def _favorites(self, turn: Turn, arg: str) -> Replies:
        return (await self._favorites_page(turn, 0, edit=False),)

    async def _favorites_page(self, turn: Turn, page: int, *, edit: bool) -> Reply:
        favorites = await self._store.favorites(turn.chat_id)
        if not favorites:
            return Reply(texts.favorites_empty(), edit=edit)
        pages = -(-len(favorites) // self._page_size)
        page = min(max(page, 0), pages - 1)
        first = page * self._page_size
        shown = favorites[first : first + self._page_size]
        rows: list[tuple[Button, ...]] = [
            (Button(texts.label("❌", self._title(m)), data=button_data(Kind.UNLIKE, m, page)),)
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
            [self._title(m) for m in shown], first=first + 1, total=len(favorites)
        )
        return Reply(text, tuple(rows), edit=edit)

    async def _recommend(self, turn: Turn, arg: str) -> Replies:
        favorites = await self._store.favorites(turn.chat_id)
        result = await asyncio.to_thread(self._rec.recommend, favorites, RECOMMENDATIONS)
        items = [it for it in result.items if it.movie_id in self._title_of]
        lines = [
            texts.RecommendationLine(
                self._title(it.movie_id),
                self._url(it.movie_id),
                tuple(self._title(b) for b in it.because),
            )
            for it in items
        ]
        text = texts.recommendations(
            lines, fallback=result.fallback, ignored=[self._title(m) for m in result.ignored]
        )
        return (Reply(text, self._movie_rows(it.movie_id for it in items)),)

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
        favorites = await self._store.favorites(turn.chat_id)
        if not favorites:
            return Reply(texts.why_no_favorites(title))
        exp = await asyncio.to_thread(self._rec.why, movie_id, favorites)
        if not exp.known:
            return Reply(texts.why_unknown(title))
        positive = [(m, c) for m, c in exp.contributions if c > 0 and m in self._title_of]
        total = sum(c for _, c in positive) or 1.0
        pushes = [(self._title(m), round(100 * c / total)) for m, c in positive[:3]]
        negative = sorted((c, m) for m, c in exp.contributions if c < 0 and m in self._title_of)
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
        rows = (
            (
                Button(texts.BUTTON_RESET_YES, data=button_data(Kind.RESET, "yes")),
                Button(texts.BUTTON_RESET_NO, data=button_data(Kind.RESET, "no")),
            ),
        )
        return (Reply(texts.reset_confirm(count), rows),)

    async def _plain(self, text: str) -> Replies:
        if not text:
            return (Reply(texts.start()),)
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
        reply = await self._add(turn, movie_id)
        return ButtonAnswer(texts.notice_added(self._title(movie_id)), (reply,))

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
        cleared = await self._store.clear(turn.chat_id, update_id=turn.update_id)
        return ButtonAnswer(replies=(Reply(texts.reset_done(cleared), edit=True),))

    async def _press_unlike(self, turn: Turn, action: Action) -> ButtonAnswer:
        movie_id, page = _movie(action), action.page
        favorites = await self._store.favorites(turn.chat_id)
        if page is None:
            return ButtonAnswer(replies=(await self._remove(turn, movie_id, len(favorites)),))
        title = self._title(movie_id)
        if movie_id in favorites:
            await self._store.remove(turn.chat_id, movie_id, update_id=turn.update_id)
            notice = texts.notice_removed(title)
        else:
            notice = texts.notice_already_removed(title)
        try:
            page_reply = await self._favorites_page(turn, page, edit=True)
        except StoreUnavailable:  # the removal is committed: confirm it without the new page
            return ButtonAnswer(notice, (Reply(texts.removed(title, None)),))
        return ButtonAnswer(notice, (page_reply,))


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
    Command("unlike", MovieBot._unlike, texts.UNLIKE, takes_title=True),
    Command("favorites", MovieBot._favorites, texts.FAVORITES),
    Command("recommend", MovieBot._recommend, texts.RECOMMEND),
    Command("similar", MovieBot._similar, texts.SIMILAR, takes_title=True),
    Command("why", MovieBot._why, texts.WHY, takes_title=True),
    Command("reset", MovieBot._reset, texts.RESET),
    Command("help", MovieBot._help, texts.HELP),
    Command("start", MovieBot._start, texts.START),
)
"""Every command, in the order of the Telegram menu."""

_SPECS: dict[str, Command] = {c.name: c for c in COMMANDS}
_DISPATCH: dict[str, Command] = {name: c for c in COMMANDS for name in (c.name, *c.aliases)}


def menu() -> tuple[tuple[str, str], ...]:
    """The Telegram command menu: (command, description) pairs."""
    return tuple((c.name, c.text.menu) for c in COMMANDS)
