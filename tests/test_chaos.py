"""Chaos: the bot is SIGKILLed in the middle of a load, and PostgreSQL stops in the middle of one.

Kill. The bot confirms a getUpdates batch (``offset = last + 1``) only after processing all of it,
and the store records the ``update_id`` of every change in the same transaction. So after a kill
the unconfirmed batch is delivered again (at least once) and a change already made is not made
again (exactly one effect). The test kills the bot at the very moment the emulator receives one
of its replies: that user saw the answer, the bot never learned it was delivered, and the update
is unconfirmed. Then, behind the bot's back, the test removes from the database every movie of an
acknowledged but unconfirmed /like: if a redelivered update were applied again, the movie would
come back.

Database down. PostgreSQL is stopped while users keep sending commands: they get a short
"temporarily unavailable", the process keeps running, and once the server is back the next
commands work without a restart; no command that was answered "unavailable" left anything behind.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot import texts
from bot.store import FavoritesStore
from recsys.engine import Recommender
from recsys.titles import TitleIndex
from tests.botproc import (
    UNLIMITED,
    BotConfig,
    BotProcess,
    Exchange,
    Killer,
    LoadReport,
    Movie,
    Op,
    expected_favorites,
    history,
    movie_pool,
    plan_chat,
    run_load,
    unacknowledged_changes,
)
from tests.emulator import Emulator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pool(recommender: Recommender) -> list[Movie]:
    titles = TitleIndex.build(recommender.catalog)
    return movie_pool(recommender.catalog, titles.resolve, size=40)


@pytest.fixture
def make_bot(
    emu: Emulator, trained_model_path: Path, movielens_dir: Path, tmp_path: Path
) -> Iterator[Any]:
    started: list[BotProcess] = []

    def make(db_url: str) -> BotProcess:
        config = BotConfig(
            model_path=trained_model_path,
            movielens_dir=movielens_dir,
            data_dir=tmp_path / "data",
            database_url=db_url,
            extra=UNLIMITED,
        )
        process = BotProcess(emu, config, tmp_path / "bot.log")
        started.append(process)
        return process

    yield make
    for process in started:
        process.close()


async def answers_seen(emu: Emulator, report: LoadReport, upto_seq: int) -> None:
    """Wait until the users have taken in every answer the emulator recorded up to a point."""
    quoted = {
        (c.chat_id, c.reply_to)
        for c in emu.calls[:upto_seq]
        if c.method == "sendMessage" and c.chat_id in report.chats
    }
    deadline = time.monotonic() + 10
    while True:
        seen = {
            (chat, e.message_id)
            for chat, exchanges in report.chats.items()
            for e in exchanges
            if e.reply is not None
        }
        if quoted <= seen:
            return
        assert time.monotonic() < deadline, "answers were not taken in"
        await asyncio.sleep(0.01)


def acknowledged_likes(report: LoadReport, upto_seq: int) -> list[tuple[int, Exchange]]:
    """The /like commands the bot answered "Added ..." up to a point."""
    return [
        (chat, e)
        for chat, exchanges in report.chats.items()
        for e in exchanges
        if e.reply is not None
        and e.reply.seq <= upto_seq
        and e.op.kind == "like"
        and e.reply.text.startswith("Added ")
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def kill_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'favorites.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


async def test_sigkill_mid_load_loses_nothing_and_repeats_nothing(
    emu: Emulator, make_bot: Any, pool: list[Movie], kill_db_url: str
) -> None:
    db_url = kill_db_url
    bot = make_bot(db_url)
    bot.start()
    rng = random.Random(5)
    chats, likes = 20, 12
    # Groups: the bot quotes the command it answers, so a second answer to a redelivered command
    # is never mistaken for the answer to the next one.
    plans = {-100_000 - i: [Op("like", m) for m in rng.sample(pool, likes)] for i in range(chats)}
    killer = Killer(emu, bot, after=chats * likes // 3)
    emu.on_call = killer
    report = LoadReport({}, 0.0)
    load = asyncio.create_task(run_load(emu, plans, reply_timeout=90, group=True, report=report))
    assert await asyncio.to_thread(killer.done.wait, 90), "the load never reached the kill"
    emu.on_call = None
    await asyncio.to_thread(bot.proc.wait, 10)
    await answers_seen(emu, report, killer.seq)

    acked = acknowledged_likes(report, killer.seq)
    unconfirmed_acked = [(chat, e) for chat, e in acked if e.update_id in killer.unconfirmed]
    assert unconfirmed_acked, "the kill must hit acknowledged but unconfirmed updates"
    store = await FavoritesStore.open(db_url)
    try:
        # Every /like that was acknowledged is in the database: committed before the reply.
        for chat, exchange in acked:
            assert exchange.op.movie is not None
            assert exchange.op.movie.movie_id in await store.favorites(chat), (
                f"acknowledged but lost in chat {chat}:\n{history(report.chats[chat])}"
            )
        # Behind the bot's back: undo the acknowledged, unconfirmed likes.
        removed: dict[int, set[int]] = {}
        for chat, exchange in unconfirmed_acked:
            assert exchange.op.movie is not None
            assert await store.remove(chat, exchange.op.movie.movie_id)
            removed.setdefault(chat, set()).add(exchange.op.movie.movie_id)
    finally:
        await store.close()

    restart_at = time.monotonic()
    start_seconds = await asyncio.to_thread(bot.start)
    await asyncio.wait_for(load, 120)
    await emu.wait_all_confirmed(timeout=30)
    after_kill = [c for c in emu.calls if c.seq > killer.seq and c.method == "sendMessage"]
    recovered = after_kill[0].at
    print(
        f"\nkill: {len(killer.unconfirmed)} updates unconfirmed at the kill, "
        f"{len(unconfirmed_acked)} of them acknowledged; the restarted bot polled "
        f"{start_seconds:.2f} s after its start, "
        f"first reply {recovered - killer.at:.2f} s after the kill "
        f"({recovered - restart_at:.2f} s after the restart began)"
    )

    redelivered = {e.update_id for _, e in unconfirmed_acked}
    assert all(emu.delivery_counts[u] >= 2 for u in redelivered)
    store = await FavoritesStore.open(db_url)
    try:
        for chat, exchanges in report.chats.items():
            assert all(e.reply is not None for e in exchanges), f"chat {chat} lost a command"
            expected = expected_favorites(
                exchanges, removed_at=killer.seq, removed=frozenset(removed.get(chat, ()))
            )
            actual = await store.favorites(chat)
            assert not set(actual) & removed.get(chat, set()), "a redelivered /like was reapplied"
            assert actual == expected
    finally:
        await store.close()
    assert emu.problems() == []
    assert bot.running
    assert bot.starts == 2


@pytest.mark.postgres
async def test_database_down_then_back(
    emu: Emulator, make_bot: Any, pool: list[Movie], postgres_control: Any
) -> None:
    if not postgres_control.running():
        await asyncio.to_thread(postgres_control.start)
    bot = make_bot(postgres_control.url)
    bot.start()
    rng = random.Random(9)
    plans = {40_001 + i: plan_chat(rng, pool, 400) for i in range(8)}
    stop = asyncio.Event()
    report = LoadReport({}, 0.0)
    load = asyncio.create_task(run_load(emu, plans, reply_timeout=60, report=report, stop=stop))
    await asyncio.sleep(2)

    down_mark = emu.mark()
    down_at = time.monotonic()
    await asyncio.to_thread(postgres_control.stop)
    await emu.wait_for(lambda c: c.html == texts.unavailable(), after=down_mark, timeout=30)
    await asyncio.sleep(2)
    assert bot.running, bot.tail()

    await asyncio.to_thread(postgres_control.start)
    up_at = time.monotonic()
    up_mark = emu.mark()
    # Recovered: a reply that needed the database (not "unavailable") after the server is back.
    first_ok = await emu.wait_for(
        lambda c: (
            c.method == "sendMessage" and c.chat_id in plans and c.html != texts.unavailable()
        ),
        after=up_mark,
        timeout=60,
    )
    await asyncio.sleep(1)
    stop.set()
    await asyncio.wait_for(load, 60)

    unavailable = [c for c in emu.calls if c.html == texts.unavailable()]
    print(
        f"\ndatabase down: {len(unavailable)} 'temporarily unavailable' replies while it was "
        f"down ({up_at - down_at:.1f} s); first good reply {first_ok.at - up_at:.2f} s after "
        f"the server accepted connections again"
    )
    assert unavailable
    assert all(c.seq > down_mark for c in unavailable)
    assert bot.running
    assert any(
        e.reply is not None and e.reply.seq > first_ok.seq and e.reply.html != texts.unavailable()
        for ex in report.chats.values()
        for e in ex
    )
    assert emu.problems() == []
    log = bot.log()
    assert "Error while handling update" not in log  # "unavailable" is an answer, not a crash
    password = make_url(postgres_control.url).password
    assert password
    assert f":{password}@" not in log  # the database URL's password is never logged
    store = await FavoritesStore.open(postgres_control.url)
    try:
        for chat, exchanges in report.chats.items():
            answered = [e for e in exchanges if e.reply is not None]
            assert len(answered) == len(exchanges), f"chat {chat} got no answer"
            favorites = await store.favorites(chat)
            assert favorites == expected_favorites(answered, unavailable=texts.unavailable()), (
                f"chat {chat}: a change answered 'temporarily unavailable' was written anyway, "
                f"or an acknowledged one was lost: "
                f"{unacknowledged_changes(answered, favorites, texts.unavailable())}"
            )
    finally:
        await store.close()
