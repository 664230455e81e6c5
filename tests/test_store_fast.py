"""The store's hot statements run straight on sqlite3 (``bot.store._rows``): same rows, same values.

On SQLite, the statements of /recommend's and /like's transactions bypass SQLAlchemy's
``Connection.execute`` (its CPU cost per statement is several times SQLite's own work). These
tests pin what that must not change: every answer and every stored byte (times included) equal
those of the same calls through ``Connection.execute``, and driver errors are wrapped the way
SQLAlchemy wraps them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, exc
from sqlalchemy.engine import Connection

import bot.store as store_module
from bot.store import FavoritesStore, Mark, ShownList
from recsys.identity import IdentityIndex
from recsys.movielens import split_title

NOW = datetime(2026, 11, 30, 22, 15, 7)  # microsecond 0: sqlite3's own adapter would drop it
TABLES = ("favorites", "marks", "applied_updates", "shown_lists")


class FrozenClock(datetime):
    """``datetime`` whose ``now`` is :data:`NOW` (so two runs store the same times)."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> FrozenClock:
        return cls.fromisoformat(NOW.isoformat()).replace(tzinfo=tz)


def catalog() -> pd.DataFrame:
    rows: list[tuple[int, str, int | None]] = [(1, "Toy Story (1995)", 114709)]
    rows.append((858, "Godfather, The (1972)", 68646))
    rows += [(m, f"Movie {m} (2001)", None) for m in (2, 3, 4, 5, 6, 7, 8)]
    split = [split_title(t) for _m, t, _i in rows]
    return pd.DataFrame(
        {
            "title": [t for _m, t, _i in rows],
            "name": [s[0] for s in split],
            "year": pd.array([s[1] for s in split], dtype="Int32"),
            "genres": "Drama",
            "imdb_id": pd.array([i for _m, _t, i in rows], dtype="Int64"),
        },
        index=pd.Index([m for m, _t, _i in rows], name="movie_id"),
    )


async def conversation(path: Path) -> tuple[list[object], dict[str, list[tuple[object, ...]]]]:
    """Every hot path, its edge cases and replays; the answers and the raw tables after it."""
    store = await FavoritesStore.open(f"sqlite+aiosqlite:///{path}", limit=3, marks_limit=2)
    answers: list[object] = []
    try:
        await store.align_catalog(IdentityIndex.build(catalog()), "tiny", "fingerprint")
        answers.append(await store.add_counted(7, 1, update_id=10))
        answers.append(await store.add_counted(7, 1, update_id=10))  # replayed
        answers.append(await store.add_counted(7, 1, update_id=11))  # already there
        answers.append(await store.mark(7, 858, Mark.DISLIKE, update_id=12))
        answers.append(await store.mark(7, 858, Mark.SEEN, update_id=13))  # another mark
        answers.append(await store.mark(7, 2, Mark.DISLIKE, update_id=14))
        answers.append(await store.mark(7, 3, Mark.SEEN, update_id=15))  # the marks are full
        answers.append(await store.add_counted(7, 2, update_id=16))  # liked: not disliked
        answers.append(await store.add_many(7, [4, 5, 6], update_id=store_module.PRUNE_EVERY))
        answers.append(await store.favorites(7))
        answers.append(await store.state(7))

        def make(state: store_module.ChatState) -> ShownList:
            return ShownList(0, "comedy 90s", state.favorites, tuple((1,) for _ in state.favorites))

        answers.append(await store.make_shown(7, make, update_id=17))
        answers.append(await store.make_shown(7, make, update_id=17))  # replayed: None
        answers.append(await store.make_shown(7, lambda state: None, update_id=18))
        answers.append(await store.save_shown(7, ShownList(5, "x" * 300, (8,), ((1, 2),))))
        answers.append(await store.save_shown(8, ShownList(0, "", (8, 1), ((), (2,)))))
        answers.append(await store.shown(7))
        answers.append(await store.shown(8))
        answers.append(await store.shown(9))
        answers.append(await store.outcome(13))
        answers.append(await store.remove(7, 4, update_id=19))
        answers.append(await store.clear(7, update_id=20, expected=1))  # stale: kept
        answers.append(await store.state(7))
    finally:
        await store.close()
    with sqlite3.connect(path) as raw:
        tables = {t: raw.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}
    return answers, tables


def sqlalchemy_rows(
    conn: Connection, statement: store_module.Statement, params: dict[str, Any]
) -> Sequence[tuple[Any, ...]]:
    """What ``_rows`` replaces: ``Connection.execute``."""
    result = conn.execute(statement, params)
    return [tuple(row) for row in result] if result.returns_rows else []


async def test_straight_statements_store_and_answer_what_sqlalchemy_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "datetime", FrozenClock)
    straight = await conversation(tmp_path / "straight.sqlite3")
    monkeypatch.setattr(store_module, "_rows", sqlalchemy_rows)
    through_sqlalchemy = await conversation(tmp_path / "sqlalchemy.sqlite3")
    assert straight == through_sqlalchemy
    answers, tables = straight
    assert answers[0] == (store_module.AddOutcome.ADDED, 1)
    assert answers[9] == [1, 2, 4]  # the limit of 3 kept 5 and 6 out
    # SQLAlchemy's text form of a time, microseconds included
    assert {row[3] for row in tables["favorites"]} == {"2026-11-30 22:15:07.000000"}
    assert tables["favorites"][0][4:6] == ("tt0114709||Toy Story (1995)", "tiny")


def test_driver_errors_are_wrapped_as_sqlalchemy_wraps_them(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        with engine.connect() as conn, pytest.raises(exc.OperationalError) as raised:
            store_module._rows(conn, store_module._RECORDED, {"update_id": 1})  # no such table
    finally:
        engine.dispose()
    assert isinstance(raised.value.orig, sqlite3.OperationalError)
    assert "no such table" in str(raised.value)
    assert store_module._is_unavailable(raised.value)  # what the store turns into StoreUnavailable


@pytest.mark.parametrize(
    ("movies", "because", "accepted"),
    [
        ((2**31 - 1, -(2**31)), ((2**31 - 1,), (-(2**31),)), True),  # the columns' bounds
        ((1,), ((2**31,),), False),  # a reason out of range
        ((-(2**31) - 1,), ((),), False),
        ((1, 2), ((),), False),  # a reason per movie
        (tuple(range(1, 120)), tuple((2**31,) if m > 100 else () for m in range(1, 120)), True),
    ],
)
async def test_a_shown_list_is_checked_before_it_is_stored(
    tmp_path: Path,
    movies: tuple[int, ...],
    because: tuple[tuple[int, ...], ...],
    accepted: bool,
) -> None:
    # (the movies past MAX_SHOWN are not stored, so neither are their reasons checked)
    store = await FavoritesStore.open(f"sqlite+aiosqlite:///{tmp_path / 'shown.sqlite3'}")
    try:
        shown = ShownList(0, "", movies, because)
        if accepted:
            assert await store.save_shown(1, shown) == 1
            stored = await store.shown(1)
            assert stored == ShownList(1, "", movies[:100], because[:100])
        else:
            with pytest.raises(ValueError, match=r"out of range|shorter"):
                await store.save_shown(1, shown)
            assert await store.shown(1) is None
    finally:
        await store.close()


async def test_threads_keep_their_connections_and_close_gives_every_one_back(
    tmp_path: Path,
) -> None:
    store = await FavoritesStore.open(f"sqlite+aiosqlite:///{tmp_path / 'kept.sqlite3'}")
    pool = store._database._engine.pool  # type: ignore[attr-defined]
    try:
        for _ in range(3):
            await asyncio.gather(
                *(store.favorites(chat) for chat in range(20)),
                *(store.add(chat, 1) for chat in range(20)),
            )
        # a reader and a writer per thread at most, kept between calls
        assert 1 <= pool.checkedout() <= 2 * store_module._SQLITE_THREADS
        assert [await store.favorites(chat) for chat in range(20)] == [[1]] * 20
        kept = set(store._database._kept)  # type: ignore[attr-defined]
        assert len(kept) == pool.checkedout()
    finally:
        await store.close()
    assert all(conn.closed for conn in kept)
    assert pool.checkedout() == 0
