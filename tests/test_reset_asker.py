"""In a group only the member who sent ``/reset`` can answer its question (real process).

Before: any member could press "Yes, remove all" under someone else's question and empty the
group's list. Now the press of another member gets a toast, removes nothing and leaves the
question as it was; the asker's press works; in a private chat nothing changes.
"""

from __future__ import annotations

from typing import Any

from bot import texts
from tests.botproc import Movie
from tests.emulator import Emulator
from tests.fixtures_e2e import stored_favorites
from tests.fixtures_reliability import bot_config, db_url, pool, spawn  # noqa: F401

GROUP: dict[str, Any] = {"chat_type": "supergroup", "title": "Film club"}


async def test_only_the_asker_confirms_a_group_reset(
    emu: Emulator,
    spawn: Any,  # noqa: F811
    bot_config: Any,  # noqa: F811
    pool: list[Movie],  # noqa: F811
    db_url: str,  # noqa: F811
) -> None:
    bot = spawn(bot_config(db_url))
    bot.start()
    group, asker, other = -1_000_000_777, 71, 72
    for movie in pool[:2]:
        await emu.ask(group, f"/like {movie.title}", user_id=other, **GROUP)
    question = await emu.ask(group, "/reset", user_id=asker, **GROUP)
    assert question.text == texts.reset_confirm(2)
    assert question.message_id is not None
    yes = next(d for d in question.button_data() if d.startswith("reset:yes"))

    for data in (yes, "reset:no"):  # another member can neither confirm nor cancel
        mark = emu.mark()
        answer = await emu.click(group, question.message_id, data, user_id=other)
        assert answer.params.get("text") == texts.notice_only_asker()
        await emu.wait_all_confirmed()  # the update is done with
        assert [c.method for c in emu.calls_in(group, after=mark)] == []  # no edit, no message
    assert await stored_favorites(db_url, group) == [m.movie_id for m in pool[:2]]
    assert emu.message(group, question.message_id)["text"] == question.text  # still asking

    mark = emu.mark()
    answer = await emu.click(group, question.message_id, yes, user_id=asker)
    assert answer.params.get("text") != texts.notice_only_asker()
    done = await emu.wait_for_reply(group, after=mark, methods=["editMessageText"])
    assert done.text == texts.reset_done(2)
    assert await stored_favorites(db_url, group) == []

    # A private chat: its one member confirms, as before.
    chat = 73
    await emu.ask(chat, f"/like {pool[3].title}")
    question = await emu.ask(chat, "/reset")
    assert question.message_id is not None
    mark = emu.mark()
    await emu.click(chat, question.message_id, "reset:yes:1")
    done = await emu.wait_for_reply(chat, after=mark, methods=["editMessageText"])
    assert done.text == texts.reset_done(1)
    assert bot.stop() == 0
    assert emu.problems() == []
    assert " ERROR " not in bot.log()
