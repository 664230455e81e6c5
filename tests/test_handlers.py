"""Telegram handlers in-process, the way python-telegram-bot tests itself.

A request layer records every Bot API call (and rejects what Telegram would reject), updates are
real ``Update`` objects, and ``app.process_update`` runs the handlers. The model, title index and
SQLite store are the real ones on ml-latest-small.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest
from telegram import Update

from bot import texts
from bot.ratelimit import FloodLimiter
from bot.service import MovieBot, menu
from bot.store import FavoritesStore, StoreUnavailable
from bot.telegram_app import ALLOWED_UPDATES, Poller, command_of, register_commands
from tests.fixtures_bot import (
    BOT_USERNAME,
    TOKEN,
    Call,
    TelegramHarness,
    callback_update,
    message_json,
    message_update,
    start_harness,
)

ALICE = 1001
GROUP = -100500

TOY_STORY, LION_KING, MATRIX = 1, 364, 2571


def only_message(calls: list[Call], endpoint: str = "sendMessage") -> Call:
    sent = [c for c in calls if c.endpoint == endpoint]
    assert len(sent) == 1, calls
    return sent[0]


async def test_start_and_help(telegram: TelegramHarness) -> None:
    reply = only_message(await telegram.send(ALICE, "/start"))
    assert reply.params["chat_id"] == ALICE
    assert reply.params["parse_mode"] == "HTML"
    assert "/like toy story" in reply.text
    assert "/recommend" in only_message(await telegram.send(ALICE, "/help")).text


async def test_command_menu_is_registered(telegram: TelegramHarness) -> None:
    await register_commands(telegram.app)
    call = only_message(telegram.request.calls, "setMyCommands")
    names = [c["command"] for c in call.params["commands"]]
    assert names == [name for name, _ in menu()]


async def test_like_adds_the_real_movie(
    telegram: TelegramHarness, sqlite_store: FavoritesStore
) -> None:
    reply = only_message(await telegram.send(ALICE, "/like toy story"))
    assert "Added <b>Toy Story (1995)</b>" in reply.text
    assert reply.data == [f"sim:{TOY_STORY}", f"un:{TOY_STORY}"]
    assert await sqlite_store.favorites(ALICE) == [TOY_STORY]


async def test_like_without_title_shows_usage(telegram: TelegramHarness) -> None:
    assert only_message(await telegram.send(ALICE, "/like")).text.startswith("Usage: /like")


async def test_group_chat_with_bot_name(
    telegram: TelegramHarness, sqlite_store: FavoritesStore
) -> None:
    reply = only_message(await telegram.send(GROUP, f"/like@{BOT_USERNAME} toy story"))
    assert reply.params["chat_id"] == GROUP
    assert "Toy Story (1995)" in reply.text
    assert await sqlite_store.favorites(GROUP) == [TOY_STORY]
    assert await sqlite_store.favorites(4242) == []  # the group's list, not the member's
    # a command for another bot in the same group is left alone
    assert await telegram.send(GROUP, "/like@SomeOtherBot lion king") == []
    assert await telegram.send(GROUP, "/frobnicate") == []
    assert await sqlite_store.favorites(GROUP) == [TOY_STORY]
    # plain chatter in a group is not answered; an unknown command addressed to us is
    assert await telegram.send(GROUP, "toy story is great") == []
    unknown = only_message(await telegram.send(GROUP, f"/frobnicate@{BOT_USERNAME}"))
    assert "/frobnicate" in unknown.text


async def test_ambiguous_like_then_pick(
    telegram: TelegramHarness, sqlite_store: FavoritesStore
) -> None:
    reply = only_message(await telegram.send(ALICE, "/like king kong"))
    assert "Which one" in reply.text
    assert sorted(reply.data) == ["like:2366", "like:2367", "like:41569"]
    assert await sqlite_store.favorites(ALICE) == []
    calls = await telegram.press(ALICE, "like:41569")
    answer = only_message(calls, "answerCallbackQuery")
    assert answer.params["text"] == "Added King Kong (2005)"
    assert "King Kong (2005)" in only_message(calls).text
    assert await sqlite_store.favorites(ALICE) == [41569]


async def test_unlike_and_favorites(
    telegram: TelegramHarness, sqlite_store: FavoritesStore
) -> None:
    empty = only_message(await telegram.send(ALICE, "/favorites"))
    assert "empty" in empty.text
    await telegram.send(ALICE, "/like toy story")
    await telegram.send(ALICE, "/like matrix")
    listed = only_message(await telegram.send(ALICE, "/favorites"))
    assert "Toy Story (1995)" in listed.text
    assert "Matrix, The (1999)" in listed.text
    assert listed.data == [f"un:{TOY_STORY}:0", f"un:{MATRIX}:0"]
    removed = only_message(await telegram.send(ALICE, "/unlike toy story"))
    assert "Removed <b>Toy Story (1995)</b>" in removed.text
    assert await sqlite_store.favorites(ALICE) == [MATRIX]


async def test_remove_button_edits_the_list(
    telegram: TelegramHarness, sqlite_store: FavoritesStore
) -> None:
    await telegram.send(ALICE, "/like toy story")
    await telegram.send(ALICE, "/like matrix")
    calls = await telegram.press(ALICE, f"un:{TOY_STORY}:0", message_id=55)
    edit = only_message(calls, "editMessageText")
    assert edit.params["message_id"] == 55
    assert "Toy Story" not in edit.text
    assert "Matrix, The (1999)" in edit.text
    assert only_message(calls, "answerCallbackQuery").params["text"].startswith("Removed")
    assert not [c for c in calls if c.endpoint == "sendMessage"]
    assert await sqlite_store.favorites(ALICE) == [MATRIX]


async def test_recommend_with_and_without_favorites(telegram: TelegramHarness) -> None:
    popular = only_message(await telegram.send(ALICE, "/recommend"))
    assert "most popular" in popular.text
    await telegram.send(ALICE, "/like toy story")
    await telegram.send(ALICE, "/like lion king 1994")
    reply = only_message(await telegram.send(ALICE, "/recommend"))
    assert reply.text.count("because you liked") == 10
    assert reply.text.count('<a href="https://') == 10
    assert len(reply.data) == 41  # 👍 👎 👁 🔎 per movie, and More
    assert not any(d.endswith(f":{TOY_STORY}") for d in reply.data)
    assert reply.params["link_preview_options"] == {"is_disabled": True}


async def test_similar_why_and_their_buttons(telegram: TelegramHarness) -> None:
    similar = only_message(await telegram.send(ALICE, "/similar matrix"))
    assert "Movies similar to Matrix, The (1999)" in similar.text
    sim_button = next(d for d in similar.data if d.startswith("sim:"))
    again = only_message(await telegram.press(ALICE, sim_button))
    assert "Movies similar to" in again.text
    assert (
        "need some of your favorites"
        in only_message(await telegram.send(ALICE, "/why matrix")).text
    )
    await telegram.send(ALICE, "/like toy story")
    why = only_message(await telegram.send(ALICE, "/why toy story 2"))
    assert "ranks <b>#" in why.text
    assert "in your top" in why.text
    assert "Toy Story (1995)" in why.text
    why_button = only_message(await telegram.press(ALICE, f"why:{MATRIX}"))
    assert "Matrix, The (1999)" in why_button.text


async def test_reset_confirm_then_empty(
    telegram: TelegramHarness, sqlite_store: FavoritesStore
) -> None:
    await telegram.send(ALICE, "/like toy story")
    confirm = only_message(await telegram.send(ALICE, "/reset"))
    assert confirm.data == ["reset:yes:1", "reset:no"]
    calls = await telegram.press(ALICE, "reset:yes:1")
    assert "removed 1 movie" in only_message(calls, "editMessageText").text
    only_message(calls, "answerCallbackQuery")
    assert await sqlite_store.favorites(ALICE) == []


@pytest.mark.parametrize(
    "data", ["like:999999999", "like:abc", "bogus", "un:1:2:3", "reset:now", "like:1;drop"]
)
async def test_stale_or_forged_button(
    telegram: TelegramHarness, sqlite_store: FavoritesStore, data: str
) -> None:
    calls = await telegram.press(ALICE, data)
    assert (
        only_message(calls, "answerCallbackQuery")
        .params["text"]
        .startswith("This button has expired")
    )
    assert only_message(calls).text == texts.expired()
    assert await sqlite_store.favorites(ALICE) == []


async def test_plain_text_offers_a_like(telegram: TelegramHarness) -> None:
    reply = only_message(await telegram.send(ALICE, "the matrix"))
    assert "Matrix, The (1999)" in reply.text
    assert reply.data == [f"like:{MATRIX}", f"sim:{MATRIX}"]


async def test_stickers_photos_and_edits(telegram: TelegramHarness) -> None:
    sticker = message_update(
        ALICE,
        None,
        sticker={
            "file_id": "s",
            "file_unique_id": "s",
            "type": "regular",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
        },
    )
    assert "only understand text" in only_message(await telegram.feed(sticker)).text
    photo = message_update(
        GROUP, None, photo=[{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
    )
    assert await telegram.feed(photo) == []
    edited = {
        "update_id": 99991,
        "edited_message": message_json(ALICE, "/like toy story", edit_date=1),
    }
    assert await telegram.feed(edited) == []
    assert "edited_message" not in ALLOWED_UPDATES


async def test_unknown_command_in_private(telegram: TelegramHarness) -> None:
    assert (
        "don't know the command /frobnicate"
        in only_message(await telegram.send(ALICE, "/frobnicate now")).text
    )


async def test_long_and_hostile_input_stays_valid(telegram: TelegramHarness) -> None:
    for text in (
        "/like " + "<b>&" * 1500,
        "/similar </a><i>",
        "<script>" * 500,
        "/why " + "x" * 4000,
        "/like 🎬" * 50,
    ):
        calls = await telegram.send(ALICE, text)
        assert len(calls) == 1  # the recording layer rejects what Telegram would reject


class _DeadStore:
    async def add(self, *a: Any, **k: Any) -> Any:
        raise StoreUnavailable("down")

    remove = clear = favorites = mark = unmark = state = save_shown = shown = add_many = add
    add_counted = make_shown = add
    align_catalog = import_movies = undo_import = outcome = add


async def test_store_unavailable(recommender: Any, title_index: Any) -> None:
    harness = await start_harness(MovieBot(recommender, title_index, _DeadStore()))
    try:
        reply = only_message(await harness.send(ALICE, "/like toy story"))
        assert reply.text == texts.unavailable()
        calls = await harness.press(ALICE, f"like:{TOY_STORY}")
        only_message(calls, "answerCallbackQuery")
        assert only_message(calls).text == texts.unavailable()
        assert "Movies similar" in only_message(await harness.send(ALICE, "/similar matrix")).text
    finally:
        await harness.app.shutdown()


async def test_flood_limit(
    recommender: Any, title_index: Any, sqlite_store: FavoritesStore
) -> None:
    bot = MovieBot(recommender, title_index, sqlite_store, limiter=FloodLimiter(20, 10.0))
    harness = await start_harness(bot)
    try:
        replies = [await harness.send(ALICE, "/help") for _ in range(30)]
        assert all(len(r) == 1 and "What I can do" in r[0].text for r in replies[:20])
        assert only_message(replies[20]).text == texts.flood()
        assert all(r == [] for r in replies[21:])
        calls = await harness.press(ALICE, f"like:{TOY_STORY}")
        assert [c.endpoint for c in calls] == ["answerCallbackQuery"]  # answered, silently
        assert only_message(await harness.send(ALICE + 1, "/help"))
    finally:
        await harness.app.shutdown()


async def test_error_handler_apologises_and_never_logs_the_token(
    telegram: TelegramHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*a: Any, **k: Any) -> Any:
        raise RuntimeError(f"boom with {TOKEN}")

    monkeypatch.setattr(
        telegram.app.handlers[0][0].callback.__self__.moviebot,  # type: ignore[attr-defined]
        "command",
        broken,
    )
    with caplog.at_level(logging.DEBUG):
        calls = await telegram.send(ALICE, "/like toy story")
    assert only_message(calls).text == texts.something_wrong()
    assert "boom" not in only_message(calls).text
    assert any("Error while handling update" in r.getMessage() for r in caplog.records)
    # The redactor of the composition root scrubs the token from records and tracebacks.
    from bot.app_cli import Redactor

    redactor = Redactor([TOKEN])
    for record in caplog.records:
        redactor.filter(record)
        text = record.getMessage() + (record.exc_text or "")
        assert TOKEN not in text


async def test_transient_errors_are_retried(telegram: TelegramHarness) -> None:
    telegram.request.fail = {"sendMessage": 502}
    telegram.request.fail_times = 1
    calls = await telegram.send(ALICE, "/help")
    assert "What I can do" in only_message(calls).text
    assert telegram.request.fail_times == 0


async def test_a_timed_out_message_is_not_sent_again(telegram: TelegramHarness) -> None:
    telegram.request.time_out = {"sendMessage": 1}
    calls = await telegram.send(ALICE, "/help")
    assert [c.endpoint for c in telegram.request.timed_out] == ["sendMessage"]
    assert "What I can do" in telegram.request.timed_out[0].text
    # Telegram may have delivered it: it is not sent a second time (an apology may follow).
    assert not any("What I can do" in c.text for c in calls)


async def test_a_timed_out_edit_is_retried(
    telegram: TelegramHarness, sqlite_store: FavoritesStore
) -> None:
    await telegram.send(ALICE, "/like toy story")
    telegram.request.time_out = {"editMessageText": 1, "answerCallbackQuery": 1}
    calls = await telegram.press(ALICE, "reset:no")
    assert [c.endpoint for c in telegram.request.timed_out] == [
        "answerCallbackQuery",
        "editMessageText",
    ]
    edits = [c for c in calls if c.endpoint == "editMessageText"]
    assert len(edits) == 1
    assert "stay as they are" in edits[0].text


@pytest.mark.parametrize(
    ("endpoint", "error", "cause", "retry"),
    [
        ("sendMessage", "timeout", httpx.ReadTimeout("read"), False),
        ("sendMessage", "timeout", httpx.ConnectTimeout("connect"), True),
        ("sendMessage", "network", httpx.ConnectError("refused"), True),
        ("sendMessage", "network", httpx.ReadError("reset"), False),
        ("sendMessage", "network", None, True),  # Telegram answered 5xx: nothing was done
        ("sendMessage", "bad", None, False),
        ("editMessageText", "timeout", httpx.ReadTimeout("read"), True),
        ("answerCallbackQuery", "network", httpx.ReadError("reset"), True),
        ("getUpdates", "timeout", httpx.ReadTimeout("read"), True),
        ("setMyCommands", "timeout", httpx.ReadTimeout("read"), True),
        ("copyMessage", "timeout", httpx.ReadTimeout("read"), False),
    ],
)
def test_retries_only_when_the_effect_cannot_repeat(
    endpoint: str, error: str, cause: Exception | None, retry: bool
) -> None:
    from telegram.error import BadRequest, NetworkError, TimedOut

    from bot.ratelimit import may_retry

    made: Exception = {
        "timeout": TimedOut(),
        "network": NetworkError("Bad Gateway (502)"),
        "bad": BadRequest("message is too long"),
    }[error]
    made.__cause__ = cause
    assert may_retry(endpoint, made) is retry


def test_command_parsing() -> None:
    from telegram import Bot, Message

    bot = Bot(TOKEN)
    message = Message.de_json(message_json(GROUP, "/like@MovieTestBot  toy story "), bot)
    assert command_of(message) == ("like", "MovieTestBot", "toy story")
    plain = Message.de_json(message_json(ALICE, "toy story"), bot)
    assert command_of(plain) is None


# ---------------------------------------------------------------------------------------------
# Polling: the offset is confirmed only after the whole batch was processed


async def test_poller_confirms_a_batch_only_after_processing_it(
    telegram: TelegramHarness, sqlite_store: FavoritesStore
) -> None:
    request = telegram.request
    request.batches = [
        [
            message_update(ALICE, "/like toy story", update_id=500),
            message_update(ALICE + 1, "/like matrix", update_id=501),
            message_update(ALICE, "/unlike toy story", update_id=502),
            message_update(ALICE, "/like lion king 1994", update_id=503),
        ],
        [message_update(ALICE + 1, "/favorites", update_id=504)],
    ]
    poller = Poller(telegram.app, timeout=0)
    task = asyncio.create_task(poller.run())
    for _ in range(500):
        if len(request.of("getUpdates")) >= 4:
            break
        await asyncio.sleep(0.01)
    poller.stop()
    await asyncio.wait_for(task, 10)
    polls = request.of("getUpdates")
    assert polls[0].params.get("offset") is None
    assert polls[1].params["offset"] == 504
    assert polls[2].params["offset"] == 505
    assert polls[0].params["allowed_updates"] == list(ALLOWED_UPDATES)
    # Everything of the first batch was answered before its offset was confirmed.
    first_confirm = request.calls.index(polls[1])
    answered = [c for c in request.calls[:first_confirm] if c.endpoint == "sendMessage"]
    assert len(answered) == 4
    # One chat's updates ran in order: liked, unliked, then Lion King.
    assert await sqlite_store.favorites(ALICE) == [LION_KING]
    assert await sqlite_store.favorites(ALICE + 1) == [MATRIX]
    assert request.of("deleteWebhook")


async def test_poller_stops_promptly_while_waiting(telegram: TelegramHarness) -> None:
    poller = Poller(telegram.app, timeout=0)
    task = asyncio.create_task(poller.run())
    await asyncio.sleep(0.05)
    poller.stop()
    await asyncio.wait_for(task, 5)
    assert task.done()
    assert task.exception() is None


def test_update_objects_are_real(telegram: TelegramHarness) -> None:
    update = Update.de_json(callback_update(ALICE, "like:1"), telegram.app.bot)
    assert update.callback_query is not None
    assert update.effective_chat is not None


def test_keyboard_json_is_what_ptb_would_send() -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    from bot.service import Button
    from bot.telegram_app import keyboard

    rows = (
        (Button("👍 <Up> & away", data="like:1"), Button("🔎 Similar", data="sim:1")),
        (Button("IMDb", url="https://www.imdb.com/title/tt0000001/"),),
    )
    reference = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("👍 <Up> & away", callback_data="like:1"),
                InlineKeyboardButton("🔎 Similar", callback_data="sim:1"),
            ],
            [InlineKeyboardButton("IMDb", url="https://www.imdb.com/title/tt0000001/")],
        ]
    )
    built = keyboard(rows)
    assert built is not None
    assert built.to_dict() == reference.to_dict()
    assert json.loads(built.to_json()) == reference.to_dict()
    assert keyboard(()) is None


# ---------------------------------------------------------------------------------------------
# Webhook mode


async def test_webhook_checks_the_secret_and_processes_updates(moviebot: MovieBot) -> None:
    import socket

    import httpx

    from bot.telegram_app import build_application, run_webhook
    from tests.fixtures_bot import RecordingRequest

    request = RecordingRequest()
    app = build_application(
        moviebot, token=TOKEN, request=request, polling=False, overall_max_rate=0, group_max_rate=0
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_webhook(
            app,
            listen="127.0.0.1",
            port=port,
            url="https://bot.example.invalid/hook/tg",
            secret_token="s3cret-value",
            stop=stop,
        )
    )
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                if request.of("setWebhook"):
                    break
                await asyncio.sleep(0.02)
            hook = only_message(request.calls, "setWebhook")
            assert hook.params["url"] == "https://bot.example.invalid/hook/tg"
            assert hook.params["secret_token"] == "s3cret-value"
            address = f"http://127.0.0.1:{port}/hook/tg"
            forged = await client.post(address, json=message_update(ALICE, "/help"))
            assert forged.status_code == 403
            good = await client.post(
                address,
                json=message_update(ALICE, "/help"),
                headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-value"},
            )
            assert good.status_code == 200
            for _ in range(200):
                if request.sent(ALICE):
                    break
                await asyncio.sleep(0.02)
            assert len(request.sent(ALICE)) == 1
            assert "What I can do" in request.sent(ALICE)[0].text
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert request.rejected == []


async def test_run_polling_waits_for_telegram_and_stops_cleanly(moviebot: MovieBot) -> None:
    from bot.telegram_app import build_application, run_polling
    from tests.fixtures_bot import RecordingRequest

    request = RecordingRequest(fail={"getMe": 502}, fail_times=2)
    request.batches = [[message_update(ALICE, "/help", update_id=900)]]
    app = build_application(
        moviebot, token=TOKEN, request=request, overall_max_rate=0, group_max_rate=0
    )
    poller = Poller(app, timeout=0)
    task = asyncio.create_task(run_polling(app, poller=poller))
    for _ in range(500):
        if request.sent(ALICE):
            break
        await asyncio.sleep(0.01)
    poller.stop()
    await asyncio.wait_for(task, 10)
    assert request.fail_times == 0  # getMe failed twice, then the bot came up
    assert "What I can do" in only_message(request.calls).text
    assert request.of("setMyCommands")
    assert request.of("getUpdates")[-1].params["offset"] == 901  # confirmed on the way out
    assert not app.running


async def test_a_blocked_bot_is_not_an_error(
    telegram: TelegramHarness, caplog: pytest.LogCaptureFixture
) -> None:
    telegram.request.fail = {"sendMessage": 403}
    telegram.request.fail_times = 10
    with caplog.at_level(logging.INFO):
        assert await telegram.send(ALICE, "/help") == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("Cannot answer update" in r.getMessage() for r in caplog.records)
