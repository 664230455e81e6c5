"""Two processes polling one token: the second stops with a clear message, the first serves on.

Telegram ends the older of two concurrent getUpdates with 409 Conflict; without a guard the two
processes take turns, and updates are delivered (and answered) twice. The poller that started
less than ``settle`` seconds ago stops at its first 409; the established one takes the poll back.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from telegram.error import Conflict

from bot.telegram_app import Poller, PollingConflict
from tests.botproc import Movie
from tests.emulator import Emulator
from tests.fixtures_reliability import bot_config, pool, spawn  # noqa: F401

TERMINATED = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance"
)


class FakeBot:
    """getUpdates answers from a script: an exception to raise, or a batch (empty) to return."""

    def __init__(self, script: list[BaseException | None]) -> None:
        self.script = script
        self.calls = 0

    async def delete_webhook(self, **kwargs: Any) -> bool:
        return True

    async def get_updates(self, **kwargs: Any) -> list[Any]:
        self.calls += 1
        step = self.script.pop(0) if self.script else None
        if step is not None:
            raise step
        await asyncio.sleep(0.001)
        return []


class FakeApp:
    def __init__(self, script: list[BaseException | None]) -> None:
        self.bot = FakeBot(script)


async def run_until_stopped(poller: Poller, calls: int) -> None:
    """Run the poller; the ``calls``-th getUpdates stops it (unless it raised before)."""
    bot: FakeBot = poller.app.bot
    fetch = bot.get_updates

    async def counted(**kwargs: Any) -> list[Any]:
        if bot.calls + 1 >= calls:
            poller.stop()
        return await fetch(**kwargs)

    bot.get_updates = counted  # type: ignore[method-assign]
    await asyncio.wait_for(poller.run(), 10)


async def test_a_new_poller_stops_at_its_first_conflict() -> None:
    poller = Poller(FakeApp([None, Conflict(TERMINATED)]), timeout=1)  # type: ignore[arg-type]
    with pytest.raises(PollingConflict, match="Another process is polling"):
        await run_until_stopped(poller, 10)


async def test_an_established_poller_takes_the_poll_back() -> None:
    script: list[BaseException | None] = [Conflict(TERMINATED), None, Conflict(TERMINATED)]
    poller = Poller(FakeApp(script), timeout=1)  # type: ignore[arg-type]
    poller.settle = 0.0
    await run_until_stopped(poller, 6)  # two conflicts, not in a row: still polling
    again = Poller(FakeApp([Conflict(TERMINATED)] * 3), timeout=1)  # type: ignore[arg-type]
    again.settle = 0.0
    with pytest.raises(PollingConflict):
        await run_until_stopped(again, 10)


async def test_a_webhook_on_the_token_stops_the_poller() -> None:
    conflict = Conflict("Conflict: can't use getUpdates method while webhook is active")
    poller = Poller(FakeApp([conflict]), timeout=1)  # type: ignore[arg-type]
    poller.settle = 0.0
    with pytest.raises(PollingConflict, match="webhook set"):
        await run_until_stopped(poller, 10)


@pytest.mark.slow
async def test_second_poller_stops(
    emu: Emulator,
    spawn: Any,  # noqa: F811
    bot_config: Any,  # noqa: F811
    pool: list[Movie],  # noqa: F811
    tmp_path: Any,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'pollers.sqlite3'}"
    # A 1 s long-poll timeout: a poller is the newcomer for its first 2 x 1 + 5 = 7 s.
    first = spawn(bot_config(url, MOVIEBOT_POLLING_TIMEOUT="1"), name="first")
    await asyncio.to_thread(first.start)
    await asyncio.sleep(8)
    second = spawn(bot_config(url, MOVIEBOT_POLLING_TIMEOUT="1"), name="second")
    await asyncio.to_thread(second.start)
    deadline = time.monotonic() + 20
    while second.running:
        assert time.monotonic() < deadline, f"the second poller kept running:\n{second.tail()}"
        await asyncio.sleep(0.1)
    assert second.proc is not None
    assert second.proc.returncode == 1
    assert "Another process is polling Telegram with this bot token" in second.log()
    assert "Traceback" not in second.log()
    assert first.running, first.tail()

    chat = 515
    mark = emu.mark()
    reply = await emu.ask(chat, f"/like {pool[1].title}")
    assert reply.text.startswith("Added ")
    await asyncio.sleep(1.5)
    answers = [c for c in emu.calls_in(chat, after=mark) if c.method == "sendMessage"]
    assert len(answers) == 1, "answered twice"
    assert first.stop() == 0
