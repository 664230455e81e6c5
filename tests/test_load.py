"""Load at CI size: many chats at once against the real bot process, SQLite and PostgreSQL.

Each user sends the next command only after the answer to the previous one arrived. Afterwards
every answer must have been consistent with that chat's list at that moment, and every chat's
favorites in the database must equal exactly what its acknowledged commands imply. The full size
(200 chats x 25 commands, with figures) is ``bench/bench_load.py``.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.store import FavoritesStore
from recsys.engine import Recommender
from recsys.titles import TitleIndex
from tests.botproc import (
    UNLIMITED,
    BotConfig,
    BotProcess,
    LoadReport,
    Movie,
    Op,
    expected_favorites,
    movie_pool,
    plan_chat,
    run_load,
)
from tests.emulator import Emulator

pytestmark = pytest.mark.slow

CHATS = 40
COMMANDS = 10


@pytest.fixture(scope="module")
def pool(recommender: Recommender) -> list[Movie]:
    titles = TitleIndex.build(recommender.catalog)
    return movie_pool(recommender.catalog, titles.resolve, size=30)


def start_bot(emu: Emulator, folder: Path, model: Path, movielens: Path, db_url: str) -> BotProcess:
    config = BotConfig(
        model_path=model,
        movielens_dir=movielens,
        data_dir=folder / "data",
        database_url=db_url,
        extra=UNLIMITED,
    )
    process = BotProcess(emu, config, folder / "bot.log")
    process.start()
    return process


async def check_load(report: LoadReport, db_url: str, plans: dict[int, list[Op]]) -> None:
    """Every command answered, every answer consistent, the database exactly as acknowledged."""
    store = await FavoritesStore.open(db_url)
    try:
        for chat_id, exchanges in report.chats.items():
            assert len(exchanges) == len(plans[chat_id])
            assert all(e.reply is not None for e in exchanges), f"chat {chat_id} got no answer"
            assert await store.favorites(chat_id) == expected_favorites(exchanges)
    finally:
        await store.close()


async def run_and_check(
    emu: Emulator, bot: BotProcess, db_url: str, pool: list[Movie], first_chat: int
) -> None:
    rng = random.Random(first_chat)
    plans = {first_chat + i: plan_chat(rng, pool, COMMANDS) for i in range(CHATS)}
    report = await run_load(emu, plans, reply_timeout=60)
    print(f"\nload ({db_url.split(':')[0]}): {report.summary()}")
    await check_load(report, db_url, plans)
    assert emu.problems() == []
    assert bot.running
    kinds = {op.kind for ops in plans.values() for op in ops}
    assert kinds == {"like", "unlike", "recommend", "favorites"}


@pytest.mark.parametrize(
    "store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_load(
    store: str,
    emu: Emulator,
    pool: list[Movie],
    trained_model_path: Path,
    movielens_dir: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    if store == "sqlite":
        db_url, first_chat = f"sqlite+aiosqlite:///{tmp_path / 'favorites.sqlite3'}", 20_001
    else:
        db_url, first_chat = request.getfixturevalue("postgres_url"), 30_001
    bot = start_bot(emu, tmp_path, trained_model_path, movielens_dir, db_url)
    try:
        await run_and_check(emu, bot, db_url, pool, first_chat=first_chat)
        assert "Traceback" not in bot.log()
    finally:
        bot.close()
