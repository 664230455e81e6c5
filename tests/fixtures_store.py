"""Fixtures owned by the store part (see docs/architecture.md and docs/storage.md).

``store_url``
    The URL of an empty favorites database, once for SQLite (a file in ``tmp_path``) and once for
    PostgreSQL (marked ``postgres``). Every test gets fresh tables.
``store``
    A :class:`bot.store.FavoritesStore` opened on ``store_url``, closed after the test.
``postgres_url``
    Session-wide: a database of its own on the server of ``MOVIEBOT_TEST_POSTGRES_URL`` (created
    for this pytest session, dropped at its end). Without the variable the test is skipped, but
    fails when ``CI`` is set: CI must run the PostgreSQL tests.
``postgres_control``
    Session-wide: a private PostgreSQL server (made by ``.ci/postgres.sh`` in its own folder) that
    a test may stop and start without disturbing anything else: ``.url``, ``.stop()``,
    ``.start()``, ``.running()``. The methods block for up to a few seconds; from async code that
    must keep its loop running, call ``await asyncio.to_thread(postgres_control.stop)``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import tempfile
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store import FavoritesStore, metadata

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "postgres.sh"
POSTGRES_ENV = "MOVIEBOT_TEST_POSTGRES_URL"

T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine on a loop of its own in another thread (never pytest-asyncio's loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the PostgreSQL tests must run)")
    pytest.skip(reason)


def _base_postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        _skip_or_fail(f'{POSTGRES_ENV} is not set; run: eval "$(.ci/postgres.sh)"')
    assert url is not None
    return url


async def _admin(url: str, *statements: str) -> None:
    """Runs statements outside a transaction (CREATE/DROP DATABASE need that)."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def drop_tables(url: str) -> None:
    """Drop the store's tables at ``url`` (and Alembic's): a fresh database for tests, benches."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
            await conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database for this pytest session only (dropped at its end)."""
    base = make_url(_base_postgres_url())
    name = f"moviebot_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        _run(_admin(base.render_as_string(hide_password=False), f'CREATE DATABASE "{name}"'))
    except Exception as error:  # e.g. no CREATEDB privilege: share the given database instead
        print(f"could not create a database of this session ({error}); using {base.database}")
        yield base.render_as_string(hide_password=False)
        return
    yield base.set(database=name).render_as_string(hide_password=False)
    _run(
        _admin(
            base.render_as_string(hide_password=False),
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        )
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty favorites database: SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'favorites.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    _run(drop_tables(url))
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[FavoritesStore]:
    """A store opened on ``store_url`` (default limit), closed after the test."""
    opened = await FavoritesStore.open(store_url)
    yield opened
    await opened.close()


class PostgresControl:
    """A private PostgreSQL server that tests may stop and start (see ``.ci/postgres.sh``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._env = {**os.environ, "MOVIEBOT_PG_DIR": str(folder), "MOVIEBOT_PG_NO_INSTALL": "1"}
        self.url = ""

    def _script(self, command: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), command],
            env=self._env,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def start(self) -> None:
        """Starts the server (creating it the first time); returns when it accepts connections."""
        line = self._script("start").stdout.strip()
        self.url = line.rpartition("=")[2]

    def stop(self) -> None:
        """Stops the server (fast shutdown: open sessions are cut); the data is kept."""
        self._script("stop")

    def running(self) -> bool:
        """True while the server is up."""
        return self._script("status", check=False).returncode == 0

    def destroy(self) -> None:
        """Stops the server and deletes its folder."""
        self._script("destroy", check=False)


@pytest.fixture(scope="session")
def postgres_control() -> Iterator[PostgresControl]:
    """A private PostgreSQL server for "database down" tests; ``.url`` is its test database."""
    _base_postgres_url()  # same rule as every PostgreSQL test: skip locally, fail in CI
    # Not under pytest's tmp folder: that one is private to this user, and the server runs as
    # the postgres user when the tests run as root.
    folder = Path(tempfile.gettempdir()) / f"moviebot-pg-control-{secrets.token_hex(4)}"
    control = PostgresControl(folder)
    try:
        control.start()
    except subprocess.CalledProcessError as error:
        control.destroy()
        pytest.fail(f".ci/postgres.sh start failed: {error.stderr}")
    yield control
    control.destroy()
