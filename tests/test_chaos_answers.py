"""Issue 11, items 4-6 against the real ``moviebot run`` process and the Bot API emulator.

A callback answer refused with 400 "query is too old" (after a restart or a long 429 pause) must
not cost the user the reply to a change already committed, nor add an apology; a stale /reset
confirmation asks again instead of wiping what it did not show.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import texts
from tests.botproc import BotProcess
from tests.emulator import Emulator, fake_token
from tests.fixtures_e2e import serve_bot, stored_favorites

pytestmark = pytest.mark.slow

TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_chats = itertools.count(31_001)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(fake_token()) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('chaos-db') / 'favorites.sqlite3'}"


@pytest.fixture(scope="module")
def bot(
    emu: Emulator,
    trained_model_path: Path,
    movielens_dir: Path,
    db_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BotProcess]:
    yield from serve_bot(
        emu,
        tmp_path_factory.mktemp("chaos-bot"),
        model_path=trained_model_path,
        movielens_dir=movielens_dir,
        database_url=db_url,
    )


async def test_a_refused_callback_answer_keeps_the_reply(
    emu: Emulator, bot: BotProcess, db_url: str
) -> None:
    chat = next(_chats)
    await emu.ask(chat, "/like toy story")
    await emu.ask(chat, "/like matrix")
    question = await emu.ask(chat, "/reset")
    assert question.message_id is not None
    assert "Remove all 2 movies" in question.text
    emu.inject_failure("answerCallbackQuery", 400, TOO_OLD)
    after = emu.mark()
    emu.press_button(chat, question.message_id, "reset:yes:2")
    done = await emu.wait_for_reply(chat, after=after, methods=["editMessageText"], timeout=20)
    assert done.text.startswith("Done: removed 2 movies")
    assert await stored_favorites(db_url, chat) == []
    # nothing else follows: no "Sorry, something went wrong" after the confirmed change
    probe = await emu.ask(chat, "/help")
    sent = [c.text for c in emu.calls_in(chat, after=after, methods=["sendMessage"])]
    assert sent == [probe.text]
    assert texts.something_wrong() not in sent
    assert bot.running, bot.tail()


async def test_a_stale_reset_asks_again(emu: Emulator, bot: BotProcess, db_url: str) -> None:
    chat = next(_chats)
    await emu.ask(chat, "/like toy story")
    question = await emu.ask(chat, "/reset")
    assert question.message_id is not None
    for title in ("matrix", "lion king 1994", "shrek"):
        await emu.ask(chat, f"/like {title}")
    after = emu.mark()
    emu.press_button(chat, question.message_id, "reset:yes:1")
    asked = await emu.wait_for_reply(chat, after=after, methods=["editMessageText"], timeout=20)
    assert "Remove all 4 movies" in asked.text
    assert len(await stored_favorites(db_url, chat)) == 4
    assert emu.problems() == []
    assert bot.running, bot.tail()
