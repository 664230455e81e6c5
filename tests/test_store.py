"""The favorites store, against SQLite and a real PostgreSQL server (fixtures in fixtures_store)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, exc, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store import (
    PRUNE_EVERY,
    UPDATE_RETENTION,
    AddOutcome,
    FavoritesStore,
    Mark,
    StoreUnavailable,
    _is_unavailable,
    applied_updates_table,
    favorites_table,
)
from tests.fixtures_store import PostgresControl

GROUP_CHAT = -1001234567890  # a supergroup id as Telegram sends it
ADDED, ALREADY, LIMIT = AddOutcome.ADDED, AddOutcome.ALREADY, AddOutcome.LIMIT


async def raw_rows(url: str, table: str) -> list[tuple[object, ...]]:
    """Every row of one of the store's tables, read past the store."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))
            return [tuple(row) for row in result]
    finally:
        await engine.dispose()


# --- the basic contract -------------------------------------------------------------------------


async def test_add_list_remove_keep_the_order_of_adding(store: FavoritesStore) -> None:
    assert await store.favorites(1) == []
    assert [await store.add(1, movie) for movie in (318, 1, 2571)] == [ADDED] * 3
    assert await store.favorites(1) == [318, 1, 2571]
    assert await store.remove(1, 1) is True
    assert await store.remove(1, 1) is False
    assert await store.favorites(1) == [318, 2571]
    assert await store.add(1, 1) == ADDED  # added again: now the last one
    assert await store.favorites(1) == [318, 2571, 1]
    assert await store.remove(1, 2571) is True
    assert await store.add(1, 50) == ADDED
    assert await store.favorites(1) == [318, 1, 50]


async def test_a_duplicate_is_reported_and_stored_once(store: FavoritesStore) -> None:
    assert await store.add(1, 318) == ADDED
    assert await store.add(1, 318) == ALREADY
    assert await store.favorites(1) == [318]


async def test_clear_empties_only_that_chat(store: FavoritesStore) -> None:
    for movie in (1, 2, 3):
        await store.add(1, movie)
        await store.add(GROUP_CHAT, movie * 10)
    assert await store.clear(1) == 3
    assert await store.clear(1) == 0
    assert await store.favorites(1) == []
    assert await store.favorites(GROUP_CHAT) == [10, 20, 30]


async def test_chats_are_isolated(store: FavoritesStore) -> None:
    assert await store.add(1, 318) == ADDED
    assert await store.add(2, 318) == ADDED
    assert await store.add(GROUP_CHAT, 1) == ADDED
    assert await store.remove(2, 318) is True
    assert await store.favorites(1) == [318]
    assert await store.favorites(2) == []
    assert await store.favorites(GROUP_CHAT) == [1]
    assert await store.remove(GROUP_CHAT, 318) is False


async def test_the_largest_telegram_and_movielens_ids_round_trip(store: FavoritesStore) -> None:
    chats = (-(2**63), 2**63 - 1, GROUP_CHAT, -1, 0)
    for chat in chats:
        assert await store.add(chat, 2**31 - 1, update_id=2**63 - 1 - (chat % 1000)) == ADDED
        assert await store.add(chat, 1) == ADDED
    for chat in chats:
        assert await store.favorites(chat) == [2**31 - 1, 1]


@pytest.mark.parametrize(
    ("chat_id", "movie_id", "update_id"),
    [
        (2**63, 1, None),
        (-(2**63) - 1, 1, None),
        (1, 2**31, None),
        (1, -(2**31) - 1, None),
        (1, 1, 2**63),
    ],
)
async def test_ids_the_columns_cannot_hold_are_refused(
    store: FavoritesStore, chat_id: int, movie_id: int, update_id: int | None
) -> None:
    with pytest.raises(ValueError, match="out of range"):
        await store.add(chat_id, movie_id, update_id=update_id)
    assert await store.favorites(1) == []


async def test_only_chat_ids_and_movies_are_stored(store_url: str, store: FavoritesStore) -> None:
    await store.add(GROUP_CHAT, 318, update_id=7)
    engine = create_async_engine(store_url)
    try:
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: {
                    table: {column["name"] for column in inspect(sync).get_columns(table)}
                    for table in inspect(sync).get_table_names()
                }
            )
    finally:
        await engine.dispose()
    movie = {"identity", "release", "missing", "reported", "import_id"}  # what the movie is
    assert columns == {
        "favorites": {"chat_id", "movie_id", "position", "added_at"} | movie,
        "applied_updates": {"update_id", "applied_at", "result"},
        "marks": {"chat_id", "movie_id", "kind", "position", "added_at"} | movie,
        "shown_lists": {"chat_id", "serial", "query", "movies", "updated_at"},
        "store_catalog": {"name", "release", "fingerprint", "updated_at"},
        "alembic_version": {"version_num"},
    }
    (row,) = await raw_rows(store_url, "favorites")
    assert row[:2] == (GROUP_CHAT, 318)


async def test_favorites_survive_close_and_reopen(store_url: str) -> None:
    first = await FavoritesStore.open(store_url)
    await first.add(GROUP_CHAT, 318)
    await first.add(GROUP_CHAT, 1)
    await first.close()
    second = await FavoritesStore.open(store_url)  # the tables exist: open must not fail
    try:
        assert await second.favorites(GROUP_CHAT) == [318, 1]
        assert await second.add(GROUP_CHAT, 2) == ADDED
        assert await second.favorites(GROUP_CHAT) == [318, 1, 2]
    finally:
        await second.close()


async def test_every_change_is_visible_to_another_connection_at_once(
    store_url: str, store: FavoritesStore
) -> None:
    await store.add(5, 318)
    await store.add(5, 1)
    await store.remove(5, 318)
    rows = await raw_rows(store_url, "favorites")
    assert [(chat, movie) for chat, movie, *_ in rows] == [(5, 1)]


# --- the cap ------------------------------------------------------------------------------------


async def test_the_cap_is_a_clear_outcome(store_url: str) -> None:
    store = await FavoritesStore.open(store_url, limit=3)
    try:
        assert [await store.add(1, movie) for movie in (1, 2, 3, 4)] == [ADDED] * 3 + [LIMIT]
        assert await store.add(1, 2) == ALREADY  # a movie in a full list is "already", not "limit"
        assert await store.add(2, 4) == ADDED  # the cap is per chat
        assert await store.favorites(1) == [1, 2, 3]
        assert await store.remove(1, 1) is True
        assert await store.add(1, 4) == ADDED
        assert await store.favorites(1) == [2, 3, 4]
    finally:
        await store.close()


async def test_an_add_counts_the_list_in_its_own_transaction(store_url: str) -> None:
    store = await FavoritesStore.open(store_url, limit=3)
    try:
        assert await store.add_counted(1, 10) == (ADDED, 1)
        assert await store.add_counted(1, 20, update_id=7) == (ADDED, 2)
        assert await store.add_counted(1, 10) == (ALREADY, 2)
        assert await store.mark(1, 30, Mark.DISLIKE) == ADDED  # marks are not favorites
        assert await store.add_counted(1, 40) == (ADDED, 3)
        assert await store.add_counted(1, 50) == (LIMIT, 3)
        assert await store.remove(1, 10)
        # a redelivered update replays its outcome; the size is not known then
        assert await store.add_counted(1, 20, update_id=7) == (ADDED, None)
        assert await store.add_counted(2, 10) == (ADDED, 1)  # per chat
        assert len(await store.favorites(1)) == 2
    finally:
        await store.close()


async def test_a_list_is_made_from_the_state_and_saved_in_one_transaction(
    store: FavoritesStore,
) -> None:
    from bot.store import ChatState, ShownList

    await store.add(1, 10)
    await store.mark(1, 20, Mark.SEEN)
    seen_states: list[ChatState] = []

    def make(state: ChatState) -> ShownList:
        seen_states.append(state)
        return ShownList(0, "comedy", (30, 40), ((10,), ()))

    made = await store.make_shown(1, make, update_id=5)
    assert made is not None
    state, shown, serial = made
    assert state == seen_states[0]
    assert (state.favorites, state.seen, state.dislikes) == ((10,), (20,), ())
    assert (serial, shown.serial, shown.movies) == (1, 1, (30, 40))
    assert await store.shown(1) == shown
    # a redelivered update: nothing runs, the caller reads the state and the list apart
    assert await store.make_shown(1, make, update_id=5) is None
    assert len(seen_states) == 1
    # make may decline: nothing is saved, the next list still gets the next number
    assert await store.make_shown(1, lambda state: None, update_id=6) is None
    assert await store.shown(1) == shown
    made = await store.make_shown(1, make)
    assert made is not None
    assert made[2] == 2
    # a list with an id the columns cannot hold is refused and nothing is written
    with pytest.raises(ValueError, match="out of range"):
        await store.make_shown(1, lambda state: ShownList(0, "", (2**40,), ((),)))
    assert (await store.shown(1)) == made[1]


async def test_a_limit_below_one_is_refused(store_url: str) -> None:
    with pytest.raises(ValueError, match="limit"):
        await FavoritesStore.open(store_url, limit=0)


# --- concurrency --------------------------------------------------------------------------------


async def test_fifty_concurrent_adds_in_one_chat_all_persist(store_url: str) -> None:
    # Two stores play two bot replicas (two connection pools) sharing one database.
    replicas = [await FavoritesStore.open(store_url) for _ in range(2)]
    try:
        outcomes = await asyncio.gather(
            *(replicas[movie % 2].add(GROUP_CHAT, movie) for movie in range(1, 51))
        )
        assert outcomes == [ADDED] * 50
        listed = await replicas[0].favorites(GROUP_CHAT)
        assert sorted(listed) == list(range(1, 51))
        assert await replicas[1].favorites(GROUP_CHAT) == listed
    finally:
        for replica in replicas:
            await replica.close()


async def test_concurrent_adds_never_exceed_the_cap(store_url: str) -> None:
    replicas = [await FavoritesStore.open(store_url, limit=10) for _ in range(2)]
    try:
        outcomes = await asyncio.gather(
            *(replicas[movie % 2].add(7, movie) for movie in range(1, 51))
        )
        added = {
            movie for movie, outcome in zip(range(1, 51), outcomes, strict=True) if outcome == ADDED
        }
        assert len(added) == 10
        assert outcomes.count(LIMIT) == 40
        assert set(await replicas[0].favorites(7)) == added
    finally:
        for replica in replicas:
            await replica.close()


async def test_concurrent_adds_of_one_movie_add_it_once(store: FavoritesStore) -> None:
    outcomes = await asyncio.gather(*(store.add(3, 318) for _ in range(20)))
    assert outcomes.count(ADDED) == 1
    assert outcomes.count(ALREADY) == 19
    assert await store.favorites(3) == [318]


async def test_concurrent_changes_in_many_chats_all_persist(store: FavoritesStore) -> None:
    async def chat_session(chat: int) -> None:
        for movie in range(1, 6):
            assert await store.add(chat, movie) == ADDED
        assert await store.remove(chat, 3) is True

    await asyncio.gather(*(chat_session(chat) for chat in range(-20, 20)))
    for chat in range(-20, 20):
        assert await store.favorites(chat) == [1, 2, 4, 5]


# --- exactly once per Telegram update -----------------------------------------------------------


async def test_a_redelivered_update_is_applied_once(store: FavoritesStore) -> None:
    assert await store.add(1, 318, update_id=100) == ADDED
    assert await store.remove(1, 318, update_id=101) is True
    # Telegram redelivers 100 (the bot was killed before confirming it): 318 must not come back,
    # and the bot gets the outcome it would have replied the first time.
    assert await store.add(1, 318, update_id=100) == ADDED
    assert await store.favorites(1) == []
    assert await store.remove(1, 318, update_id=101) is True
    assert await store.add(1, 318, update_id=102) == ADDED
    assert await store.favorites(1) == [318]


async def test_update_ids_are_remembered_across_a_restart(store_url: str) -> None:
    first = await FavoritesStore.open(store_url)
    for movie, update in ((1, 10), (2, 11), (3, 12)):
        await first.add(GROUP_CHAT, movie, update_id=update)
    assert await first.clear(GROUP_CHAT, update_id=13) == 3
    await first.close()
    second = await FavoritesStore.open(store_url)
    try:
        assert await second.add(GROUP_CHAT, 1, update_id=10) == ADDED  # replayed, not applied
        assert await second.clear(GROUP_CHAT, update_id=13) == 3
        assert await second.favorites(GROUP_CHAT) == []
        assert await second.add(GROUP_CHAT, 4, update_id=14) == ADDED
        assert await second.favorites(GROUP_CHAT) == [4]
    finally:
        await second.close()


async def test_a_replayed_limit_or_already_is_replayed_as_such(store_url: str) -> None:
    store = await FavoritesStore.open(store_url, limit=1)
    try:
        assert await store.add(1, 1, update_id=1) == ADDED
        assert await store.add(1, 2, update_id=2) == LIMIT
        assert await store.add(1, 1, update_id=3) == ALREADY
        assert await store.remove(1, 1, update_id=4) is True
        assert await store.add(1, 2, update_id=2) == LIMIT  # the list has room now: still a replay
        assert await store.add(1, 1, update_id=3) == ALREADY
        assert await store.remove(1, 9, update_id=5) is False
        assert await store.remove(1, 9, update_id=5) is False
        assert await store.favorites(1) == []
    finally:
        await store.close()


async def test_one_update_delivered_to_two_replicas_at_once_applies_once(store_url: str) -> None:
    replicas = [await FavoritesStore.open(store_url) for _ in range(2)]
    try:
        await replicas[0].add(1, 1)
        outcomes = await asyncio.gather(
            *(replicas[i % 2].remove(1, 1, update_id=55) for i in range(10)),
            *(replicas[i % 2].add(1, 2, update_id=56) for i in range(10)),
        )
        assert outcomes == [True] * 10 + [ADDED] * 10
        assert await replicas[0].favorites(1) == [2]
        assert [row[0] for row in await raw_rows(store_url, "applied_updates")] == [55, 56]
    finally:
        for replica in replicas:
            await replica.close()


async def test_old_update_ids_are_pruned(store_url: str, store: FavoritesStore) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    engine = create_async_engine(store_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                applied_updates_table.insert(),
                [
                    {
                        "update_id": 1,
                        "applied_at": now - UPDATE_RETENTION - timedelta(hours=1),
                        "result": 1,
                    },
                    {
                        "update_id": 2,
                        "applied_at": now - UPDATE_RETENTION + timedelta(hours=1),
                        "result": 1,
                    },
                ],
            )
        await store.add(1, 1, update_id=PRUNE_EVERY * 3 + 1)  # not a multiple: nothing pruned
        assert [row[0] for row in await raw_rows(store_url, "applied_updates")] == [
            1,
            2,
            PRUNE_EVERY * 3 + 1,
        ]
        await store.add(1, 2, update_id=PRUNE_EVERY * 4)
        assert [row[0] for row in await raw_rows(store_url, "applied_updates")] == [
            2,
            PRUNE_EVERY * 3 + 1,
            PRUNE_EVERY * 4,
        ]
        async with engine.begin() as conn:
            await conn.execute(delete(favorites_table))
        # Pruned means forgotten: a redelivery that late (Telegram keeps updates for a day)
        # would be applied again.
        assert await store.add(1, 5, update_id=1) == ADDED
    finally:
        await engine.dispose()


# --- URLs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["mysql+aiomysql://u:p@h/db", "sqlite+pysqlcipher:///x.db", "postgresql+psycopg2://u:p@h/db"],
)
async def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite"):
        await FavoritesStore.open(url)


async def test_plain_sqlite_url_gets_the_async_driver_and_a_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "favorites.sqlite3"
    store = await FavoritesStore.open(f"sqlite:///{path}")
    try:
        assert store.dialect == "sqlite"
        await store.add(1, 1)
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT chat_id, movie_id FROM favorites").fetchall() == [(1, 1)]


@pytest.mark.postgres
async def test_plain_postgres_url_gets_the_async_driver(postgres_url: str) -> None:
    url = make_url(postgres_url).set(drivername="postgres").render_as_string(hide_password=False)
    store = await FavoritesStore.open(url)
    try:
        assert store.dialect == "postgresql"
        await store.clear(1)
        assert await store.add(1, 318) == ADDED
        assert await store.favorites(1) == [318]
    finally:
        await store.close()


# --- the database is unavailable ----------------------------------------------------------------


async def test_an_sqlite_file_that_cannot_be_created_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailable):
        await FavoritesStore.open(f"sqlite+aiosqlite:///{blocker / 'favorites.sqlite3'}")


async def test_an_sqlite_file_locked_by_another_process_is_unavailable_then_recovers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "favorites.sqlite3"
    store = await FavoritesStore.open(f"sqlite+aiosqlite:///{path}?timeout=0.2")
    try:
        await store.add(1, 1)
        other = sqlite3.connect(path, isolation_level=None)  # e.g. a backup holding the write lock
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable):
            await store.add(1, 2, update_id=9)
        with pytest.raises(StoreUnavailable):
            await store.clear(1)
        assert await store.favorites(1) == [1]  # readers are not blocked in WAL mode
        other.execute("ROLLBACK")
        other.close()
        assert await store.add(1, 2, update_id=9) == ADDED  # nothing of update 9 was written
        assert await store.favorites(1) == [1, 2]
    finally:
        await store.close()


@pytest.mark.postgres
async def test_postgres_down_is_unavailable_then_recovers_without_reopening(
    postgres_control: PostgresControl,
) -> None:
    store = await FavoritesStore.open(postgres_control.url)
    # The server is shared by the session's tests: update ids of our own, never applied before.
    first = secrets.randbelow(10**12) + 10**12
    try:
        await store.clear(GROUP_CHAT)
        assert await store.add(GROUP_CHAT, 1, update_id=first) == ADDED
        postgres_control.stop()
        for call in (
            store.add(GROUP_CHAT, 2, update_id=first + 1),
            store.remove(GROUP_CHAT, 1),
            store.clear(GROUP_CHAT),
            store.favorites(GROUP_CHAT),
        ):
            with pytest.raises(StoreUnavailable):
                await call
        with pytest.raises(StoreUnavailable):
            await FavoritesStore.open(postgres_control.url)
        postgres_control.start()
        assert await store.favorites(GROUP_CHAT) == [1]
        assert await store.add(GROUP_CHAT, 2, update_id=first + 1) == ADDED
        assert await store.favorites(GROUP_CHAT) == [1, 2]
    finally:
        postgres_control.start()
        await store.close()


@pytest.mark.postgres
async def test_postgres_stopping_mid_transaction_leaves_nothing_half_written(
    postgres_control: PostgresControl,
) -> None:
    store = await FavoritesStore.open(postgres_control.url)
    blocker = create_async_engine(postgres_control.url)
    update = secrets.randbelow(10**12) + 10**12  # never applied before on this shared server
    try:
        await store.clear(77)
        conn = await blocker.connect()
        # Hold chat 77's lock, so that the add waits inside its transaction...
        await conn.execute(text("SELECT pg_advisory_lock(77)"))
        adding = asyncio.create_task(store.add(77, 1, update_id=update))
        await asyncio.sleep(0.5)
        assert not adding.done()
        # ...when the server shuts down.
        await asyncio.to_thread(postgres_control.stop)
        with pytest.raises(StoreUnavailable):
            await adding
        with contextlib.suppress(exc.DBAPIError):  # its connection is gone too
            await conn.close()
        postgres_control.start()
        assert await store.favorites(77) == []
        assert await store.add(77, 1, update_id=update) == ADDED  # that update was not recorded
        assert await store.add(77, 1, update_id=update) == ADDED
        assert await store.favorites(77) == [1]
    finally:
        postgres_control.start()
        await blocker.dispose()
        await store.close()


@pytest.mark.postgres
async def test_killed_postgres_connections_are_replaced_transparently(postgres_url: str) -> None:
    store = await FavoritesStore.open(postgres_url)
    admin = create_async_engine(postgres_url)
    try:
        await store.clear(1)
        await asyncio.gather(*(store.add(1, movie) for movie in range(10)))  # fill the pool
        async with admin.connect() as conn:
            killed = (
                await conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            ).scalar_one()
        assert killed >= 1
        assert await store.add(1, 10) == ADDED
        listed = await store.favorites(1)
        assert sorted(listed) == list(range(11))
        assert listed[-1] == 10
    finally:
        await admin.dispose()
        await store.close()


def test_connection_errors_count_as_unavailable_and_bugs_do_not() -> None:
    class FakeAsyncpgError(Exception):
        def __init__(self, sqlstate: str) -> None:
            super().__init__(sqlstate)
            self.sqlstate = sqlstate

    def dbapi(orig: Exception, invalidated: bool = False) -> exc.DBAPIError:
        return exc.DBAPIError("SELECT 1", None, orig, connection_invalidated=invalidated)

    assert _is_unavailable(ConnectionRefusedError(111, "refused"))
    assert _is_unavailable(TimeoutError())
    assert _is_unavailable(exc.OperationalError("SELECT 1", None, Exception("locked")))
    assert _is_unavailable(exc.TimeoutError("QueuePool limit reached"))
    assert _is_unavailable(dbapi(Exception("gone"), invalidated=True))
    assert _is_unavailable(dbapi(FakeAsyncpgError("57P01")))  # admin shutdown
    assert _is_unavailable(dbapi(FakeAsyncpgError("08006")))  # connection failure
    assert _is_unavailable(dbapi(FakeAsyncpgError("55P03")))  # lock timeout
    assert _is_unavailable(FakeAsyncpgError("53300"))  # too many connections, untranslated
    assert not _is_unavailable(dbapi(FakeAsyncpgError("42P01")))  # undefined table: a bug
    assert not _is_unavailable(exc.IntegrityError("INSERT", None, Exception("duplicate")))
    assert not _is_unavailable(ValueError("bug"))


async def test_reads_see_the_committed_list_only(store_url: str, store: FavoritesStore) -> None:
    await store.add(1, 1)
    engine = create_async_engine(store_url)
    try:
        async with engine.connect() as conn:
            await conn.begin()
            await conn.execute(
                favorites_table.insert().values(
                    chat_id=1,
                    movie_id=2,
                    position=1,
                    added_at=datetime.now(UTC).replace(tzinfo=None),
                )
            )
            # Uncommitted elsewhere: not in the list (and on SQLite the write lock is held).
            assert await store.favorites(1) == [1]
            await conn.rollback()
        assert await store.favorites(1) == [1]
        assert (await raw_rows(store_url, "favorites"))[0][:2] == (1, 1)
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_a_busy_chat_does_not_take_every_pooled_connection(postgres_url: str) -> None:
    store = await FavoritesStore.open(postgres_url)
    blocker = create_async_engine(postgres_url)
    try:
        await store.clear(1)
        await store.clear(2)
        conn = await blocker.connect()
        await conn.execute(text("SELECT pg_advisory_lock(1)"))  # chat 1 is stuck (another replica)
        stuck = [asyncio.create_task(store.add(1, movie)) for movie in range(40)]
        await asyncio.sleep(0.2)
        # 40 waiting changes in chat 1 hold one connection, not the whole pool (5 + 10 overflow):
        # chat 2 is served now instead of failing with a pool timeout.
        assert await store.add(2, 318) == ADDED
        assert not any(task.done() for task in stuck)
        await conn.execute(text("SELECT pg_advisory_unlock(1)"))
        await conn.close()
        assert await asyncio.gather(*stuck) == [ADDED] * 40
        assert sorted(await store.favorites(1)) == list(range(40))
        assert len(store._chat_locks) == 0  # no lock is kept for idle chats
    finally:
        await blocker.dispose()
        await store.close()


# --- the store agrees with a model of itself ----------------------------------------------------

LIMIT_IN_MODEL = 2
Op = tuple[str, int, int, bool]  # kind, chat, movie, with an update_id
new_op = st.tuples(
    st.sampled_from(["add", "add", "add", "remove", "clear"]),
    st.sampled_from([1, GROUP_CHAT]),
    st.integers(1, 4),
    st.booleans(),
)
# An element is a new change, or the redelivery of the n-th change made so far.
script = st.lists(st.one_of(new_op, st.integers(0, 30)), max_size=25)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=script)
async def test_any_sequence_of_changes_and_redeliveries_matches_a_model(
    store_url: str, steps: list[Op | int]
) -> None:
    store = await FavoritesStore.open(store_url, limit=LIMIT_IN_MODEL)
    try:
        for chat in (1, GROUP_CHAT):
            await store.clear(chat)
        model: dict[int, list[int]] = {1: [], GROUP_CHAT: []}
        answers: dict[int, object] = {}  # update_id -> the first answer
        made: list[tuple[Op, int | None]] = []
        for step in steps:
            if isinstance(step, int):
                if not made or made[step % len(made)][1] is None:
                    continue
                (kind, chat, movie, _), update_id = made[step % len(made)]
            else:
                kind, chat, movie, with_update = step
                update_id = next(UPDATE_IDS) if with_update else None
                made.append((step, update_id))
            if kind == "add":
                answer: object = await store.add(chat, movie, update_id=update_id)
            elif kind == "remove":
                answer = await store.remove(chat, movie, update_id=update_id)
            else:
                answer = await store.clear(chat, update_id=update_id)
            if update_id in answers:
                assert answer == answers[update_id]  # replayed, and nothing changed
            else:
                assert answer == apply_to_model(model[chat], kind, movie, limit=LIMIT_IN_MODEL)
                if update_id is not None:
                    answers[update_id] = answer
            assert await store.favorites(chat) == model[chat]
    finally:
        await store.close()


UPDATE_IDS = itertools.count(10**15)  # fresh update ids for every example


def apply_to_model(favorites: list[int], kind: str, movie: int, *, limit: int) -> object:
    if kind == "add":
        if movie in favorites:
            return ALREADY
        if len(favorites) >= limit:
            return LIMIT
        favorites.append(movie)
        return ADDED
    if kind == "remove":
        if movie not in favorites:
            return False
        favorites.remove(movie)
        return True
    count = len(favorites)
    favorites.clear()
    return count


# ---------------------------------------------------------------------------------------------
# Migrations: a database made by the release before migrations is upgraded in place

# The schema exactly as FavoritesStore.open created it before migrations existed (main at
# 1952934, `metadata.create_all`), printed with sqlalchemy.schema.CreateTable for each dialect.
FIRST_RELEASE_DDL = {
    "sqlite": [
        "CREATE TABLE applied_updates (update_id BIGINT NOT NULL, applied_at DATETIME NOT NULL, "
        "result INTEGER NOT NULL, PRIMARY KEY (update_id))",
        "CREATE INDEX ix_applied_updates_applied_at ON applied_updates (applied_at)",
        "CREATE TABLE favorites (chat_id BIGINT NOT NULL, movie_id INTEGER NOT NULL, "
        "position BIGINT NOT NULL, added_at DATETIME NOT NULL, "
        "CONSTRAINT favorites_pkey PRIMARY KEY (chat_id, movie_id))",
    ],
    "postgresql": [
        "CREATE TABLE applied_updates (update_id BIGINT NOT NULL, "
        "applied_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, result INTEGER NOT NULL, "
        "PRIMARY KEY (update_id))",
        "CREATE INDEX ix_applied_updates_applied_at ON applied_updates (applied_at)",
        "CREATE TABLE favorites (chat_id BIGINT NOT NULL, movie_id INTEGER NOT NULL, "
        "position BIGINT NOT NULL, added_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, "
        "CONSTRAINT favorites_pkey PRIMARY KEY (chat_id, movie_id))",
    ],
}
FIRST_RELEASE_ROWS = [  # (chat_id, movie_id, position): two chats, one a group
    (7, 1, 0),
    (7, 2571, 1),
    (7, 318, 2),
    (-1001234567890, 296, 0),
    (-1001234567890, 1, 1),
]


async def make_first_release_database(url: str) -> None:
    """The tables and rows a database written by the first release holds."""
    from sqlalchemy.ext.asyncio import create_async_engine

    dialect = "postgresql" if url.startswith("postgres") else "sqlite"
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in FIRST_RELEASE_DDL[dialect]:
                await conn.exec_driver_sql(statement)
            for chat, movie, position in FIRST_RELEASE_ROWS:
                await conn.exec_driver_sql(
                    "INSERT INTO favorites (chat_id, movie_id, position, added_at) "
                    f"VALUES ({chat}, {movie}, {position}, '2026-11-01 12:00:00')"
                )
            await conn.exec_driver_sql(
                "INSERT INTO applied_updates (update_id, applied_at, result) "
                "VALUES (900, '2026-11-01 12:00:00', 1)"
            )
    finally:
        await engine.dispose()


async def table_names(url: str) -> set[str]:
    from sqlalchemy import inspect
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_a_first_release_database_is_upgraded_in_place(store_url: str) -> None:
    from bot.store import ShownList

    await make_first_release_database(store_url)
    assert "marks" not in await table_names(store_url)
    store = await FavoritesStore.open(store_url)
    try:
        assert await store.favorites(7) == [1, 2571, 318]
        assert await store.favorites(-1001234567890) == [296, 1]
        # an update applied before the upgrade is still not applied twice
        assert await store.add(7, 1, update_id=900) == AddOutcome.ADDED  # its recorded result
        assert await store.favorites(7) == [1, 2571, 318]
        # the new tables work on the upgraded database
        assert await store.mark(7, 2571, Mark.DISLIKE) == AddOutcome.ADDED
        assert await store.mark(7, 50, Mark.SEEN) == AddOutcome.ADDED
        state = await store.state(7)
        assert (state.favorites, state.dislikes, state.seen) == ((1, 318), (2571,), (50,))
        assert await store.save_shown(7, ShownList(0, "", (5, 6), ((1,), ()))) == 1
    finally:
        await store.close()
    assert {"marks", "shown_lists", "alembic_version"} <= await table_names(store_url)
    again = await FavoritesStore.open(store_url)  # a second start changes nothing
    try:
        assert await again.favorites(-1001234567890) == [296, 1]
        assert (await again.state(7)).dislikes == (2571,)
    finally:
        await again.close()


async def test_a_new_database_gets_the_newest_schema(store_url: str) -> None:
    store = await FavoritesStore.open(store_url)
    await store.close()
    assert {"favorites", "applied_updates", "marks", "shown_lists", "alembic_version"} <= (
        await table_names(store_url)
    )


async def test_add_many_is_one_change_replayed_on_redelivery(store: FavoritesStore) -> None:
    await store.add(GROUP_CHAT, 2)
    outcomes = await store.add_many(GROUP_CHAT, [1, 2, 3], update_id=4242)
    assert outcomes == (AddOutcome.ADDED, AddOutcome.ALREADY, AddOutcome.ADDED)
    assert await store.add_many(GROUP_CHAT, [1, 2, 3], update_id=4242) == outcomes
    assert await store.favorites(GROUP_CHAT) == [2, 1, 3]
    with pytest.raises(ValueError, match="at most"):
        await store.add_many(GROUP_CHAT, list(range(1, 30)))


async def test_marks_have_a_cap_and_replace_each_other(store_url: str) -> None:
    from bot.store import Mark

    store = await FavoritesStore.open(store_url, limit=5, marks_limit=2)
    try:
        assert await store.mark(GROUP_CHAT, 1, Mark.SEEN) == AddOutcome.ADDED
        assert await store.mark(GROUP_CHAT, 2, Mark.DISLIKE) == AddOutcome.ADDED
        assert await store.mark(GROUP_CHAT, 3, Mark.SEEN) == AddOutcome.LIMIT
        assert await store.mark(GROUP_CHAT, 1, Mark.SEEN) == AddOutcome.ALREADY
        assert await store.mark(GROUP_CHAT, 1, Mark.DISLIKE) == AddOutcome.ADDED  # replaced
        state = await store.state(GROUP_CHAT)
        assert (state.dislikes, state.seen) == ((1, 2), ())
        assert await store.add(GROUP_CHAT, 2) == AddOutcome.ADDED  # liked: no longer disliked
        assert (await store.state(GROUP_CHAT)).dislikes == (1,)
        assert await store.unmark(GROUP_CHAT, 1) is True
        assert await store.unmark(GROUP_CHAT, 1) is False
    finally:
        await store.close()


async def test_a_shown_list_keeps_at_most_100_movies(store: FavoritesStore) -> None:
    from bot.store import MAX_SHOWN, ShownList

    movies = tuple(range(1, 151))
    serial = await store.save_shown(GROUP_CHAT, ShownList(0, "comedy", movies, ((),) * 150))
    shown = await store.shown(GROUP_CHAT)
    assert shown is not None
    assert (shown.serial, shown.query, shown.movies) == (serial, "comedy", movies[:MAX_SHOWN])
    assert await store.save_shown(GROUP_CHAT, ShownList(0, "", (7,), ((1, 2),))) == serial + 1
    assert await store.shown(GROUP_CHAT + 1) is None
