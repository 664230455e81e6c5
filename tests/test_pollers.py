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

from tests.botproc import Movie
from tests.emulator import Emulator
from tests.fixtures_reliability import bot_config, pool, spawn  # noqa: F401


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
