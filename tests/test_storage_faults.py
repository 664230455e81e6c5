"""Storage faults through the real ``moviebot run`` process and the Bot API emulator.

* The SQLite file deleted or replaced while the bot runs: the bot would write into a file nobody
  opens again. The like is answered "I couldn't save that" (texts.cannot_save, not "Added"),
  the fault is logged at ERROR with what to do, the update is not acknowledged (polling: the
  batch stays unconfirmed; webhook: 503) and the process stops; restarted, the bot gets the
  update again and keeps it.
* A read-only database (an immutable ``-wal`` file: ``chattr +i``) and a full disk (a small
  tmpfs filled up): named at ERROR with what to do, users told, nothing half-written, and the
  bot works again once the operator fixed it, without a restart.
* A read-only database at start: one line naming it, not "cannot reach".

The read-only and disk-full cases need root (``chattr``, ``mount``); they are skipped with a
message elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import texts
from bot.app_cli import open_store
from bot.settings import Settings
from bot.store import FavoritesStore
from tests.botproc import Movie
from tests.emulator import Emulator, WebhookDelivery
from tests.fixtures_e2e import stored_favorites
from tests.fixtures_reliability import bot_config, pool, spawn  # noqa: F401
from tests.webhookproc import free_port, webhook_env

SECRET = "faults-secret_" + "y" * 20
UNAVAILABLE = texts.cannot_save()


def error_lines(log: str, pattern: str) -> list[str]:
    """The log lines at ERROR that match ``pattern``."""
    return [line for line in log.splitlines() if " ERROR " in line and re.search(pattern, line)]


def chattr(flag: str, *paths: Path) -> bool:
    """``chattr flag paths``; False when it cannot be done here (not root, no support)."""
    try:
        done = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, check=False)
    except FileNotFoundError:
        return False
    return done.returncode == 0


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "8m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` (skips the test when that is not allowed)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a small tmpfs needs root: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def fill(folder: Path) -> Path:
    """Fill the disk of ``folder`` to the last byte with one file; returns it."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out:
        for chunk in (1 << 16, 1 << 10, 1):
            try:
                while True:
                    out.write(b"\0" * chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    return filler


def remove(db: Path, *suffixes: str) -> None:
    """Delete the database's files with these suffixes (``""``: the file itself)."""
    for suffix in suffixes:
        Path(f"{db}{suffix}").unlink(missing_ok=True)


async def health(url: str) -> tuple[int, dict[str, bool]]:
    """``GET /healthz``: the status and the checks."""
    async with httpx.AsyncClient() as client:
        answer = await client.get(url, timeout=10)
    return answer.status_code, answer.json()["checks"]


async def like(emu: Emulator, chat: int, movie: Movie) -> str:
    """Send ``/like <title>`` and return the reply's HTML."""
    reply = await emu.ask(chat, f"/like {movie.title}", timeout=30)
    return reply.html


@pytest.mark.parametrize("mode", ["polling", "webhook"])
@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_sqlite_file_gone_while_running_loses_no_like(
    emu: Emulator,
    spawn: Any,  # noqa: F811
    bot_config: Any,  # noqa: F811
    pool: list[Movie],  # noqa: F811
    tmp_path: Path,
    how: str,
    mode: str,
) -> None:
    db = tmp_path / "db" / "favorites.sqlite3"
    url = f"sqlite+aiosqlite:///{db}"
    port = free_port()
    if mode == "webhook":
        bot = spawn(bot_config(url, **webhook_env(port, SECRET)), port=port)
    else:
        bot = spawn(bot_config(url))
    chat = 51_001
    with contextlib.ExitStack() as stack:
        delivery = (
            stack.enter_context(WebhookDelivery(emu, [bot.target])) if mode == "webhook" else None
        )
        bot.start()
        assert await like(emu, chat, pool[0]) != UNAVAILABLE
        if delivery is not None:
            assert (await health(bot.health_url)) == (200, {"database": True, "model": True})

        if how == "deleted":  # rm favorites.sqlite3*
            remove(db, "", "-wal", "-shm")
        else:  # another database moved over it (a restored backup, say)
            other = tmp_path / "other.sqlite3"
            store = await FavoritesStore.open(f"sqlite:///{other}")
            await store.add(chat, pool[2].movie_id)
            await store.close()
            os.replace(other, db)
            remove(db, "-wal", "-shm")

        if delivery is not None:  # /healthz sees it before any change does
            assert (await health(bot.health_url)) == (503, {"database": False, "model": True})
        mark = emu.mark()
        update_id = emu.user_sends(chat, f"/like {pool[1].title}")["update_id"]
        reply = await emu.wait_for_reply(chat, after=mark, timeout=30)
        assert reply.html == UNAVAILABLE, "a like the bot cannot keep was answered as done"
        assert await asyncio.to_thread(bot.proc.wait, 30) == 1, bot.tail()
        log = bot.log()
        assert error_lines(log, f"favorites database file .*{db.name} was {how}"), bot.tail()
        assert error_lines(log, "restart the bot")
        if delivery is None:
            assert update_id in emu.pending_update_ids()  # the batch was not confirmed
        else:
            assert update_id not in delivery.acknowledged
            assert 503 in delivery.statuses(update_id)

        # The operator restarts the bot on whatever the path holds now: the update comes again.
        mark = emu.mark()
        await asyncio.to_thread(bot.start)
        again = await emu.wait_for_reply(chat, after=mark, timeout=30)
        assert again.html != UNAVAILABLE
        assert pool[1].title in again.text
        if delivery is None:
            await emu.wait_all_confirmed(timeout=30)
        else:
            for _ in range(300):
                if update_id in delivery.acknowledged:
                    break
                await asyncio.sleep(0.1)
            assert update_id in delivery.acknowledged
        assert bot.stop() == 0, bot.tail()
    expected = [pool[1].movie_id] if how == "deleted" else [pool[2].movie_id, pool[1].movie_id]
    assert await stored_favorites(url, chat) == expected
    assert emu.problems() == []


async def test_read_only_database_is_named_and_told(
    emu: Emulator,
    spawn: Any,  # noqa: F811
    bot_config: Any,  # noqa: F811
    pool: list[Movie],  # noqa: F811
    tmp_path: Path,
) -> None:
    db = tmp_path / "db" / "favorites.sqlite3"
    url = f"sqlite+aiosqlite:///{db}"
    bot = spawn(bot_config(url))
    bot.start()
    chat = 52_001
    assert await like(emu, chat, pool[0]) != UNAVAILABLE
    wal = Path(f"{db}-wal")
    if not chattr("+i", db, wal):
        pytest.skip("chattr +i needs root and a file system that supports it")
    try:
        assert await like(emu, chat, pool[1]) == UNAVAILABLE
        assert bot.running
        lines = error_lines(bot.log(), r"is read-only \(operation not permitted: immutable")
        assert lines, bot.tail()
        assert "writable for user" in lines[0]
    finally:
        chattr("-i", db, wal)
    # Fixed by the operator: works again without a restart.
    assert pool[2].title in await like(emu, chat, pool[2])
    assert "accepts changes again" in bot.log()
    assert bot.stop() == 0
    assert await stored_favorites(url, chat) == [pool[0].movie_id, pool[2].movie_id]


async def test_disk_full_is_named_and_told(
    emu: Emulator,
    spawn: Any,  # noqa: F811
    bot_config: Any,  # noqa: F811
    pool: list[Movie],  # noqa: F811
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        db = disk / "favorites.sqlite3"
        url = f"sqlite+aiosqlite:///{db}"
        bot = spawn(bot_config(url))
        try:
            bot.start()
            chat = 53_001
            assert await like(emu, chat, pool[0]) != UNAVAILABLE
            filler = fill(disk)
            answers = {}
            for movie in pool[1:16]:
                answers[movie.movie_id] = await like(emu, chat, movie)
                if answers[movie.movie_id] == UNAVAILABLE:
                    break
            assert UNAVAILABLE in answers.values(), "no write failed on a full disk"
            assert bot.running
            lines = error_lines(bot.log(), f"disk full at {re.escape(str(disk))}")
            assert lines, bot.tail()
            assert "free space" in lines[0]
            filler.unlink()
            last = pool[20]
            assert last.title in await like(emu, chat, last)
            assert bot.stop() == 0
            kept = [m for m, answer in answers.items() if answer != UNAVAILABLE]
            assert await stored_favorites(url, chat) == [
                pool[0].movie_id,
                *kept,
                last.movie_id,
            ]
        finally:
            bot.close()


async def test_read_only_database_at_start_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "ro" / "favorites.sqlite3"  # file and folder immutable: no -wal either
    store = await FavoritesStore.open(f"sqlite:///{db}")
    await store.close()
    if not chattr("+i", db, db.parent):
        pytest.skip("chattr +i needs root and a file system that supports it")
    try:
        for name in [k for k in os.environ if k.startswith("MOVIEBOT_")]:
            monkeypatch.delenv(name)
        monkeypatch.chdir(tmp_path)
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{db}",  # type: ignore[arg-type]
            database_wait_seconds=30,
        )
        assert await asyncio.wait_for(open_store(settings), 10) is None  # at once
    finally:
        chattr("-i", db, db.parent)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "read-only" in lines[0]
    assert "cannot reach" not in lines[0]


class PostgresError(Exception):
    """What asyncpg raises: an exception with a ``sqlstate``."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "words"),
    [
        ("53100", "disk is full"),
        ("25006", "refuses writes"),
        ("08006", None),  # a lost connection: unavailable, not a fault to fix
    ],
)
def test_postgres_faults_are_named(sqlstate: str, words: str | None) -> None:
    from sqlalchemy.exc import DBAPIError

    from bot.store import _is_unavailable, _postgres_fault

    error = DBAPIError("INSERT …", {}, PostgresError(sqlstate))
    fault = _postgres_fault(error)
    if words is None:
        assert fault is None
        assert _is_unavailable(error)
    else:
        assert fault is not None
        assert words in str(fault)
        assert "MOVIEBOT_DATABASE_URL" in str(fault) or "free space" in str(fault)


@pytest.mark.parametrize("problem", ["in memory", "no folder"])
async def test_sqlite_configuration_errors_are_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    problem: str,
) -> None:
    """An SQLite URL without a file, or a folder that cannot be made: said at once, one line."""
    for name in [k for k in os.environ if k.startswith("MOVIEBOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    url = "sqlite+aiosqlite:///" if problem == "in memory" else f"sqlite:///{blocker}/x.sqlite3"
    settings = Settings(database_url=url, database_wait_seconds=30)  # type: ignore[arg-type]
    assert await asyncio.wait_for(open_store(settings), 10) is None
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    expected = "must name a file" if problem == "in memory" else "cannot be created"
    assert "gave up" not in lines[0]  # said at once: waiting would not help
    assert expected in lines[0]


# ---------------------------------------------------------------------------------------------
# The transports' half, in-process: a halt reason keeps the update unacknowledged


class HaltingApp:
    """What the Poller and the webhook server need of an Application; the store "loses" its
    file while processing update 2."""

    def __init__(self) -> None:
        from telegram import Bot

        from tests.emulator import fake_token

        self.bot = Bot(fake_token())
        self.lost: str | None = None
        self.processed: list[int] = []
        self.offsets: list[int | None] = []
        self.batches = [[1], [2, 3], [4]]

    async def process_update(self, update: Any) -> None:
        self.processed.append(update.update_id)
        if update.update_id == 2:
            self.lost = "the favorites database file x was deleted"


def update_json(update_id: int) -> dict[str, Any]:
    chat = {"id": 5, "type": "private", "first_name": "A"}
    message = {"message_id": update_id, "date": 0, "chat": chat, "text": "/like x"}
    return {"update_id": update_id, "message": {**message, "from": {**chat, "is_bot": False}}}


async def test_the_poller_stops_without_confirming_the_batch() -> None:
    from telegram import Update

    from bot.telegram_app import DeliveryHalted, Poller

    app = HaltingApp()

    async def get_updates(**kwargs: Any) -> list[Any]:
        app.offsets.append(kwargs.get("offset"))
        batch = app.batches.pop(0) if app.batches else []
        return [Update.de_json(update_json(u), app.bot) for u in batch]

    async def delete_webhook(**kwargs: Any) -> bool:
        return True

    app.bot = SimpleBot(get_updates, delete_webhook)  # type: ignore[assignment]
    poller = Poller(app, timeout=1, halt=lambda: app.lost)  # type: ignore[arg-type]
    with pytest.raises(DeliveryHalted, match="was deleted"):
        await asyncio.wait_for(poller.run(), 10)
    assert app.processed == [1, 2, 3]
    assert app.offsets == [None, 2]  # the batch [2, 3] was never confirmed (no offset 4)
    assert poller.offset == 2


class SimpleBot:
    """A bot with just ``get_updates`` and ``delete_webhook``."""

    def __init__(self, get_updates: Any, delete_webhook: Any) -> None:
        self.get_updates = get_updates
        self.delete_webhook = delete_webhook


async def test_the_webhook_answers_503_once_the_store_is_lost() -> None:
    import json

    from bot.webhook import SECRET_HEADER, WebhookServer

    app = HaltingApp()
    stopped = asyncio.Event()
    server = WebhookServer(
        app, secret=SECRET, path="/hook", halt=lambda: app.lost, on_halt=stopped.set
    )
    await server.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as client:
            statuses = [
                (
                    await client.post(
                        f"http://127.0.0.1:{server.port}/hook",
                        content=json.dumps(update_json(u)),
                        headers={SECRET_HEADER: SECRET},
                    )
                ).status_code
                for u in (1, 2, 3)
            ]
    finally:
        await server.stop()
    assert statuses == [200, 503, 503]
    assert app.processed == [1, 2]  # after the halt nothing more is processed
    assert stopped.is_set()
    assert server.halted is not None
    assert "deleted" in server.halted
