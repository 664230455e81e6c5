"""Load benchmark: N chats x M commands against the real ``moviebot run`` process.

Every user waits for the answer to a command before sending the next (a mix of /like, /unlike,
/recommend and /favorites); the Bot API is the local emulator (tests/emulator.py). Prints the
throughput (commands per second), the p50/p99 time from a user's message to the bot's reply, and
the bot process's CPU time per command, with SQLite and with PostgreSQL, and checks that every
answer was consistent and every chat's favorites in the database are exactly what its
acknowledged commands imply.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_load.py              # 200 x 25, both
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_load.py --chats 40 --commands 10 \\
        --backend sqlite
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_load.py --scenario kill   # recovery
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_load.py --mode both   # webhook beside

``--mode webhook`` runs the bot with ``MOVIEBOT_WEBHOOK_URL`` set on 127.0.0.1 and the emulator
POSTing every update to it as Telegram does (tests/emulator.py ``WebhookDelivery``: the secret
header, one update of a chat at a time, up to 40 connections); the bot answers each POST only after
the update was processed. ``--mode both`` runs polling and then webhook on each database.

PostgreSQL runs when ``MOVIEBOT_TEST_POSTGRES_URL`` is set (``eval "$(.ci/postgres.sh)"``); its
tables are dropped first (use a test database). The model is trained into
``data/bench-load/model`` on the first run. Telegram's own flood limits (30 messages/s) and the
per-chat flood limit are switched off (``--telegram-limits`` keeps them): this measures the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from bot import texts  # noqa: E402
from bot.store import FavoritesStore  # noqa: E402
from recsys.engine import load_or_train  # noqa: E402
from recsys.movielens import DataPaths  # noqa: E402
from recsys.titles import TitleIndex  # noqa: E402
from tests.botproc import (  # noqa: E402
    UNLIMITED,
    BotConfig,
    BotProcess,
    Killer,
    LoadReport,
    Movie,
    Op,
    expected_favorites,
    movie_pool,
    plan_chat,
    run_load,
)
from tests.emulator import Emulator, WebhookDelivery, fake_token  # noqa: E402
from tests.fixtures_store import drop_tables  # noqa: E402
from tests.webhookproc import WebhookBotProcess, free_port, webhook_env  # noqa: E402

DATASET = "ml-latest-small"


def movielens_dir() -> Path:
    configured = os.environ.get("MOVIEBOT_MOVIELENS_DIR")
    return Path(configured) if configured else REPO.parent / "shared" / "data" / "movielens"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def verify(report: LoadReport, db_url: str) -> int:
    """Check every chat; returns the number of chats checked (raises on any inconsistency).

    A "temporarily unavailable" answer (the store timed out under the load) is a truthful answer
    that changed nothing: the check holds it to that; the summary counts them.
    """
    unavailable = texts.unavailable()
    store = await FavoritesStore.open(db_url)
    try:
        for chat_id, exchanges in report.chats.items():
            if any(e.reply is None for e in exchanges):
                raise AssertionError(f"chat {chat_id}: a command got no answer")
            expected = expected_favorites(exchanges, unavailable=unavailable)
            if await store.favorites(chat_id) != expected:
                raise AssertionError(f"chat {chat_id}: the database differs from the answers")
    finally:
        await store.close()
    return len(report.chats)


def unavailable_answers(report: LoadReport) -> int:
    """How many commands were answered "temporarily unavailable"."""
    return sum(
        1 for e in report.answered if e.reply is not None and e.reply.html == texts.unavailable()
    )


async def bench(
    name: str,
    db_url: str,
    args: argparse.Namespace,
    model: Path,
    pool: list[Movie],
    workdir: Path,
    *,
    webhook: bool = False,
) -> None:
    rng = random.Random(args.seed)
    plans = {100_000 + i: plan_chat(rng, pool, args.commands) for i in range(args.chats)}
    extra = {} if args.telegram_limits else dict(UNLIMITED)
    port = free_port() if webhook else 0
    if webhook:
        extra.update(webhook_env(port, "bench-webhook-secret"))
        name = f"{name}/webhook"
    with Emulator(fake_token()) as emu:
        config = BotConfig(
            model_path=model,
            movielens_dir=movielens_dir(),
            data_dir=workdir / name,
            database_url=db_url,
            extra=extra,
        )
        log = workdir / f"{name.replace('/', '-')}.log"
        process: BotProcess
        delivery: WebhookDelivery | None = None
        if webhook:
            process = WebhookBotProcess(emu, config, log, port=port)
            delivery = WebhookDelivery(emu, [process.target])
        else:
            process = BotProcess(emu, config, log)
        try:
            started = process.start()
            assert process.proc is not None
            if delivery is not None:
                delivery.start()
            cpu_before = cpu_seconds(process.proc.pid)
            own_before = time.process_time()
            report = await run_load(emu, plans, reply_timeout=120)
            cpu = cpu_seconds(process.proc.pid) - cpu_before
            own = time.process_time() - own_before
        finally:
            if delivery is not None:
                delivery.stop()
            process.stop()
        checked = await verify(report, db_url)
        rejected = emu.problems()
    commands = len(report.latencies())
    print(
        f"{name:10s} {args.chats} chats x {args.commands} commands: {report.summary()}; "
        f"CPU per command: bot {cpu / commands * 1000:.1f} ms, emulator and users "
        f"{own / commands * 1000:.1f} ms; bot started in {started:.1f} s; "
        f"{checked} chats consistent with the database; {len(rejected)} rejected requests; "
        f"{unavailable_answers(report)} answered 'temporarily unavailable'",
        flush=True,
    )


async def bench_kill(
    db_url: str, args: argparse.Namespace, model: Path, pool: list[Movie], workdir: Path
) -> None:
    """SIGKILL the bot a third of the way through a load of /like commands; restart it."""
    rng = random.Random(args.seed)
    plans = {
        -100_000 - i: [Op("like", m) for m in rng.sample(pool, min(args.commands, len(pool)))]
        for i in range(args.chats)
    }
    total = sum(len(ops) for ops in plans.values())
    with Emulator(fake_token()) as emu:
        config = BotConfig(
            model_path=model,
            movielens_dir=movielens_dir(),
            data_dir=workdir / "kill",
            database_url=db_url,
            extra=dict(UNLIMITED),
        )
        process = BotProcess(emu, config, workdir / "kill.log")
        try:
            process.start()
            killer = Killer(emu, process, after=total // 3)
            emu.on_call = killer
            report = LoadReport({}, 0.0)
            load = asyncio.create_task(
                run_load(emu, plans, reply_timeout=300, group=True, report=report)
            )
            await asyncio.to_thread(killer.done.wait, 600)
            emu.on_call = None
            assert process.proc is not None
            await asyncio.to_thread(process.proc.wait, 10)
            restart = time.monotonic()
            started = await asyncio.to_thread(process.start)
            await load
            await emu.wait_all_confirmed(timeout=120)
        finally:
            process.stop()
        first = next(c for c in emu.calls if c.seq > killer.seq and c.method == "sendMessage")
        redelivered = sum(1 for u in killer.unconfirmed if emu.delivery_counts.get(u, 0) > 1)
        checked = await verify_likes(report, db_url)
    print(
        f"kill       {args.chats} chats x {args.commands} likes, SIGKILL after {total // 3} "
        f"replies: {len(killer.unconfirmed)} updates unconfirmed, {redelivered} redelivered; "
        f"restart to polling {started:.1f} s, kill to first reply {first.at - killer.at:.1f} s "
        f"(restart to first reply {first.at - restart:.1f} s); {checked} chats hold every "
        f"acknowledged like; {len(emu.problems())} rejected requests",
        flush=True,
    )


async def verify_likes(report: LoadReport, db_url: str) -> int:
    """Every acknowledged /like is in the database; returns the number of chats checked."""
    store = await FavoritesStore.open(db_url)
    try:
        for chat_id, exchanges in report.chats.items():
            held = set(await store.favorites(chat_id))
            for exchange in exchanges:
                assert exchange.reply is not None, f"chat {chat_id}: a like got no answer"
                assert exchange.op.movie is not None
                assert exchange.op.movie.movie_id in held, f"chat {chat_id} lost a like"
    finally:
        await store.close()
    return len(report.chats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--commands", type=int, default=25)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--scenario",
        choices=["load", "kill"],
        default="load",
        help="kill: SIGKILL the bot mid-load (likes only, group chats), restart",
    )
    parser.add_argument(
        "--mode",
        choices=["polling", "webhook", "both"],
        default="polling",
        help="how the bot gets its updates (both: polling, then webhook, on each database)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--telegram-limits",
        action="store_true",
        help="keep the bot's Telegram and per-chat flood limits",
    )
    args = parser.parse_args()

    model = REPO / "data" / "bench-load" / "model"
    recommender = load_or_train(
        DataPaths(data_dir=REPO / "data", movielens_dir=movielens_dir()),
        DATASET,
        model,
        progress=False,
    )
    pool = movie_pool(recommender.catalog, TitleIndex.build(recommender.catalog).resolve, 40)
    postgres = os.environ.get("MOVIEBOT_TEST_POSTGRES_URL")
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {DATASET}; pool of "
        f"{len(pool)} movies; flood limits {'on' if args.telegram_limits else 'off'}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        workdir = Path(tmp)
        if args.scenario == "kill":
            url = f"sqlite+aiosqlite:///{workdir / 'kill.sqlite3'}"
            asyncio.run(bench_kill(url, args, model, pool, workdir))
            return 0
        modes = [m for m in ("polling", "webhook") if args.mode in (m, "both")]
        if args.backend in ("sqlite", "both"):
            for mode in modes:
                url = f"sqlite+aiosqlite:///{workdir / f'favorites-{mode}.sqlite3'}"
                asyncio.run(
                    bench("sqlite", url, args, model, pool, workdir, webhook=mode == "webhook")
                )
        if args.backend in ("postgres", "both"):
            if not postgres:
                print("postgres   skipped: MOVIEBOT_TEST_POSTGRES_URL is not set")
            else:
                for mode in modes:
                    asyncio.run(drop_tables(postgres))
                    asyncio.run(
                        bench(
                            "postgresql",
                            postgres,
                            args,
                            model,
                            pool,
                            workdir,
                            webhook=mode == "webhook",
                        )
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
