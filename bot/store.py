"""Each chat's favorite movies in SQLite or PostgreSQL (SQLAlchemy 2; an asyncio API).

Only chat ids, movie ids and the ids of applied Telegram updates are stored. Every change runs in
one transaction that holds the chat's lock (``pg_advisory_xact_lock`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite) and is committed before the method returns; a change made for a
Telegram ``update_id`` records that id in the same transaction, so a redelivered update is not
applied twice. PostgreSQL runs on SQLAlchemy's asyncio engine (asyncpg); SQLite runs each whole
transaction in one call to a worker thread of the store (SQLAlchemy's engine on sqlite3), which
costs a third of the CPU of aiosqlite's thread hop per statement; each thread keeps its
connections, and the statements of the hot paths run straight on sqlite3 (compiled once by
SQLAlchemy, values through the column types' processors: :func:`_rows`). See docs/storage.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    exc,
    false,
    func,
    inspect,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Dialect, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql.expression import CompoundSelect, Delete, Insert, Select, Update

from bot.locks import ChatLocks
from recsys.identity import IdentityIndex, MovieIdentity

logger = logging.getLogger(__name__)

metadata = MetaData()


def _identity_columns() -> list[Column[Any]]:
    """What a stored movie *is* besides its id (migration 0003; see docs/storage.md).

    ``identity``: :meth:`recsys.identity.MovieIdentity.encode`, taken from ``release`` when the
    movie was stored (never rewritten from another catalog). ``missing``: the loaded catalog has
    no such movie; the row is kept and hidden, its ``movie_id`` a negative placeholder
    (``-(position + 1)``) so that the id is free for the catalog's own movie of that number.
    ``reported``: the chat was told. ``import_id``: the import that added it (undo removes those).
    """
    return [
        Column("identity", Text, nullable=True),
        Column("release", String(64), nullable=True),
        Column("missing", Boolean, nullable=False, server_default=false()),
        Column("reported", Boolean, nullable=False, server_default=false()),
        Column("import_id", BigInteger, nullable=True),
    ]


favorites_table = Table(
    "favorites",
    metadata,
    Column("chat_id", BigInteger, nullable=False),
    Column("movie_id", Integer, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("added_at", DateTime, nullable=False),
    *_identity_columns(),
    PrimaryKeyConstraint("chat_id", "movie_id", name="favorites_pkey"),
)
"""One row per favorite; ``position`` grows per chat, so ordering by it is the order of adding."""

applied_updates_table = Table(
    "applied_updates",
    metadata,
    Column("update_id", BigInteger, primary_key=True, autoincrement=False),
    Column("applied_at", DateTime, nullable=False, index=True),
    Column("result", Integer, nullable=False),
)
"""Telegram updates whose change was committed, with its result (replayed on redelivery)."""

marks_table = Table(
    "marks",
    metadata,
    Column("chat_id", BigInteger, nullable=False),
    Column("movie_id", Integer, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("added_at", DateTime, nullable=False),
    *_identity_columns(),
    PrimaryKeyConstraint("chat_id", "movie_id", name="marks_pkey"),
)
"""A chat's "not for me" (``dislike``) and "seen it" (``seen``) movies: one mark per movie."""

shown_lists_table = Table(
    "shown_lists",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("serial", Integer, nullable=False),
    Column("query", String(200), nullable=False),
    Column("movies", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)
"""The recommendation list a chat was shown last: its number, its request and its movies (JSON)."""

store_catalog_table = Table(
    "store_catalog",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("release", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("updated_at", DateTime, nullable=False),
)
"""The catalog the stored movie ids refer to (one row, ``name = 'current'``)."""

MIGRATIONS = "bot:migrations"
"""Alembic's script location: the schema is made and upgraded by these migrations at open."""
FIRST_REVISION = "0001"
"""The schema of the releases before migrations (a database they made is stamped with it)."""
MAX_ADD_MANY = 15
"""The most movies one :meth:`FavoritesStore.add_many` adds (their outcomes fit the result)."""
MAX_IMPORT = 20_000
"""The most movies one import writes (the import's own row limit)."""
MAX_SHOWN = 100
"""The most movies one shown list keeps (ten "More" pages)."""

INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)

UPDATE_RETENTION = timedelta(days=2)
"""How long applied update ids are kept: Telegram keeps an unconfirmed update for 24 hours."""
PRUNE_EVERY = 256
"""Old update ids are pruned by the change whose ``update_id`` is a multiple of this."""

CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection (PostgreSQL) or to wait for SQLite's write lock."""
STATEMENT_TIMEOUT = 5.0
"""Seconds a PostgreSQL statement or lock wait may take before the store reports unavailable."""

_CURRENT_CATALOG = "current"
_IMPORT_KINDS = frozenset({"like", "dislike", "seen"})
_SCHEMA_LOCK = (0x6D6F7669, 0x65626F74)  # two-key advisory lock space: never a chat's bigint key
_READ_ONLY = "moviebot_read_only"  # execution option: an SQLite reader needs no BEGIN IMMEDIATE
_SQLITE_THREADS = 4  # one writer at a time, the rest for concurrent readers
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57", "58")  # connection, resources, shutdown, system
_UNAVAILABLE_SQLSTATES = frozenset({"55P03", "40001", "40P01"})  # lock timeout, serialization
_FAULT_EVERY = 60.0  # seconds between two ERROR lines about the same storage fault
_LOW_SPACE = 1 << 20  # bytes: less free than this beside an I/O error reads as a full disk


@dataclass(frozen=True)
class Alignment:
    """What :meth:`FavoritesStore.align_catalog` did."""

    switched: bool  # the stored ids referred to another catalog
    found: int  # rows found in the loaded catalog (when switched)
    missing: int  # rows kept but not in the loaded catalog (when switched)
    merged: int  # rows dropped because another row of the chat is the same film
    filled: int  # rows that got their identity (same catalog)
    to_tell: frozenset[int]  # chats with missing movies they were not told about


@dataclass(frozen=True)
class MissingMovie:
    """A stored movie the loaded catalog does not have: its list and its title."""

    kind: str  # like, dislike, seen
    title: str


@dataclass(frozen=True)
class ImportWrite:
    """What :meth:`FavoritesStore.import_movies` wrote, and what the caps left out."""

    added: int
    full: int


class StoreUnavailable(RuntimeError):
    """The database cannot be reached; nothing was written."""


class StoreFault(StoreUnavailable):
    """The database answers but cannot keep a change until its operator acts.

    The message says what is wrong and what to do (logged at ERROR): the SQLite file was deleted
    or replaced while the bot ran (``lost``), it is read-only, its disk is full or failing, or a
    PostgreSQL server refuses writes (a read-only standby) or is out of disk. Nothing was written.
    """

    def __init__(self, message: str, *, lost: bool = False) -> None:
        super().__init__(message)
        self.lost = lost
        """True when the store writes to a file that is no longer the database at its path:
        every later change would be lost, so none is accepted until a restart."""


class BadDatabaseUrl(ValueError):
    """The database URL names neither SQLite nor PostgreSQL (with a driver the store uses)."""


class Mark(StrEnum):
    """What a chat said about a movie besides liking it."""

    DISLIKE = "dislike"  # not for me
    SEEN = "seen"  # seen it (or: do not show it again)


@dataclass(frozen=True)
class ChatState:
    """A chat's favorites, dislikes and seen movies, each in the order they were added."""

    favorites: tuple[int, ...] = ()
    dislikes: tuple[int, ...] = ()
    seen: tuple[int, ...] = ()

    def mark_of(self, movie_id: int) -> Mark | None:
        """The movie's mark, if any."""
        if movie_id in self.dislikes:
            return Mark.DISLIKE
        if movie_id in self.seen:
            return Mark.SEEN
        return None


@dataclass(frozen=True)
class ShownList:
    """A recommendation list as shown: its number per chat, its request, and its movies.

    ``because`` holds, per movie, the favorites named as its reason.
    """

    serial: int
    query: str
    movies: tuple[int, ...]
    because: tuple[tuple[int, ...], ...]


class AddOutcome(StrEnum):
    """What :meth:`FavoritesStore.add` (and :meth:`FavoritesStore.mark`) did."""

    ADDED = "added"
    ALREADY = "already"
    LIMIT = "limit"


_ADD_CODES = {AddOutcome.ADDED: 1, AddOutcome.ALREADY: 2, AddOutcome.LIMIT: 3}
_ADD_OUTCOMES = {code: outcome for outcome, code in _ADD_CODES.items()}

# Statements are built once: SQLAlchemy then only looks their compiled form up in its cache.
_fav = favorites_table.c
_mark = marks_table.c
_app = applied_updates_table.c
_CHAT = bindparam("chat_id", type_=BigInteger)
_MOVIE = bindparam("movie_id", type_=Integer)
_LOCK_CHAT = select(func.pg_advisory_xact_lock(_CHAT))
_LOCK_SCHEMA = select(func.pg_advisory_xact_lock(*_SCHEMA_LOCK))
_RECORDED = select(_app.result).where(_app.update_id == bindparam("update_id"))
_RECORD = applied_updates_table.insert()
_PRUNE = delete(applied_updates_table).where(_app.applied_at < bindparam("before"))
_VISIBLE = _fav.missing == false()
_CHAT_STATE = select(
    func.coalesce(func.sum(case((_VISIBLE, 1), else_=0)), 0),
    func.max(_fav.position),
    func.coalesce(func.sum(case((_fav.movie_id == _MOVIE, 1), else_=0)), 0),
    select(func.count())  # the movie is disliked: liking it removes that mark
    .where(_mark.chat_id == _CHAT, _mark.movie_id == _MOVIE, _mark.kind == str(Mark.DISLIKE))
    .scalar_subquery(),
).where(_fav.chat_id == _CHAT)
_REMOVE = delete(favorites_table).where(_fav.chat_id == _CHAT, _fav.movie_id == _MOVIE)
_CLEAR = delete(favorites_table).where(_fav.chat_id == _CHAT, _VISIBLE)
_CLEAR_HIDDEN = delete(favorites_table).where(_fav.chat_id == _CHAT, _fav.missing)
_LIST = (
    select(_fav.movie_id)
    .where(_fav.chat_id == _CHAT, _VISIBLE)
    .order_by(_fav.position, _fav.movie_id)
)
_APPEND = {
    name: insert(favorites_table)
    .on_conflict_do_nothing(index_elements=[_fav.chat_id, _fav.movie_id])
    .returning(_fav.movie_id)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}

_shown = shown_lists_table.c
_MARK_VISIBLE = _mark.missing == false()
_MARK_STATE = select(
    func.coalesce(func.sum(case((_MARK_VISIBLE, 1), else_=0)), 0),
    func.max(_mark.position),
    func.max(case((_mark.movie_id == _MOVIE, _mark.kind), else_=None)),
).where(_mark.chat_id == _CHAT)
_UNMARK = delete(marks_table).where(_mark.chat_id == _CHAT, _mark.movie_id == _MOVIE)
_UNMARK_DISLIKE = _UNMARK.where(_mark.kind == str(Mark.DISLIKE))
_SET_MARK = update(marks_table).where(
    _mark.chat_id == bindparam("the_chat", type_=BigInteger),
    _mark.movie_id == bindparam("the_movie", type_=Integer),
)
_ADD_MARK = marks_table.insert()
_SHOWN = select(_shown.serial, _shown.query, _shown.movies).where(_shown.chat_id == _CHAT)
_ADD_SHOWN = shown_lists_table.insert()
# Replace a chat's shown list in one statement: the next serial (wrapping), or the given one.
_SHOWN_VALUES = {
    "query": bindparam("the_query", type_=String(200)),
    "movies": bindparam("the_movies", type_=Text),
    "updated_at": bindparam("the_time", type_=DateTime),
}
_WHERE_SHOWN = _shown.chat_id == bindparam("the_chat", type_=BigInteger)
_NEXT_SHOWN = (
    update(shown_lists_table)
    .where(_WHERE_SHOWN)
    .values(serial=_shown.serial % INT32[1] + 1, **_SHOWN_VALUES)
    .returning(_shown.serial)
)
_SET_SHOWN = (
    update(shown_lists_table)
    .where(_WHERE_SHOWN)
    .values(serial=bindparam("the_serial", type_=Integer), **_SHOWN_VALUES)
    .returning(_shown.serial)
)
# A chat's favorites ("" kind) and marks in one read, each in its own order.
_STATE = union_all(
    select(_fav.movie_id, literal("").label("kind"), _fav.position).where(
        _fav.chat_id == _CHAT, _VISIBLE
    ),
    select(_mark.movie_id, _mark.kind, _mark.position).where(_mark.chat_id == _CHAT, _MARK_VISIBLE),
).order_by("kind", "position", "movie_id")

Change = Callable[[Connection, datetime], int]


# -- the hot statements on SQLite ------------------------------------------------------------
#
# SQLAlchemy's ``Connection.execute`` costs 40-60 µs of CPU per statement (cache key, execution
# context, result object), where SQLite's own work is a few µs: a /recommend's transaction runs
# four statements, a /like's three or four. On SQLite the statements of those paths run straight
# on the driver's connection instead: SQLAlchemy compiles each once (its own SQL), the column
# types' own bind and result processors convert the values (a DateTime becomes SQLAlchemy's text
# form, exactly as through ``execute``), and a driver error is wrapped the way SQLAlchemy wraps it,
# so the store's error translation is unchanged. PostgreSQL goes through ``execute`` as before.
# (bench/bench_bot.py; docs/storage.md, "SQLite or PostgreSQL")

Statement = Select[Any] | CompoundSelect[Any] | Insert | Update | Delete
Row = tuple[Any, ...]


@dataclass(frozen=True)
class _Plan:
    """A statement compiled for SQLite: its SQL, and how to make its arguments and rows."""

    sql: str
    binds: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]  # name, default, processor
    results: tuple[Callable[[Any], Any] | None, ...] | None  # None: rows need no conversion

    @classmethod
    def compile(cls, statement: Statement, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        binds = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            if bind.expanding or bind.literal_execute:  # pragma: no cover - not in hot statements
                raise ValueError(f"{name}: a bind rendered at execution cannot run straight")
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            binds.append((name, bind.value, process))
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.exported_columns
        )
        return cls(compiled.string, tuple(binds), results if any(results) else None)

    def arguments(self, params: dict[str, Any]) -> tuple[Any, ...]:
        """The positional arguments of the SQL (bind processors applied)."""
        values = []
        for name, default, process in self.binds:
            value = params.get(name, default)
            values.append(value if process is None or value is None else process(value))
        return tuple(values)


_PLANS: dict[tuple[Statement, tuple[str, ...]], _Plan] = {}


def _rows(conn: Connection, statement: Statement, params: dict[str, Any]) -> Sequence[Row]:
    """``conn.execute(statement, params).all()``, straight on the driver on SQLite."""
    if conn.dialect.name != "sqlite":
        result = conn.execute(statement, params)
        return result.all() if result.returns_rows else []
    keys = tuple(params)
    plan = _PLANS.get((statement, keys))
    if plan is None:
        plan = _PLANS[statement, keys] = _Plan.compile(statement, conn.dialect, keys)
    found = _run_on_driver(conn, plan.sql, plan.arguments(params))
    if plan.results is None:
        return found
    return [
        tuple(v if p is None else p(v) for v, p in zip(row, plan.results, strict=True))
        for row in found
    ]


def _run_on_driver(conn: Connection, sql: str, arguments: tuple[Any, ...] = ()) -> list[Row]:
    """Runs SQL on an SQLite connection's sqlite3 connection; errors wrapped as SQLAlchemy does.

    A driver error becomes SQLAlchemy's ``DBAPIError`` subclass for it (``OperationalError`` for
    a locked or unreadable database, ...), and a closed connection is invalidated, as
    ``Connection.execute`` would do: :func:`_is_unavailable` and the fault diagnosis see the same
    errors either way.
    """
    driver = conn.connection.driver_connection
    try:
        return driver.execute(sql, arguments).fetchall()  # type: ignore[no-any-return,union-attr]
    except sqlite3.Error as error:
        dbapi = conn.connection.dbapi_connection
        gone = conn.dialect.is_disconnect(error, dbapi, None)  # type: ignore[arg-type]
        wrapped = exc.DBAPIError.instance(
            sql, arguments, error, sqlite3.Error, connection_invalidated=gone, dialect=conn.dialect
        )
        if gone:
            conn.invalidate(wrapped)
        raise wrapped from error


def _first(conn: Connection, statement: Statement, params: dict[str, Any]) -> Row | None:
    """The first row of :func:`_rows` (None: none)."""
    found = _rows(conn, statement, params)
    return found[0] if found else None


def _scalar(conn: Connection, statement: Statement, params: dict[str, Any]) -> Any:
    """The first column of the first row of :func:`_rows` (None: no row)."""
    found = _rows(conn, statement, params)
    return found[0][0] if found else None


T = TypeVar("T")


class _Database(Protocol):
    """Runs a synchronous body on a connection, inside a transaction when it writes."""

    dialect: str

    async def run(self, body: Callable[[Connection], T], *, write: bool) -> T: ...

    async def dispose(self) -> None: ...


class _PostgresDatabase:
    """PostgreSQL through SQLAlchemy's asyncio engine; the chat lock serialises per chat."""

    dialect = "postgresql"

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def run(self, body: Callable[[Connection], T], *, write: bool) -> T:
        """Runs the body in one greenlet: one switch per call, not one per statement."""
        context = self._engine.begin() if write else self._engine.connect()
        async with context as conn:
            return await conn.run_sync(body)

    async def dispose(self) -> None:
        """Closes the pool."""
        await self._engine.dispose()


class _SqliteDatabase:
    """An SQLite file: each call runs whole in one of the store's threads.

    Once the schema is made, the file's identity (device and inode) is pinned; every write
    checks, just before its COMMIT, that the path still names that file. A file deleted or
    replaced while the bot runs would otherwise take the changes into a file nobody will open
    again: they are refused instead (:class:`StoreFault` with ``lost``), and a failed write is
    told apart — read-only file, full or failing disk — by looking at the file and its disk.
    """

    dialect = "sqlite"

    def __init__(self, engine: Engine, path: Path | None = None) -> None:
        self._engine = engine
        self._path = path
        self._pinned: tuple[int, int] | None = None
        self._threads = ThreadPoolExecutor(_SQLITE_THREADS, thread_name_prefix="favorites")
        # SQLite has one writer at a time: queue this process's writers here instead of spinning
        # in SQLite's busy handler; other processes are waited for by the busy timeout.
        self._write_lock = asyncio.Lock()
        # Each thread keeps its reading and its writing connection (a pool checkout and return
        # cost 40-60 µs of CPU per call); a connection that saw an error is closed and replaced.
        self._local = threading.local()
        self._kept: set[Connection] = set()  # every thread's connections, closed at dispose
        self._kept_lock = threading.Lock()

    def pin(self) -> None:
        """Remember which file the path names now (called once the schema exists)."""
        if self._path is not None:
            with contextlib.suppress(OSError):
                found = os.stat(self._path)
                self._pinned = (found.st_dev, found.st_ino)

    async def run(self, body: Callable[[Connection], T], *, write: bool) -> T:
        """Runs the body in a worker thread; writers one at a time."""
        loop = asyncio.get_running_loop()
        if not write:
            return await loop.run_in_executor(self._threads, self._read, body)
        async with self._write_lock:
            return await loop.run_in_executor(self._threads, self._write, body)

    def _connection(self, role: str) -> Connection:
        """This thread's connection for ``reader`` or ``writer`` calls (opened at first use)."""
        conn: Connection | None = getattr(self._local, role, None)
        if conn is None or conn.closed:  # (closed: the store was closed and is used again)
            conn = self._engine.connect()
            if role == "reader":
                conn = conn.execution_options(**{_READ_ONLY: True})
            setattr(self._local, role, conn)
            with self._kept_lock:
                self._kept.add(conn)
        return conn

    def _drop(self, role: str) -> None:
        """Closes this thread's connection for ``role`` after an error; the next call opens one.

        A connection is never reused in an unknown state.
        """
        conn: Connection | None = getattr(self._local, role, None)
        setattr(self._local, role, None)
        if conn is not None:
            with self._kept_lock:
                self._kept.discard(conn)
            with contextlib.suppress(Exception):
                conn.close()

    def _read(self, body: Callable[[Connection], T]) -> T:
        conn = self._connection("reader")
        try:
            result = body(conn)
            if conn.in_transaction():  # SQLAlchemy's own bookkeeping (no BEGIN was sent)
                conn.rollback()
        except BaseException:
            self._drop("reader")
            raise
        return result

    def _write(self, body: Callable[[Connection], T]) -> T:
        try:
            conn = self._connection("writer")  # opening it may fail: diagnosed below
            with conn.begin():
                result = body(conn)
                self.check_file()  # raising here rolls the transaction back
                return result
        except StoreFault:
            self._drop("writer")
            raise
        except Exception as error:
            self._drop("writer")
            fault = self.diagnose(error)
            if fault is None:
                raise
            raise fault from error

    def check_file(self) -> None:
        """Raises :class:`StoreFault` (``lost``) when the path no longer names the pinned file.

        One ``stat`` (about a microsecond): see docs/storage.md for its cost per command.
        """
        if self._pinned is None or self._path is None:
            return
        try:
            found = os.stat(self._path)
        except FileNotFoundError:
            raise StoreFault(_lost_message(self._path, "was deleted"), lost=True) from None
        except OSError:
            return  # cannot look (a permission on the folder): the write itself will tell
        if (found.st_dev, found.st_ino) != self._pinned:
            raise StoreFault(_lost_message(self._path, "was replaced by another file"), lost=True)

    def diagnose(self, error: BaseException) -> StoreFault | None:
        """What a failed write means for the file and its disk; None for anything else.

        SQLite's own codes are coarse (an immutable file or a read-only mount reads as "disk
        I/O error" once the file is open), so the file is looked at: is it still there, can it
        be opened for writing, is there space left on its disk.
        """
        name = str(getattr(getattr(error, "orig", error), "sqlite_errorname", "") or "")
        if self._path is None or not any(
            code in name for code in ("READONLY", "FULL", "IOERR", "CANTOPEN")
        ):
            return None
        try:
            self.check_file()
        except StoreFault as lost:
            return lost
        folder = self._path.parent
        free = _free_bytes(folder)
        if "FULL" in name or ("IOERR" in name and free is not None and free < _LOW_SPACE):
            return StoreFault(
                f"disk full at {folder} ({_size(free)} free): free space on that disk; "
                "changes are refused until then (users are told, nothing is half-written)"
            )
        for path in (self._path, Path(f"{self._path}-wal"), Path(f"{self._path}-shm")):
            why = _not_writable(path)
            if why is not None:
                return StoreFault(
                    f"the favorites database file {path} is read-only ({why}): make "
                    f"{self._path.name}, its -wal and -shm files and the folder {folder} "
                    f"writable for user {_user()}; changes are refused until then"
                )
        if "READONLY" in name or not os.access(folder, os.W_OK):
            return StoreFault(
                f"the favorites database {self._path} is read-only: make the folder {folder} "
                f"and the file writable for user {_user()}; changes are refused until then"
            )
        return StoreFault(
            f"disk I/O error writing the favorites database {self._path} "
            f"({name or type(error).__name__}): check the disk and the file system; changes "
            "are refused until it works again"
        )

    async def dispose(self) -> None:
        """Closes the connections and stops the threads."""
        await asyncio.get_running_loop().run_in_executor(self._threads, self._close)
        self._threads.shutdown(wait=False)

    def _close(self) -> None:
        """Closes every thread's connections (the threads are idle), then the pool."""
        with self._kept_lock:
            kept, self._kept = self._kept, set()
        for conn in kept:
            with contextlib.suppress(Exception):
                conn.close()
        self._engine.dispose()


def _lost_message(path: Path, what: str) -> str:
    return (
        f"the favorites database file {path} {what} while the bot was running: changes are "
        "refused (not acknowledged: Telegram delivers them again), because the file the bot "
        "has open is no longer the database. Put the file back (with its -wal and -shm files) "
        "or accept a new empty one, then restart the bot"
    )


def _free_bytes(folder: Path) -> int | None:
    try:
        found = os.statvfs(folder)
    except OSError:
        return None
    return found.f_bavail * found.f_frsize


def _size(free: int | None) -> str:
    if free is None:
        return "unknown space"
    return f"{free / (1 << 20):.1f} MiB" if free >= 1 << 20 else f"{free:,} bytes"


def _not_writable(path: Path) -> str | None:
    """Why ``path`` cannot be opened for writing (None: it can, or it does not exist)."""
    try:
        handle = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return None
    except OSError as error:
        reasons = {
            errno.EACCES: "permission denied",
            errno.EPERM: "operation not permitted: immutable? see lsattr",
            errno.EROFS: "read-only file system",
        }
        return reasons.get(error.errno or 0, os.strerror(error.errno or 0))
    os.close(handle)
    return None


def _user() -> str:
    """The user this process runs as (name and uid), for messages."""
    uid = os.getuid()
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


class FavoritesStore:
    """Per-chat favorites; safe for many concurrent coroutines and for several processes."""

    def __init__(self, database: _Database, *, limit: int, marks_limit: int | None = None) -> None:
        """Wraps a database made by :meth:`open`; use ``await FavoritesStore.open(url)``."""
        self._database = database
        self._limit = limit
        self._marks_limit = marks_limit if marks_limit is not None else 4 * limit
        self._postgres = database.dialect == "postgresql"
        self._append = _APPEND[database.dialect]
        # Changes in one chat queue here before taking a pooled connection: a busy chat waiting
        # for its advisory lock must not hold every connection of the pool.
        self._chat_locks = ChatLocks()
        self._identities: IdentityIndex | None = None
        self._release: str | None = None
        self._to_tell: set[int] = set()  # chats with missing movies they were not told about
        self._fault: StoreFault | None = None  # the storage fault of the last failed change
        self._fault_logged = (0.0, "")  # when, and which message, was last logged at ERROR

    @classmethod
    async def open(
        cls, url: str, *, limit: int = 500, marks_limit: int | None = None
    ) -> FavoritesStore:
        """Connects to the database and brings its schema up to date (Alembic migrations).

        A brand-new database gets every table; one made by a release before migrations (it has
        ``favorites`` but no ``alembic_version``) is stamped with the first revision and upgraded
        in place: nothing in it is lost.

        Args:
            url: ``sqlite+aiosqlite:///path/to/file.sqlite3`` or
                ``postgresql+asyncpg://user:password@host:port/database``; ``sqlite://``,
                ``postgresql://`` and ``postgres://`` are accepted too. For SQLite,
                ``?timeout=SECONDS`` sets how long a writer waits for another process's lock.
            limit: The most favorites a chat may keep.
            marks_limit: The most dislikes and seen movies a chat may keep (default 4 × limit).

        Raises:
            BadDatabaseUrl: The URL is not SQLite or PostgreSQL, or names no SQLite file (a
                ValueError).
            ValueError: The limit is below 1.
            StoreFault: The SQLite file is read-only, its disk is full, or its folder cannot be
                created (a StoreUnavailable: the message says what to do).
            StoreUnavailable: The database cannot be reached or created.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        database = _connect(_parse_url(url))
        store = cls(database, limit=limit, marks_limit=marks_limit)
        try:
            await store._create_schema()
        except BaseException:
            await database.dispose()
            raise
        if isinstance(database, _SqliteDatabase):
            database.pin()
        return store

    @property
    def limit(self) -> int:
        """The most favorites a chat may keep."""
        return self._limit

    @property
    def marks_limit(self) -> int:
        """The most dislikes and seen movies a chat may keep."""
        return self._marks_limit

    @property
    def lost(self) -> str | None:
        """Why changes can no longer be kept (the SQLite file was deleted or replaced), or None.

        Set by the first change that found it out; it lasts until the process ends. The
        transports stop acknowledging updates when it is set, so Telegram delivers them again
        to the restarted bot.
        """
        fault = self._fault
        return str(fault) if fault is not None and fault.lost else None

    async def ping(self) -> None:
        """Checks that the database answers a read and that changes can still be kept.

        Raises:
            StoreFault: The SQLite file was deleted or replaced (found now or by a change).
            StoreUnavailable: The database cannot be reached.
        """
        if self._fault is not None and self._fault.lost:
            raise self._fault

        def query(conn: Connection) -> None:
            conn.execute(select(literal(1))).scalar()

        async with self._translate_errors():
            await self._database.run(query, write=False)
            if isinstance(self._database, _SqliteDatabase):
                self._database.check_file()

    @property
    def fault(self) -> str | None:
        """The storage fault of the last failed change (None once a change succeeds again)."""
        return None if self._fault is None else str(self._fault)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._database.dialect

    async def add(self, chat_id: int, movie_id: int, *, update_id: int | None = None) -> AddOutcome:
        """Adds a movie at the end of the chat's list unless it is there or the list is full.

        Args:
            chat_id: Telegram chat id (64-bit; negative for groups).
            movie_id: MovieLens movie id.
            update_id: The Telegram update asking for it; if that update was already applied, its
                outcome is returned and nothing changes.

        Raises:
            StoreUnavailable: The database cannot be reached; nothing was written.
        """
        return (await self.add_counted(chat_id, movie_id, update_id=update_id))[0]

    async def add_counted(
        self, chat_id: int, movie_id: int, *, update_id: int | None = None
    ) -> tuple[AddOutcome, int | None]:
        """:meth:`add`, and the size of the list after it, read in the same transaction.

        The size is None when ``update_id`` was already applied (the outcome is the recorded
        one; the list may have changed since): ask :meth:`favorites` then.
        """
        _check_ids(chat_id, movie_id, update_id)
        sizes: list[int] = []

        def change(conn: Connection, now: datetime) -> int:
            outcome, size = self._insert(conn, chat_id, movie_id, now)
            sizes.append(size)
            return _ADD_CODES[outcome]

        outcome = _ADD_OUTCOMES[await self._mutate(chat_id, update_id, change)]
        return outcome, (sizes[0] if sizes else None)

    async def add_many(
        self, chat_id: int, movie_ids: Sequence[int], *, update_id: int | None = None
    ) -> tuple[AddOutcome, ...]:
        """Adds several movies in one transaction (one Telegram update: ``/like a, b, c``).

        At most :data:`MAX_ADD_MANY` movies; the outcomes are recorded with the update, so a
        redelivered update gets the same answer.

        Raises:
            StoreUnavailable: The database cannot be reached; nothing was written.
            ValueError: More than :data:`MAX_ADD_MANY` movies, or an id out of range.
        """
        if len(movie_ids) > MAX_ADD_MANY:
            raise ValueError(f"at most {MAX_ADD_MANY} movies at once, not {len(movie_ids)}")
        for movie_id in movie_ids:
            _check_ids(chat_id, movie_id, update_id)

        def change(conn: Connection, now: datetime) -> int:
            code = 0
            for i, movie_id in enumerate(movie_ids):
                outcome, _size = self._insert(conn, chat_id, movie_id, now)
                code |= _ADD_CODES[outcome] << (2 * i)
            return code

        code = await self._mutate(chat_id, update_id, change)
        return tuple(_ADD_OUTCOMES[(code >> (2 * i)) & 3] for i in range(len(movie_ids)))

    async def remove(self, chat_id: int, movie_id: int, *, update_id: int | None = None) -> bool:
        """Removes a movie from the chat's list; True if it was there.

        Raises:
            StoreUnavailable: The database cannot be reached; nothing was written.
        """
        _check_ids(chat_id, movie_id, update_id)

        def change(conn: Connection, now: datetime) -> int:
            removed = conn.execute(_REMOVE, {"chat_id": chat_id, "movie_id": movie_id})
            return -movie_id if removed.rowcount else 0  # recorded: see :meth:`outcome`

        return bool(await self._mutate(chat_id, update_id, change))

    async def outcome(self, update_id: int) -> int | None:
        """The result recorded for a Telegram update's change; None if none was applied.

        A redelivered update is answered from it (docs/bot.md, "Redelivered updates"). For
        :meth:`remove` it is minus the removed movie id, 0 when nothing was removed (1 in records
        written before the movie id was kept); for :meth:`clear` the number removed (-1: the list
        had changed and was kept); for :meth:`add` and :meth:`mark` the outcome's code.

        Raises:
            StoreUnavailable: The database cannot be reached.
        """
        _check_ids(0, None, update_id)

        def query(conn: Connection) -> int | None:
            recorded = conn.execute(_RECORDED, {"update_id": update_id}).scalar()
            return None if recorded is None else int(recorded)

        async with self._translate_errors():
            return await self._database.run(query, write=False)

    async def favorites(self, chat_id: int) -> list[int]:
        """The chat's movie ids in the order they were added.

        Raises:
            StoreUnavailable: The database cannot be reached.
        """
        _check_ids(chat_id, None, None)

        def query(conn: Connection) -> list[int]:
            return [int(movie) for (movie,) in _rows(conn, _LIST, {"chat_id": chat_id})]

        async with self._translate_errors():
            return await self._database.run(query, write=False)

    async def clear(
        self, chat_id: int, *, update_id: int | None = None, expected: int | None = None
    ) -> int:
        """Empties the chat's list; returns how many favorites were removed.

        Favorites hidden because the loaded catalog lacks them go too (not counted). With
        ``expected`` (the count a confirmation showed) the list is emptied only if it still holds
        that many visible favorites; otherwise nothing changes and -1 is returned.

        Raises:
            StoreUnavailable: The database cannot be reached; nothing was written.
        """
        _check_ids(chat_id, None, update_id)

        def change(conn: Connection, now: datetime) -> int:
            if expected is not None:
                held = len(conn.execute(_LIST, {"chat_id": chat_id}).all())
                if held != expected:
                    return -1
            conn.execute(_CLEAR_HIDDEN, {"chat_id": chat_id})  # gone too, but not counted
            return int(conn.execute(_CLEAR, {"chat_id": chat_id}).rowcount)

        return await self._mutate(chat_id, update_id, change)

    async def mark(
        self, chat_id: int, movie_id: int, kind: Mark, *, update_id: int | None = None
    ) -> AddOutcome:
        """Marks a movie "not for me" or "seen" (replacing its other mark).

        A disliked movie leaves the favorites in the same transaction. ``LIMIT``: the chat has
        :attr:`marks_limit` marks already and this movie is not one of them.

        Raises:
            StoreUnavailable: The database cannot be reached; nothing was written.
        """
        _check_ids(chat_id, movie_id, update_id)
        kind = Mark(kind)

        def change(conn: Connection, now: datetime) -> int:
            ids = {"chat_id": chat_id, "movie_id": movie_id}
            count, last, current = _rows(conn, _MARK_STATE, ids)[0]
            if kind is Mark.DISLIKE:
                _rows(conn, _REMOVE, ids)
            if current == kind:
                return _ADD_CODES[AddOutcome.ALREADY]
            if current is not None:
                key = {"the_chat": chat_id, "the_movie": movie_id}
                _rows(conn, _SET_MARK, {**key, "kind": str(kind), "added_at": now})
                return _ADD_CODES[AddOutcome.ADDED]
            if count >= self._marks_limit:
                return _ADD_CODES[AddOutcome.LIMIT]
            position = 0 if last is None else last + 1
            row = {**ids, "kind": str(kind), "position": position, "added_at": now}
            _rows(conn, _ADD_MARK, {**row, **self._identity_fields(movie_id)})
            return _ADD_CODES[AddOutcome.ADDED]

        return _ADD_OUTCOMES[await self._mutate(chat_id, update_id, change)]

    async def unmark(self, chat_id: int, movie_id: int, *, update_id: int | None = None) -> bool:
        """Removes a movie's dislike or seen mark; True if it had one.

        Raises:
            StoreUnavailable: The database cannot be reached; nothing was written.
        """
        _check_ids(chat_id, movie_id, update_id)

        def change(conn: Connection, now: datetime) -> int:
            removed = conn.execute(_UNMARK, {"chat_id": chat_id, "movie_id": movie_id})
            return min(1, removed.rowcount)

        return bool(await self._mutate(chat_id, update_id, change))

    async def state(self, chat_id: int) -> ChatState:
        """The chat's favorites, dislikes and seen movies (one read).

        Raises:
            StoreUnavailable: The database cannot be reached.
        """
        _check_ids(chat_id, None, None)

        async with self._translate_errors():
            return await self._database.run(partial(_read_state, chat_id=chat_id), write=False)

    async def save_shown(
        self,
        chat_id: int,
        shown: ShownList,
        *,
        update_id: int | None = None,
    ) -> int:
        """Replaces the chat's shown list (at most :data:`MAX_SHOWN` movies are kept).

        Returns the list's serial number: ``shown.serial``, or one more than the stored list's
        when ``shown.serial`` is 0 (a new list).

        Raises:
            StoreUnavailable: The database cannot be reached; nothing was written.
        """
        _check_ids(chat_id, None, update_id)
        text = _shown_json(shown)
        return await self._mutate(chat_id, update_id, partial(_write_shown, chat_id, shown, text))

    async def make_shown(
        self,
        chat_id: int,
        make: Callable[[ChatState], ShownList | None],
        *,
        update_id: int | None = None,
    ) -> tuple[ChatState, ShownList, int] | None:
        """:meth:`state`, a new shown list made from it, and :meth:`save_shown`, in one transaction.

        ``make`` runs inside the transaction (in the store's thread for SQLite, on the event
        loop for PostgreSQL) and must be quick; it returns the list to save (its serial 0: a
        new list), or None to save nothing. Returns the state read, the list saved and its
        serial; None when ``make`` returned None or ``update_id`` was already applied (then
        nothing ran: read the state and the list apart).

        Raises:
            StoreUnavailable: The database cannot be reached; nothing was written.
        """
        _check_ids(chat_id, None, update_id)
        made: list[tuple[ChatState, ShownList]] = []

        def change(conn: Connection, now: datetime) -> int:
            state = _read_state(conn, chat_id=chat_id)
            shown = make(state)
            if shown is None:
                return 0
            text = _shown_json(shown)
            made.append((state, shown))
            return _write_shown(chat_id, shown, text, conn, now)

        serial = await self._mutate(chat_id, update_id, change)
        if not made:
            return None
        state, shown = made[0]
        return state, ShownList(serial, shown.query, shown.movies, shown.because), serial

    async def shown(self, chat_id: int) -> ShownList | None:
        """The chat's last shown list (None if none).

        Raises:
            StoreUnavailable: The database cannot be reached.
        """
        _check_ids(chat_id, None, None)

        def query(conn: Connection) -> ShownList | None:
            row = _first(conn, _SHOWN, {"chat_id": chat_id})
            if row is None:
                return None
            serial, query, text = row
            movies = json.loads(text)
            return ShownList(
                int(serial),
                str(query),
                tuple(int(m) for m, _ in movies),
                tuple(tuple(int(b) for b in because) for _, because in movies),
            )

        async with self._translate_errors():
            return await self._database.run(query, write=False)

    # -- identity across catalogs, imports ----------------------------------------------------

    async def align_catalog(
        self, index: IdentityIndex, release: str, fingerprint: str
    ) -> Alignment:
        """Points every stored movie at the loaded catalog (call once at start).

        New rows get their identity from ``index``. When the stored ids refer to another catalog
        (another ``fingerprint``: another release or a retrained model), every row of every chat
        is found again from its stored identity: found, it takes the catalog's id; not found, it
        is kept, flagged ``missing`` and hidden (never replaced by another movie), and the chat is
        told once (:meth:`take_missing`). A later start on a catalog that has it restores it.
        The first start after the upgrade to identities fills them from the catalog loaded then.

        Raises:
            StoreUnavailable: The database cannot be reached; nothing was written.
        """
        self._identities, self._release = index, release[:64]

        def body(conn: Connection) -> Alignment:
            if self._postgres:
                conn.execute(_LOCK_SCHEMA)
            return _align(conn, index, release[:64], fingerprint)

        async with self._translate_errors():
            alignment = await self._database.run(body, write=True)
        self._to_tell = set(alignment.to_tell)
        if alignment.switched:
            logger.info(
                "Stored movies mapped to %s: %d found, %d missing (kept), %d duplicates merged",
                release,
                alignment.found,
                alignment.missing,
                alignment.merged,
            )
        return alignment

    async def take_missing(self, chat_id: int) -> tuple[MissingMovie, ...]:
        """The chat's missing movies it was not told about yet, now marked as told.

        Costs nothing for a chat :meth:`align_catalog` found nothing to tell.

        Raises:
            StoreUnavailable: The database cannot be reached.
        """
        if chat_id not in self._to_tell:
            return ()

        def body(conn: Connection) -> tuple[MissingMovie, ...]:
            if self._postgres:
                conn.execute(_LOCK_CHAT, {"chat_id": chat_id})
            found: list[MissingMovie] = []
            for table, fixed in ((favorites_table, "like"), (marks_table, None)):
                c = table.c
                untold = (c.chat_id == chat_id) & c.missing & (c.reported == false())
                kind = c.kind if fixed is None else literal(fixed)
                for identity, what in conn.execute(
                    select(c.identity, kind).where(untold).order_by(c.position)
                ):
                    found.append(MissingMovie(str(what), _identity_title(identity)))
                conn.execute(update(table).where(untold).values(reported=True))
            return tuple(found)

        queue = self._chat_locks.hold(chat_id) if self._postgres else contextlib.nullcontext()
        async with queue, self._translate_errors():
            found = await self._database.run(body, write=True)
        self._to_tell.discard(chat_id)
        return found

    async def import_movies(
        self,
        chat_id: int,
        additions: Sequence[tuple[int, str]],
        *,
        import_id: int,
        update_id: int | None = None,
    ) -> ImportWrite:
        """Writes an import's movies in one transaction, within the per-chat caps.

        ``additions``: (movie id, ``like`` / ``dislike`` / ``seen``). Movies already in the
        chat's favorites (for a like) or marks (for the others) are left as they are; the rest
        are tagged with ``import_id``, which :meth:`undo_import` removes. What the caps leave out
        is counted in ``full``. A redelivered update returns the first answer.

        Raises:
            StoreUnavailable: The database cannot be reached; nothing was written.
            ValueError: An id out of range, an unknown kind, or more than :data:`MAX_IMPORT`.
        """
        if len(additions) > MAX_IMPORT:
            raise ValueError(f"at most {MAX_IMPORT} movies per import, not {len(additions)}")
        for movie_id, kind in additions:
            _check_ids(chat_id, movie_id, update_id)
            if kind not in _IMPORT_KINDS:
                raise ValueError(f"unknown list {kind!r}")
        _check_ids(chat_id, None, import_id)

        def change(conn: Connection, now: datetime) -> int:
            return self._import(conn, chat_id, additions, import_id, now)

        code = await self._mutate(chat_id, update_id, change)
        return ImportWrite(code & 0xFFFF, code >> 16)

    async def undo_import(
        self, chat_id: int, import_id: int, *, update_id: int | None = None
    ) -> int:
        """Removes exactly the movies that import added (still there); returns how many.

        Raises:
            StoreUnavailable: The database cannot be reached; nothing was written.
        """
        _check_ids(chat_id, None, update_id)
        _check_ids(chat_id, None, import_id)

        def change(conn: Connection, now: datetime) -> int:
            removed = 0
            for table in (favorites_table, marks_table):
                c = table.c
                gone = delete(table).where(c.chat_id == chat_id, c.import_id == import_id)
                removed += conn.execute(gone).rowcount
            return removed

        return await self._mutate(chat_id, update_id, change)

    def _identity_fields(self, movie_id: int) -> dict[str, str | None]:
        """The identity columns of a movie of the loaded catalog (empty before alignment)."""
        identity = self._identities.identity(movie_id) if self._identities is not None else None
        if identity is None:
            return {"identity": None, "release": None}
        return {"identity": identity.encode(), "release": self._release}

    def _import(
        self,
        conn: Connection,
        chat_id: int,
        additions: Sequence[tuple[int, str]],
        import_id: int,
        now: datetime,
    ) -> int:
        """The body of :meth:`import_movies`: ``added | full << 16``."""
        added = full = 0
        for table, kinds, limit in (
            (favorites_table, ("like",), self._limit),
            (marks_table, ("dislike", "seen"), self._marks_limit),
        ):
            c = table.c
            rows = conn.execute(
                select(c.movie_id, c.missing, c.position).where(c.chat_id == chat_id)
            ).all()
            present = {int(r.movie_id) for r in rows}
            count = sum(1 for r in rows if not r.missing)
            position = max((int(r.position) for r in rows), default=-1) + 1
            new: list[dict[str, Any]] = []
            for movie_id, kind in additions:
                if kind not in kinds or movie_id in present:
                    continue
                if count >= limit:
                    full += 1
                    continue
                present.add(movie_id)
                count += 1
                row = {
                    "chat_id": chat_id,
                    "movie_id": movie_id,
                    "position": position,
                    "added_at": now,
                    "import_id": import_id,
                    **self._identity_fields(movie_id),
                }
                if table is marks_table:
                    row["kind"] = kind
                new.append(row)
                position += 1
            if new:
                conn.execute(table.insert(), new)
                added += len(new)
        return added | full << 16

    async def close(self) -> None:
        """Closes every pooled connection."""
        await self._database.dispose()

    def _insert(
        self, conn: Connection, chat_id: int, movie_id: int, now: datetime
    ) -> tuple[AddOutcome, int]:
        """Appends the movie to the chat's list; the outcome and the list's size after it.

        The caller holds the chat's lock.
        """
        ids = {"chat_id": chat_id, "movie_id": movie_id}
        count, last, present, disliked = _rows(conn, _CHAT_STATE, ids)[0]
        if present:
            return AddOutcome.ALREADY, count
        if count >= self._limit:
            return AddOutcome.LIMIT, count
        position = 0 if last is None else last + 1
        row = {**ids, "position": position, "added_at": now, **self._identity_fields(movie_id)}
        inserted = _first(conn, self._append, row)
        if disliked:  # liked: not disliked
            _rows(conn, _UNMARK_DISLIKE, ids)
        if inserted is None:  # another writer added it first (PostgreSQL, several replicas)
            return AddOutcome.ALREADY, count + 1
        return AddOutcome.ADDED, count + 1

    async def _mutate(self, chat_id: int, update_id: int | None, change: Change) -> int:
        """Runs a change under the chat's lock in one transaction, once per Telegram update."""

        def body(conn: Connection) -> int:
            return self._apply(conn, chat_id, update_id, change)

        queue = self._chat_locks.hold(chat_id) if self._postgres else contextlib.nullcontext()
        async with queue, self._translate_errors():
            result = await self._database.run(body, write=True)
        if self._fault is not None and not self._fault.lost:
            logger.warning("The favorites database accepts changes again")
            self._fault = None
        return result

    def _apply(self, conn: Connection, chat_id: int, update_id: int | None, change: Change) -> int:
        """The body of :meth:`_mutate`, run in one go inside its transaction."""
        if self._postgres:
            conn.execute(_LOCK_CHAT, {"chat_id": chat_id})
        if update_id is not None:
            recorded = _scalar(conn, _RECORDED, {"update_id": update_id})
            if recorded is not None:
                return int(recorded)
        now = datetime.now(UTC).replace(tzinfo=None)
        result = change(conn, now)
        if update_id is not None:
            _rows(conn, _RECORD, {"update_id": update_id, "applied_at": now, "result": result})
            if update_id % PRUNE_EVERY == 0:
                _rows(conn, _PRUNE, {"before": now - UPDATE_RETENTION})
        return result

    async def _create_schema(self) -> None:
        """Runs the migrations up to the newest schema; replicas starting together take turns."""

        def create(conn: Connection) -> None:
            if self._postgres:
                conn.execute(_LOCK_SCHEMA)
            migrate(conn)

        async with self._translate_errors():
            await self._database.run(create, write=True)

    @contextlib.asynccontextmanager
    async def _translate_errors(self) -> AsyncIterator[None]:
        """Turns every "cannot reach the database" error into :class:`StoreUnavailable`."""
        try:
            yield
        except StoreFault as found:
            self._report(found)
            raise
        except StoreUnavailable:
            raise
        except Exception as error:
            fault = _postgres_fault(error)
            if fault is not None:
                self._report(fault)
                raise fault from error
            if not _is_unavailable(error):
                raise
            logger.warning("favorites database unavailable: %s: %s", type(error).__name__, error)
            raise StoreUnavailable("the favorites database cannot be reached") from error

    def _report(self, fault: StoreFault) -> None:
        """Logs a storage fault at ERROR: at once, then once a minute while it lasts."""
        if self._fault is None or not self._fault.lost:
            self._fault = fault
        now = time.monotonic()
        when, message = self._fault_logged
        if message != str(fault) or now - when >= _FAULT_EVERY:
            logger.error("Favorites database: %s", fault)
            self._fault_logged = (now, str(fault))


def _read_state(conn: Connection, *, chat_id: int) -> ChatState:
    """The chat's favorites, dislikes and seen movies (one SELECT)."""
    rows = _rows(conn, _STATE, {"chat_id": chat_id})
    return ChatState(
        tuple(int(m) for m, k, _p in rows if not k),
        tuple(int(m) for m, k, _p in rows if k == Mark.DISLIKE),
        tuple(int(m) for m, k, _p in rows if k == Mark.SEEN),
    )


def _shown_json(shown: ShownList) -> str:
    """The stored form of a shown list's first MAX_SHOWN movies and their reasons.

    Raises:
        ValueError: A movie id is out of the columns' range.
    """
    pairs = list(zip(shown.movies, shown.because, strict=True))[:MAX_SHOWN]
    ids = [*shown.movies[:MAX_SHOWN], *itertools.chain.from_iterable(shown.because[:MAX_SHOWN])]
    if ids and (min(ids) < INT32[0] or max(ids) > INT32[1]):
        raise ValueError("a movie id of the shown list is out of range")
    return json.dumps([[movie, list(because)] for movie, because in pairs], separators=(",", ":"))


def _write_shown(chat_id: int, shown: ShownList, text: str, conn: Connection, now: datetime) -> int:
    """Replaces the chat's shown list (``text``: :func:`_shown_json`); its serial number."""
    query = shown.query[:200]
    values = {"the_chat": chat_id, "the_query": query, "the_movies": text, "the_time": now}
    if shown.serial == 0:
        serial = _scalar(conn, _NEXT_SHOWN, values)
    else:
        serial = _scalar(conn, _SET_SHOWN, {**values, "the_serial": shown.serial})
    if serial is not None:
        return int(serial)
    first = shown.serial or 1
    row = {"chat_id": chat_id, "serial": first, "query": query, "movies": text}
    _rows(conn, _ADD_SHOWN, {**row, "updated_at": now})
    return first


def migrate(conn: Connection) -> None:
    """Brings the schema on ``conn`` to the newest revision (in the caller's transaction).

    A database made before migrations existed (``favorites`` without ``alembic_version``) is
    first stamped with :data:`FIRST_REVISION`, whose tables it already has.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = conn
    tables = set(inspect(conn).get_table_names())
    if "favorites" in tables and "alembic_version" not in tables:
        logger.info("Upgrading a favorites database made before migrations")
        command.stamp(config, FIRST_REVISION)
    command.upgrade(config, "head")


def _align(conn: Connection, index: IdentityIndex, release: str, fingerprint: str) -> Alignment:
    """The body of :meth:`FavoritesStore.align_catalog` (one transaction)."""
    cat = store_catalog_table.c
    now = datetime.now(UTC).replace(tzinfo=None)
    stored = conn.execute(
        select(cat.fingerprint).where(cat.name == _CURRENT_CATALOG)
    ).scalar_one_or_none()
    switched = stored is not None and stored != fingerprint
    found = missing = merged = filled = 0
    found_before: dict[str, int | None] = {}  # chats share movies: look each identity up once
    for table in (favorites_table, marks_table):
        c = table.c
        if not switched:
            # Same catalog (or the first start with identities): fill the rows without one.
            fills = []
            for chat_id, movie_id in conn.execute(
                select(c.chat_id, c.movie_id).where(c.identity.is_(None), c.missing == false())
            ):
                identity = index.identity(int(movie_id))
                if identity is not None:
                    fills.append(
                        {"b_chat": chat_id, "b_movie": movie_id, "identity": identity.encode()}
                    )
            if fills:
                conn.execute(
                    update(table)
                    .where(
                        c.chat_id == bindparam("b_chat", type_=BigInteger),
                        c.movie_id == bindparam("b_movie", type_=Integer),
                    )
                    .values(identity=bindparam("identity"), release=release),
                    fills,
                )
                filled += len(fills)
            continue
        # Another catalog: every row is found again from its identity, chat by chat.
        by_chat: dict[int, list[Any]] = {}
        for row in conn.execute(select(table).order_by(c.chat_id, c.position)):
            by_chat.setdefault(int(row.chat_id), []).append(row)
        drop: list[dict[str, int]] = []
        rewrite: list[dict[str, Any]] = []
        for chat_id, rows in by_chat.items():
            taken: set[int] = set()
            for row in rows:
                movie_id = _find(index, row.identity, found_before)
                if movie_id is not None and movie_id in taken:  # the same film stored twice
                    drop.append({"b_chat": chat_id, "b_movie": int(row.movie_id)})
                    merged += 1
                    continue
                if movie_id is not None:
                    taken.add(movie_id)
                    found += 1
                    new = (movie_id, False, False)
                else:
                    missing += 1
                    new = (-(int(row.position) + 1), True, bool(row.missing and row.reported))
                if new != (int(row.movie_id), bool(row.missing), bool(row.reported)):
                    drop.append({"b_chat": chat_id, "b_movie": int(row.movie_id)})
                    values = dict(row._mapping)
                    values.update(movie_id=new[0], missing=new[1], reported=new[2])
                    rewrite.append(values)
        if drop:  # delete, then insert: new ids may be old ids of other rows of the chat
            conn.execute(
                delete(table).where(
                    c.chat_id == bindparam("b_chat", type_=BigInteger),
                    c.movie_id == bindparam("b_movie", type_=Integer),
                ),
                drop,
            )
        if rewrite:
            conn.execute(table.insert(), rewrite)
    if switched:  # a shown list's ids belong to the old catalog
        conn.execute(delete(shown_lists_table))
    values = {"release": release, "fingerprint": fingerprint, "updated_at": now}
    if stored is None:
        conn.execute(store_catalog_table.insert().values(name=_CURRENT_CATALOG, **values))
    else:
        conn.execute(
            update(store_catalog_table).where(cat.name == _CURRENT_CATALOG).values(**values)
        )
    to_tell: set[int] = set()
    for table in (favorites_table, marks_table):
        c = table.c
        untold = select(c.chat_id).where(c.missing, c.reported == false()).distinct()
        to_tell.update(int(chat) for chat in conn.execute(untold).scalars())
    return Alignment(switched, found, missing, merged, filled, frozenset(to_tell))


def _find(index: IdentityIndex, identity: str | None, cache: dict[str, int | None]) -> int | None:
    """The catalog's movie of a stored identity (None: not there, or no identity stored)."""
    if not identity:
        return None
    if identity not in cache:
        cache[identity] = index.find_encoded(identity)
    return cache[identity]


def _identity_title(identity: str | None) -> str:
    """The title a stored identity names (its MovieLens spelling), for messages."""
    if identity:
        with contextlib.suppress(ValueError):
            return MovieIdentity.decode(identity).title
    return "a movie this catalog does not know"


def _check_ids(chat_id: int, movie_id: int | None, update_id: int | None) -> None:
    """Rejects ids the columns cannot hold (chat and update ids: 64-bit; movie ids: 32-bit)."""
    for name, value, (low, high) in (
        ("chat_id", chat_id, INT64),
        ("movie_id", movie_id, INT32),
        ("update_id", update_id, INT64),
    ):
        if value is not None and not low <= value <= high:
            raise ValueError(f"{name} {value} is out of range")


def _postgres_fault(error: BaseException) -> StoreFault | None:
    """A PostgreSQL server that answers but cannot keep a change: out of disk, or read-only."""
    orig = getattr(error, "orig", None) if isinstance(error, exc.DBAPIError) else error
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate == "53100":
        return StoreFault(
            "the PostgreSQL server's disk is full (SQLSTATE 53100 disk_full): free space on "
            "the server's data disk; changes are refused until then"
        )
    if sqlstate == "25006":
        return StoreFault(
            "the PostgreSQL server refuses writes (SQLSTATE 25006 read_only_sql_transaction: "
            "a standby, or default_transaction_read_only): point MOVIEBOT_DATABASE_URL at the "
            "primary, or make the database writable; changes are refused until then"
        )
    return None


def _is_unavailable(error: BaseException) -> bool:
    """True for errors that mean the database is unreachable, down, locked or overloaded."""
    if isinstance(
        error, exc.OperationalError | exc.InterfaceError | exc.TimeoutError | OSError | TimeoutError
    ):
        return True
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig if error.orig is not None else error
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return isinstance(sqlstate, str) and (
        sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES or sqlstate in _UNAVAILABLE_SQLSTATES
    )


def _parse_url(url: str) -> URL:
    """Parses the URL and names the driver the store uses (asyncpg, or sqlite3 in threads)."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise BadDatabaseUrl(
            "it is not a database URL (dialect+driver://user:password@host/db)"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    accepted = {"sqlite": ("", "aiosqlite", "pysqlite"), "postgresql": ("", "asyncpg")}
    if driver not in accepted.get(backend, ()):
        raise BadDatabaseUrl(
            "the favorites database must be sqlite+aiosqlite:///FILE or "
            f"postgresql+asyncpg://USER:PASSWORD@HOST/DB, not {parsed.drivername}://..."
        )
    if backend == "sqlite" and (not parsed.database or parsed.database == ":memory:"):
        raise BadDatabaseUrl(
            "an SQLite URL must name a file, sqlite+aiosqlite:///ABSOLUTE/PATH.sqlite3 (an "
            "in-memory database would lose every list when the bot stops)"
        )
    used = "asyncpg" if backend == "postgresql" else "pysqlite"
    return parsed.set(drivername=f"{backend}+{used}")


def _connect(url: URL) -> _Database:
    """The database behind the URL, with short timeouts (nothing connects yet)."""
    if url.get_backend_name() == "postgresql":
        return _PostgresDatabase(_postgres_engine(url))
    return _SqliteDatabase(_sqlite_engine(url), _sqlite_path(url))


def _postgres_engine(url: URL) -> AsyncEngine:
    """A pool that replaces dead connections and gives up after a few seconds."""
    milliseconds = f"{int(STATEMENT_TIMEOUT * 1000)}"
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=CONNECT_TIMEOUT,
        pool_recycle=1800,
        connect_args={
            "timeout": CONNECT_TIMEOUT,
            "command_timeout": STATEMENT_TIMEOUT + 1,
            "server_settings": {
                "application_name": "moviebot",
                "statement_timeout": milliseconds,
                "lock_timeout": milliseconds,
                "idle_in_transaction_session_timeout": "60000",
            },
        },
    )


def _sqlite_engine(url: URL) -> Engine:
    """WAL, a busy timeout, foreign keys, and writers that take the write lock up front."""
    busy_timeout = float(url.query.get("timeout", CONNECT_TIMEOUT))  # type: ignore[arg-type]
    _make_parent_folder(url)
    # No pre-ping: an SQLite file does not drop connections.
    engine = create_engine(url, connect_args={"timeout": busy_timeout, "check_same_thread": False})

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions away from the driver, so that "begin" below decides how they start.
        dbapi_connection.isolation_level = None
        for pragma in (
            "journal_mode=WAL",
            f"busy_timeout={int(busy_timeout * 1000)}",
            "foreign_keys=ON",
            "synchronous=NORMAL",
        ):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    def on_begin(conn: Connection) -> None:
        # A writer takes the write lock at once (no deadlock-prone upgrade from a read lock);
        # a reader runs one SELECT, which SQLite makes atomic on its own.
        if not conn.get_execution_options().get(_READ_ONLY, False):
            _run_on_driver(conn, "BEGIN IMMEDIATE")  # 8 µs, where exec_driver_sql costs 40

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    return engine


def _sqlite_path(url: URL) -> Path | None:
    """The absolute path of an SQLite file (None: in memory or a ``file:`` URI)."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).absolute()


def _make_parent_folder(url: URL) -> None:
    """Creates the folder of an SQLite file (the data folder may not exist yet)."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).absolute().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreFault(
            f"the folder {folder} of the favorites database cannot be created "
            f"({error.strerror or error}): create it, writable for user {_user()}, or set "
            "MOVIEBOT_DATABASE_URL to a file in a folder that exists"
        ) from error
