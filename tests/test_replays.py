"""Confirmations that carry what they confirm, and redeliveries answered like the first time.

Issue 11, items 5, 6 and 9: a stale /reset confirmation asks again instead of wiping more than it
said; a redelivered update (same ``update_id``, as after a kill before the offset was confirmed)
gets the answer of its first delivery; a 👍 on a full list says so; a command for another bot
is left alone in a private chat too. In-process on the real model, resolver and SQLite store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import texts
from bot.service import MovieBot
from bot.store import FavoritesStore
from tests.fixtures_bot import Call, TelegramHarness, callback_update, message_update, start_harness

ALICE = 1001
TOY_STORY, LION_KING, MATRIX, SHREK = 1, 364, 2571, 4306


def texts_of(calls: list[Call], endpoint: str = "sendMessage") -> list[str]:
    return [c.text for c in calls if c.endpoint == endpoint]


def toast(calls: list[Call]) -> str:
    (answer,) = [c for c in calls if c.endpoint == "answerCallbackQuery"]
    return str(answer.params.get("text", ""))


async def test_a_stale_reset_confirmation_asks_again(
    telegram: TelegramHarness, sqlite_store: FavoritesStore
) -> None:
    await telegram.send(ALICE, "/like toy story")
    (question,) = [c for c in await telegram.send(ALICE, "/reset") if c.endpoint == "sendMessage"]
    assert question.text.startswith("Remove the only movie")
    assert question.data == ["reset:yes:1", "reset:no"]
    for movie in (LION_KING, MATRIX, SHREK):  # three more likes before the old "yes" is pressed
        await telegram.press(ALICE, f"like:{movie}")
    stale = await telegram.press(ALICE, "reset:yes:1")
    (asked,) = [c for c in stale if c.endpoint == "editMessageText"]
    assert "changed" in asked.text
    assert "Remove all 4 movies" in asked.text
    assert asked.data == ["reset:yes:4", "reset:no"]
    assert toast(stale) == texts.notice_reset_changed()
    assert await sqlite_store.favorites(ALICE) == [TOY_STORY, LION_KING, MATRIX, SHREK]
    done = await telegram.press(ALICE, "reset:yes:4")
    assert "removed 4 movies" in texts_of(done, "editMessageText")[0]
    assert await sqlite_store.favorites(ALICE) == []
    # an old confirmation without a count (an earlier version's) asks too, wiping nothing
    await telegram.send(ALICE, "/like matrix")
    old = await telegram.press(ALICE, "reset:yes")
    assert "Remove the only movie" in texts_of(old, "editMessageText")[0]
    assert await sqlite_store.favorites(ALICE) == [MATRIX]


async def test_a_redelivered_reset_answers_the_same(
    telegram: TelegramHarness, sqlite_store: FavoritesStore
) -> None:
    await telegram.send(ALICE, "/like toy story")
    await telegram.send(ALICE, "/like matrix")
    update = callback_update(ALICE, "reset:yes:2", update_id=880_001)
    first = texts_of(await telegram.feed(update), "editMessageText")
    again = texts_of(await telegram.feed(update), "editMessageText")
    assert "removed 2 movies" in first[0]
    assert again == first


async def test_a_redelivered_unlike_answers_the_same(
    telegram: TelegramHarness, sqlite_store: FavoritesStore
) -> None:
    for title in ("toy story", "matrix", "shrek"):
        await telegram.send(ALICE, f"/like {title}")
    by_title = message_update(ALICE, "/unlike toy story", update_id=880_101)
    first = texts_of(await telegram.feed(by_title))
    again = texts_of(await telegram.feed(by_title))
    assert first[0].startswith("Removed <b>Toy Story (1995)</b>")
    assert again == first
    # by number: the redelivery must not name (or remove) the movie now at that place
    by_number = message_update(ALICE, "/unlike 1", update_id=880_102)
    first = texts_of(await telegram.feed(by_number))
    again = texts_of(await telegram.feed(by_number))
    assert first[0].startswith("Removed <b>Matrix, The (1999)</b>")
    assert again == first
    assert await sqlite_store.favorites(ALICE) == [SHREK]
    # a press on a favorites page: the toast of the first delivery again
    press = callback_update(ALICE, f"un:{SHREK}:0", update_id=880_103)
    assert toast(await telegram.feed(press)).startswith("Removed")
    assert toast(await telegram.feed(press)).startswith("Removed")
    assert await sqlite_store.favorites(ALICE) == []


async def test_a_redelivered_more_shows_the_same_ten(telegram: TelegramHarness) -> None:
    await telegram.send(ALICE, "/like toy story")
    (first_page,) = [c for c in await telegram.send(ALICE, "/recommend") if c.data]
    more = next(d for d in first_page.data if d.startswith("more:"))
    press = callback_update(ALICE, more, update_id=880_201)
    first = texts_of(await telegram.feed(press))
    again = texts_of(await telegram.feed(press))
    assert first[0].count('<a href="https://') == 10
    assert again == first


@pytest.fixture
async def full_telegram(
    recommender: Any, title_index: Any, tmp_path: Path
) -> AsyncIterator[tuple[TelegramHarness, FavoritesStore]]:
    store = await FavoritesStore.open(f"sqlite+aiosqlite:///{tmp_path / 'one.sqlite3'}", limit=1)
    harness = await start_harness(MovieBot(recommender, title_index, store))
    yield harness, store
    await harness.app.shutdown()
    await store.close()


async def test_a_like_press_on_a_full_list_says_so(
    full_telegram: tuple[TelegramHarness, FavoritesStore],
) -> None:
    telegram, store = full_telegram
    await telegram.send(ALICE, "/like toy story")
    calls = await telegram.press(ALICE, f"like:{MATRIX}")
    assert toast(calls) == texts.notice_full()
    assert texts_of(calls)[0].startswith("Your list is full")
    assert await store.favorites(ALICE) == [TOY_STORY]


async def test_a_command_for_another_bot_is_ignored_in_private(
    telegram: TelegramHarness, sqlite_store: FavoritesStore
) -> None:
    assert await telegram.send(ALICE, "/like@SomeOtherBot toy story") == []
    assert await telegram.send(ALICE, "/dance@SomeOtherBot") == []
    assert await sqlite_store.favorites(ALICE) == []
    # bare unknown commands in private are still answered
    assert texts_of(await telegram.send(ALICE, "/dance"))[0].startswith("I don't know")
