"""Each chat's favorite movies in SQLite or PostgreSQL (SQLAlchemy 2, async).

Only chat ids, movie ids and the ids of applied Telegram updates are stored. Every change runs in
one transaction that holds the chat's lock (``pg_advisory_xact_lock`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite) and is committed before the method returns; a change made for a
Telegram ``update_id`` records that id in the same transaction, so a redelivered update is not
applied twice. See docs/storage.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    bindparam,
    case,
    delete,
    event,
    exc,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

logger = logging.getLogger(__name__)

metadata = MetaData()

favorites_table = Table(
    "favorites",
    metadata,
    Column("chat_id", BigInteger, nullable=False),
    Column("movie_id", Integer, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("added_at", DateTime, nullable=False),
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

_SCHEMA_LOCK = (0x6D6F7669, 0x65626F74)  # two-key advisory lock space: never a chat's bigint key
_READ_ONLY = "moviebot_read_only"  # execution option: SQLite begins a deferred, not immediate, txn
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57", "58")  # connection, resources, shutdown, system
_UNAVAILABLE_SQLSTATES = frozenset({"55P03", "40001", "40P01"})  # lock timeout, serialization


class StoreUnavailable(RuntimeError):
    """The database cannot be reached; nothing was written."""


class AddOutcome(StrEnum):
    """What :meth:`FavoritesStore.add` did."""

    ADDED = "added"
    ALREADY = "already"
    LIMIT = "limit"


_ADD_CODES = {AddOutcome.ADDED: 1, AddOutcome.ALREADY: 2, AddOutcome.LIMIT: 3}
_ADD_OUTCOMES = {code: outcome for outcome, code in _ADD_CODES.items()}

Change = Callable[[AsyncConnection, datetime], Awaitable[int]]


class FavoritesStore:
    """Per-chat favorites; safe for many concurrent coroutines and for several processes."""

    def __init__(self, engine: AsyncEngine, *, limit: int) -> None:
        """Wraps an engine made by :meth:`open`; use ``await FavoritesStore.open(url)`` instead."""
        self._engine = engine
        self._limit = limit
        self._postgres = engine.dialect.name == "postgresql"
        # SQLite has one writer at a time: queue this process's writers here instead of spinning
        # in SQLite's busy handler; other processes are waited for by the busy timeout.
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: str, *, limit: int = 500) -> FavoritesStore:
        """Connects to the database and creates the tables if they are missing.

        Args:
            url: ``sqlite+aiosqlite:///path/to/file.sqlite3`` or
                ``postgresql+asyncpg://user:password@host:port/database``; ``sqlite://`` and
                ``postgresql://`` (or ``postgres://``) get the async driver. For SQLite,
                ``?timeout=SECONDS`` sets how long a writer waits for another process's lock.
            limit: The most favorites a chat may keep.

        Raises:
            ValueError: The URL is not SQLite or PostgreSQL, or the limit is below 1.
            StoreUnavailable: The database cannot be reached or created.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        engine = _create_engine(_async_url(url))
        store = cls(engine, limit=limit)
        try:
            await store._create_schema()
        except BaseException:
            await engine.dispose()
            raise
        return store

    @property
    def limit(self) -> int:
        """The most favorites a chat may keep."""
        return self._limit

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return str(self._engine.dialect.name)

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
        _check_ids(chat_id, movie_id, update_id)

        async def change(conn: AsyncConnection, now: datetime) -> int:
            return _ADD_CODES[await self._insert(conn, chat_id, movie_id, now)]

        return _ADD_OUTCOMES[await self._mutate(chat_id, update_id, change)]

    async def remove(self, chat_id: int, movie_id: int, *, update_id: int | None = None) -> bool:
        """Removes a movie from the chat's list; True if it was there.

        Raises:
            StoreUnavailable: The database cannot be reached; nothing was written.
        """
        _check_ids(chat_id, movie_id, update_id)
        table = favorites_table

        async def change(conn: AsyncConnection, now: datetime) -> int:
            query = delete(table).where(table.c.chat_id == chat_id, table.c.movie_id == movie_id)
            return min(1, (await conn.execute(query)).rowcount)

        return bool(await self._mutate(chat_id, update_id, change))

    async def favorites(self, chat_id: int) -> list[int]:
        """The chat's movie ids in the order they were added.

        Raises:
            StoreUnavailable: The database cannot be reached.
        """
        _check_ids(chat_id, None, None)
        table = favorites_table
        query = (
            select(table.c.movie_id)
            .where(table.c.chat_id == chat_id)
            .order_by(table.c.position, table.c.movie_id)
        )
        async with self._translate_errors(), self._engine.connect() as conn:
            await conn.execution_options(**{_READ_ONLY: True})
            return [int(movie_id) for movie_id in (await conn.execute(query)).scalars()]

    async def clear(self, chat_id: int, *, update_id: int | None = None) -> int:
        """Empties the chat's list; returns how many favorites were removed.

        Raises:
            StoreUnavailable: The database cannot be reached; nothing was written.
        """
        _check_ids(chat_id, None, update_id)
        table = favorites_table

        async def change(conn: AsyncConnection, now: datetime) -> int:
            query = delete(table).where(table.c.chat_id == chat_id)
            return int((await conn.execute(query)).rowcount)

        return await self._mutate(chat_id, update_id, change)

    async def close(self) -> None:
        """Closes every pooled connection."""
        await self._engine.dispose()

    async def _insert(
        self, conn: AsyncConnection, chat_id: int, movie_id: int, now: datetime
    ) -> AddOutcome:
        """Appends the movie to the chat's list; the caller holds the chat's lock."""
        table = favorites_table
        count, last, present = (
            await conn.execute(
                select(
                    func.count(),
                    func.max(table.c.position),
                    func.coalesce(func.sum(case((table.c.movie_id == movie_id, 1), else_=0)), 0),
                ).where(table.c.chat_id == chat_id)
            )
        ).one()
        if present:
            return AddOutcome.ALREADY
        if count >= self._limit:
            return AddOutcome.LIMIT
        insert = postgresql.insert(table) if self._postgres else sqlite.insert(table)
        query = (
            insert.values(
                chat_id=chat_id,
                movie_id=movie_id,
                position=0 if last is None else last + 1,
                added_at=now,
            )
            .on_conflict_do_nothing(index_elements=[table.c.chat_id, table.c.movie_id])
            .returning(table.c.movie_id)
        )
        inserted = (await conn.execute(query)).first()
        return AddOutcome.ADDED if inserted is not None else AddOutcome.ALREADY

    async def _mutate(self, chat_id: int, update_id: int | None, change: Change) -> int:
        """Runs a change under the chat's lock in one transaction, once per Telegram update."""
        applied = applied_updates_table
        guard = contextlib.nullcontext() if self._postgres else self._write_lock
        async with guard, self._translate_errors(), self._engine.begin() as conn:
            if self._postgres:
                key = bindparam("chat_key", chat_id, type_=BigInteger)
                await conn.execute(select(func.pg_advisory_xact_lock(key)))
            if update_id is not None:
                recorded = await conn.scalar(
                    select(applied.c.result).where(applied.c.update_id == update_id)
                )
                if recorded is not None:
                    return int(recorded)
            now = datetime.now(UTC).replace(tzinfo=None)
            result = await change(conn, now)
            if update_id is not None:
                await conn.execute(
                    applied.insert().values(update_id=update_id, applied_at=now, result=result)
                )
                if update_id % PRUNE_EVERY == 0:
                    await conn.execute(
                        delete(applied).where(applied.c.applied_at < now - UPDATE_RETENTION)
                    )
        return result

    async def _create_schema(self) -> None:
        """Creates the tables if missing; replicas starting together take turns."""
        async with self._translate_errors(), self._engine.begin() as conn:
            if self._postgres:
                await conn.execute(select(func.pg_advisory_xact_lock(*_SCHEMA_LOCK)))
            await conn.run_sync(metadata.create_all)

    @contextlib.asynccontextmanager
    async def _translate_errors(self) -> AsyncIterator[None]:
        """Turns every "cannot reach the database" error into :class:`StoreUnavailable`."""
        try:
            yield
        except StoreUnavailable:
            raise
        except Exception as error:
            if not _is_unavailable(error):
                raise
            logger.warning("favorites database unavailable: %s: %s", type(error).__name__, error)
            raise StoreUnavailable("the favorites database cannot be reached") from error


def _check_ids(chat_id: int, movie_id: int | None, update_id: int | None) -> None:
    """Rejects ids the columns cannot hold (chat and update ids: 64-bit; movie ids: 32-bit)."""
    for name, value, (low, high) in (
        ("chat_id", chat_id, INT64),
        ("movie_id", movie_id, INT32),
        ("update_id", update_id, INT64),
    ):
        if value is not None and not low <= value <= high:
            raise ValueError(f"{name} {value} is out of range")


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


def _async_url(url: str) -> URL:
    """Parses the URL and picks the async driver (aiosqlite or asyncpg)."""
    parsed = make_url(url)
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    wanted = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}.get(backend)
    if wanted is None or driver not in ("", wanted):
        raise ValueError(
            "the favorites database must be sqlite+aiosqlite:///FILE or "
            f"postgresql+asyncpg://USER:PASSWORD@HOST/DB, not {parsed.drivername}://..."
        )
    return parsed.set(drivername=f"{backend}+{wanted}")


def _create_engine(url: URL) -> AsyncEngine:
    """An engine with short timeouts; SQLite gets WAL, a busy timeout and immediate writes."""
    if url.get_backend_name() == "postgresql":
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
                    "statement_timeout": f"{int(STATEMENT_TIMEOUT * 1000)}",
                    "lock_timeout": f"{int(STATEMENT_TIMEOUT * 1000)}",
                    "idle_in_transaction_session_timeout": "60000",
                },
            },
        )
    busy_timeout = float(url.query.get("timeout", CONNECT_TIMEOUT))  # type: ignore[arg-type]
    _make_parent_folder(url)
    engine = create_async_engine(url, pool_pre_ping=True, connect_args={"timeout": busy_timeout})

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions away from the driver, so that "begin" below decides how they start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            f"busy_timeout={int(busy_timeout * 1000)}",
            "foreign_keys=ON",
            "synchronous=NORMAL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    def on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: no deadlock-prone upgrade from a read lock.
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "begin", on_begin)
    return engine


def _make_parent_folder(url: URL) -> None:
    """Creates the folder of an SQLite file (the data folder may not exist yet)."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreUnavailable(f"cannot create the folder of {database}: {error}") from error
