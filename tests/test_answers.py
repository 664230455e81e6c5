"""Replies survive a failed callback answer; an apology only when the user got no answer at all.

Issue 11, item 4: ``answerCallbackQuery`` fails with 400 "query is too old" after a restart or a
429 pause. The change behind the button is committed by then, so its edit or reply must still
reach the user, and no "Sorry, something went wrong" may contradict an answer already given.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot import texts
from bot.service import Reply
from bot.store import FavoritesStore
from tests.fixtures_bot import TelegramHarness

ALICE = 1001


async def test_a_failed_toast_does_not_skip_the_edit(
    telegram: TelegramHarness, sqlite_store: FavoritesStore
) -> None:
    await telegram.send(ALICE, "/like toy story")
    telegram.request.fail = {"answerCallbackQuery": 400}  # "query is too old"
    calls = await telegram.press(ALICE, "reset:yes:1")
    assert telegram.request.fail_times == 0  # the toast did fail
    edits = [c for c in calls if c.endpoint == "editMessageText"]
    assert len(edits) == 1
    assert "removed 1 movie" in edits[0].text
    assert not [c for c in calls if c.endpoint == "sendMessage"]  # no apology
    assert await sqlite_store.favorites(ALICE) == []


async def test_a_failed_toast_does_not_skip_the_reply(
    telegram: TelegramHarness, sqlite_store: FavoritesStore
) -> None:
    telegram.request.fail = {"answerCallbackQuery": 400}
    calls = await telegram.press(ALICE, "like:1")
    sent = [c.text for c in calls if c.endpoint == "sendMessage"]
    assert len(sent) == 1
    assert "Added <b>Toy Story (1995)</b>" in sent[0]
    assert texts.something_wrong() not in sent
    assert await sqlite_store.favorites(ALICE) == [1]


async def test_no_apology_after_a_delivered_reply(
    telegram: TelegramHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def two_replies(*a: Any, **k: Any) -> tuple[Reply, ...]:
        return (Reply("Added it."), Reply("<b>unclosed"))  # Telegram rejects the second: 400

    handlers = telegram.app.handlers[0][0].callback.__self__  # type: ignore[attr-defined]
    monkeypatch.setattr(handlers.moviebot, "command", two_replies)
    calls = await telegram.send(ALICE, "/like toy story")
    assert [c.text for c in calls if c.endpoint == "sendMessage"] == ["Added it."]
    assert len(telegram.request.rejected) == 1
    telegram.request.rejected.clear()  # rejected on purpose


async def test_an_apology_when_nothing_was_delivered(
    telegram: TelegramHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_reply(*a: Any, **k: Any) -> tuple[Reply, ...]:
        return (Reply("<b>unclosed"),)

    handlers = telegram.app.handlers[0][0].callback.__self__  # type: ignore[attr-defined]
    monkeypatch.setattr(handlers.moviebot, "command", broken_reply)
    calls = await telegram.send(ALICE, "/like toy story")
    assert [c.text for c in calls if c.endpoint == "sendMessage"] == [texts.something_wrong()]
    assert len(telegram.request.rejected) == 1
    telegram.request.rejected.clear()  # rejected on purpose
