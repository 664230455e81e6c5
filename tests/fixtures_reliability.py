"""Fixtures of the reliability tests (webhook mode, log safety, pollers), imported by their modules.

``pool``
    40 movies whose full title resolves to themselves (module-wide).
``bot_config``
    A function ``(db_url, **extra_env) -> BotConfig`` for a real bot process in ``tmp_path``.
``spawn``
    A function that starts nothing yet but builds a :class:`tests.botproc.BotProcess` (polling)
    or, with ``port=``, a :class:`tests.webhookproc.WebhookBotProcess`; every process made is
    killed after the test.
``db_url``
    An empty favorites database: SQLite (a file in ``tmp_path``) and PostgreSQL (marked
    ``postgres``; tables dropped first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from recsys.engine import Recommender
from recsys.titles import TitleIndex
from tests.botproc import UNLIMITED, BotConfig, BotProcess, Movie, movie_pool
from tests.emulator import Emulator
from tests.fixtures_store import _run, drop_tables
from tests.webhookproc import WebhookBotProcess


@pytest.fixture(scope="module")
def pool(recommender: Recommender) -> list[Movie]:
    titles = TitleIndex.build(recommender.catalog)
    return movie_pool(recommender.catalog, titles.resolve, size=40)


@pytest.fixture
def bot_config(trained_model_path: Path, movielens_dir: Path, tmp_path: Path) -> Any:
    def make(db_url: str | None = None, **extra: str) -> BotConfig:
        return BotConfig(
            model_path=trained_model_path,
            movielens_dir=movielens_dir,
            data_dir=tmp_path / "data",
            database_url=db_url,
            extra={**UNLIMITED, **extra},
        )

    return make


@pytest.fixture
def spawn(emu: Emulator, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    made: list[BotProcess] = []

    def make(config: BotConfig, *, name: str = "bot", port: int | None = None) -> Any:
        log = tmp_path / f"{name}.log"
        process: BotProcess = (
            BotProcess(emu, config, log)
            if port is None
            else WebhookBotProcess(emu, config, log, port=port)
        )
        made.append(process)
        return process

    yield make
    for process in made:
        process.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'favorites.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    _run(drop_tables(url))
    return url
