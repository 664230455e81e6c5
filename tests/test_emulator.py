"""The Bot API emulator itself: Telegram's validation rules, long polling, redelivery, and an
unmodified python-telegram-bot Application working against it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.emulator import Emulator, command_entities, fake_token, parse_html

CHAT = 501


@pytest.fixture
async def api(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{emu.base_url}{emu.token}/", timeout=30) as client:
        yield client


async def call(client: httpx.AsyncClient, method: str, **params: Any) -> tuple[int, Any]:
    """POST form-encoded like python-telegram-bot does (JSON values for objects)."""
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    response = await client.post(method, data=form)
    return response.status_code, response.json()


# -- HTML entities, Telegram's rules --


def test_html_nested_tags_give_utf16_entities() -> None:
    link = '<a href="https://x.org/?a=1&amp;b=2">x</a>'
    text, entities = parse_html(f"🎬 <b>Toy <i>Story</i></b> &lt;1995&gt; {link}")
    assert text == "🎬 Toy Story <1995> x"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 9},
        {"type": "italic", "offset": 7, "length": 5},
        {"type": "text_link", "offset": 20, "length": 1, "url": "https://x.org/?a=1&b=2"},
    ]


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("1 < 2", 'Unsupported start tag ""'),
        ("<script>x</script>", 'Unsupported start tag "script"'),
        ("<b>bold", "Can't find end tag"),
        ("<b><i>x</b></i>", "Unmatched end tag"),
        ("</b>", "Unmatched end tag"),
        ("Tom & Jerry", "Character '&' is reserved"),
        ("&nbsp;", "Character '&' is reserved"),
        ("<span>x</span>", 'must have class "tg-spoiler"'),
        ("<code><b>x</b></code>", "can't be nested"),
        ("<b", "Unclosed start tag"),
    ],
)
def test_html_that_telegram_rejects(html: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_html(html)


def test_html_numeric_entities_and_spoilers() -> None:
    spoilers = '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>'
    text, entities = parse_html(f"&#65;&#x42; {spoilers}")
    assert text == "AB st"
    assert [e["type"] for e in entities] == ["spoiler", "spoiler"]


def test_command_entities_in_utf16() -> None:
    assert command_entities("/like Toy") == [{"type": "bot_command", "offset": 0, "length": 5}]
    assert command_entities("/like@some_bot x") == [
        {"type": "bot_command", "offset": 0, "length": 14}
    ]
    assert command_entities("🎬 /x") == [{"type": "bot_command", "offset": 3, "length": 2}]
    assert command_entities("a/b") == []


# -- sendMessage and friends over HTTP -------------------------------------------------------------


async def test_get_me_unknown_method_and_wrong_token(emu: Emulator, api: httpx.AsyncClient) -> None:
    status, body = await call(api, "getMe")
    assert (status, body["ok"], body["result"]["username"]) == (200, True, emu.username)
    status, body = await call(api, "sendTelepathy")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    async with httpx.AsyncClient() as other:
        response = await other.get(f"{emu.base_url}{fake_token(999)}/getMe")
    assert response.status_code == 401
    assert response.json()["description"] == "Unauthorized"
    assert emu.unauthorized == 1


async def test_get_with_query_and_json_body(emu: Emulator, api: httpx.AsyncClient) -> None:
    emu.user_sends(CHAT, "hi")
    response = await api.get("sendMessage", params={"chat_id": CHAT, "text": "by GET"})
    assert response.json()["result"]["text"] == "by GET"
    response = await api.post(
        "sendMessage", json={"chat_id": CHAT, "text": "<b>by</b> JSON", "parse_mode": "HTML"}
    )
    assert response.json()["result"]["entities"] == [{"type": "bold", "offset": 0, "length": 2}]
    assert [c.text for c in emu.calls] == ["by GET", "by JSON"]


async def test_send_message_validation(emu: Emulator, api: httpx.AsyncClient) -> None:
    status, body = await call(api, "sendMessage", chat_id=CHAT, text="nobody here")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")
    emu.user_sends(CHAT, "hi")
    status, body = await call(api, "sendMessage", chat_id=CHAT, text="a < b", parse_mode="HTML")
    assert status == 400
    assert body["description"].startswith("Bad Request: can't parse entities: ")
    status, body = await call(api, "sendMessage", chat_id=CHAT, text="x" * 4097)
    assert (status, body["description"]) == (400, "Bad Request: message is too long")
    status, _ = await call(api, "sendMessage", chat_id=CHAT, text="x" * 4096)
    assert status == 200
    status, _ = await call(api, "sendMessage", chat_id=CHAT, text="🎬" * 2048)
    assert status == 200
    status, body = await call(api, "sendMessage", chat_id=CHAT, text="🎬" * 2049)
    assert (status, body["description"]) == (400, "Bad Request: message is too long")
    # The limit applies after entity parsing: tags and entities do not count.
    status, _ = await call(
        api, "sendMessage", chat_id=CHAT, parse_mode="HTML", text="<b>" + "&amp;" * 4096 + "</b>"
    )
    assert status == 200
    status, body = await call(api, "sendMessage", chat_id=CHAT, text=" \n ")
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")
    assert len(emu.rejected) == 5
    assert [r.error_code for r in emu.rejected] == [400] * 5


def keyboard(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"inline_keyboard": [list(buttons)]}


@pytest.mark.parametrize(
    ("markup", "description"),
    [
        (keyboard({"text": "x", "callback_data": "a" * 65}), "BUTTON_DATA_INVALID"),
        (keyboard({"text": "x", "callback_data": "🎬" * 17}), "BUTTON_DATA_INVALID"),
        (keyboard({"text": "x", "callback_data": ""}), "BUTTON_DATA_INVALID"),
        (keyboard({"text": "", "callback_data": "a"}), "BUTTON_TEXT_INVALID"),
        (keyboard({"text": "x"}), "exactly one of the optional fields"),
        (keyboard({"text": "x", "callback_data": "a", "url": "https://x.org"}), "exactly one"),
        (keyboard({"text": "x", "url": "javascript:alert(1)"}), "BUTTON_URL_INVALID"),
        ({"inline_keyboard": [{"text": "x", "callback_data": "a"}]}, "Array of Arrays"),
        (
            {"inline_keyboard": [[{"text": "x", "callback_data": str(i)} for i in range(101)]]},
            "reply markup is too long",
        ),
    ],
)
async def test_keyboard_validation(
    emu: Emulator, api: httpx.AsyncClient, markup: dict[str, Any], description: str
) -> None:
    emu.user_sends(CHAT, "hi")
    status, body = await call(api, "sendMessage", chat_id=CHAT, text="pick", reply_markup=markup)
    assert status == 400
    assert description in body["description"]


async def test_keyboard_limits_accepted(emu: Emulator, api: httpx.AsyncClient) -> None:
    emu.user_sends(CHAT, "hi")
    markup = keyboard(
        {"text": "a", "callback_data": "a" * 64},
        {"text": "b", "callback_data": "🎬" * 16},
        {"text": "c", "url": "https://movielens.org/movies/1"},
    )
    status, body = await call(api, "sendMessage", chat_id=CHAT, text="pick", reply_markup=markup)
    assert status == 200
    assert body["result"]["reply_markup"] == markup


async def test_edits_and_callback_answers(emu: Emulator, api: httpx.AsyncClient) -> None:
    user_message = emu.user_sends(CHAT, "hi")["message"]["message_id"]
    markup = keyboard({"text": "Yes", "callback_data": "yes"})
    _, sent = await call(api, "sendMessage", chat_id=CHAT, text="Sure?", reply_markup=markup)
    message_id = sent["result"]["message_id"]
    status, body = await call(
        api,
        "editMessageText",
        chat_id=CHAT,
        message_id=message_id,
        text="Sure?",
        reply_markup=markup,
    )
    assert status == 400
    assert body["description"].startswith("Bad Request: message is not modified")
    status, body = await call(api, "editMessageText", chat_id=CHAT, message_id=999, text="x")
    assert body["description"] == "Bad Request: message to edit not found"
    status, body = await call(
        api, "editMessageText", chat_id=CHAT, message_id=user_message, text="x"
    )
    assert body["description"] == "Bad Request: message can't be edited"

    query = emu.press_button(CHAT, message_id, "yes")["callback_query"]
    with pytest.raises(LookupError):
        emu.press_button(CHAT, message_id, "no")
    assert emu.unanswered_queries() == [query["id"]]
    status, _ = await call(api, "answerCallbackQuery", callback_query_id=query["id"], text="ok")
    assert status == 200
    status, body = await call(api, "answerCallbackQuery", callback_query_id=query["id"])
    assert status == 400  # answered twice
    assert emu.unanswered_queries() == []

    status, body = await call(api, "editMessageReplyMarkup", chat_id=CHAT, message_id=message_id)
    assert status == 200
    assert "reply_markup" not in body["result"]
    assert "reply_markup" not in emu.message(CHAT, message_id)
    status, body = await call(api, "editMessageReplyMarkup", chat_id=CHAT, message_id=message_id)
    assert body["description"].startswith("Bad Request: message is not modified")


async def test_set_my_commands(emu: Emulator, api: httpx.AsyncClient) -> None:
    commands = [{"command": "like", "description": "Add a movie"}]
    assert (await call(api, "setMyCommands", commands=commands))[0] == 200
    assert emu.commands() == commands
    assert (await call(api, "getMyCommands"))[1]["result"] == commands
    status, body = await call(
        api, "setMyCommands", commands=[{"command": "Like!", "description": "x"}]
    )
    assert (status, body["description"]) == (400, "Bad Request: BOT_COMMAND_INVALID")
    for method in ("deleteWebhook", "logOut", "close"):
        assert (await call(api, method))[1] == {"ok": True, "result": True}


# -- getUpdates --


async def test_redelivery_until_the_offset_confirms(emu: Emulator, api: httpx.AsyncClient) -> None:
    ids = [emu.user_sends(CHAT, f"m{i}")["update_id"] for i in range(3)]
    _, first = await call(api, "getUpdates")
    _, again = await call(api, "getUpdates")
    assert [u["update_id"] for u in first["result"]] == ids
    assert again["result"] == first["result"]  # not confirmed: delivered again
    _, limited = await call(api, "getUpdates", offset=ids[1], limit=1)
    assert [u["update_id"] for u in limited["result"]] == [ids[1]]  # ids[0] is now confirmed
    assert emu.pending_update_ids() == ids[1:]
    _, rest = await call(api, "getUpdates", offset=ids[2] + 1, timeout=0)
    assert rest["result"] == []
    assert emu.pending_update_ids() == []
    assert emu.delivery_counts == {ids[0]: 2, ids[1]: 3, ids[2]: 2}


async def test_long_polling_returns_as_soon_as_an_update_arrives(
    emu: Emulator, api: httpx.AsyncClient
) -> None:
    _, empty = await call(api, "getUpdates", timeout=0.2)
    assert empty["result"] == []
    poll = asyncio.create_task(call(api, "getUpdates", timeout=25))
    await asyncio.sleep(0.3)
    assert not poll.done()
    update = emu.user_sends(CHAT, "/start")
    # Far less than the 25 s poll timeout: the poll ended because the update arrived.
    _, body = await asyncio.wait_for(poll, 15)
    assert body["result"] == [update]
    assert body["result"][0]["message"]["entities"][0]["type"] == "bot_command"


async def test_allowed_updates_and_conflicting_pollers(
    emu: Emulator, api: httpx.AsyncClient
) -> None:
    emu.user_sends(CHAT, "text is dropped")
    _, body = await call(api, "getUpdates", allowed_updates=["callback_query"], timeout=0)
    assert body["result"] == []
    assert emu.pending_update_ids() == []
    first = asyncio.create_task(call(api, "getUpdates", timeout=25))
    await asyncio.sleep(0.3)
    second = asyncio.create_task(call(api, "getUpdates", timeout=0.5))
    status, body = await asyncio.wait_for(first, 15)
    assert status == 409
    assert body["description"].startswith("Conflict: terminated by other getUpdates request")
    assert (await second)[0] == 200


async def test_delete_webhook_can_drop_pending(emu: Emulator, api: httpx.AsyncClient) -> None:
    emu.user_sends(CHAT, "old")
    await call(api, "deleteWebhook", drop_pending_updates=False)
    assert len(emu.pending_update_ids()) == 1
    await call(api, "deleteWebhook", drop_pending_updates=True)
    assert emu.pending_update_ids() == []


async def test_injected_failures_are_not_rejections(emu: Emulator, api: httpx.AsyncClient) -> None:
    emu.user_sends(CHAT, "hi")
    emu.inject_failure("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    status, body = await call(api, "sendMessage", chat_id=CHAT, text="x")
    assert (status, body["parameters"]) == (429, {"retry_after": 1})
    assert (await call(api, "sendMessage", chat_id=CHAT, text="x"))[0] == 200
    assert emu.rejected == []


# -- an unmodified python-telegram-bot bot --


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greets with a button."""
    assert update.effective_message is not None
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Press <me>", callback_data="pressed")]])
    await update.effective_message.reply_html(
        "Hello <b>there</b> &amp; welcome", reply_markup=markup
    )


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answers the button and edits the message."""
    query = update.callback_query
    assert query is not None
    await query.answer("Done")
    await query.edit_message_text("Pressed")


async def test_python_telegram_bot_application(emu: Emulator) -> None:
    app = Application.builder().token(emu.token).base_url(emu.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed, pattern="^pressed$"))
    async with app:
        await app.bot.set_my_commands([("start", "Say hello")])
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            reply = await emu.ask(CHAT, "/start")
            assert reply.text == "Hello there & welcome"
            assert reply.button_data() == ["pressed"]
            assert reply.message_id is not None
            answer = await emu.click(CHAT, reply.message_id, "pressed")
            assert answer.params["text"] == "Done"
            edit = await emu.wait_for_reply(CHAT, after=answer.seq - 1, methods=["editMessageText"])
            assert edit.text == "Pressed"
            group = -1001
            mark = emu.mark()
            emu.user_sends(
                group, f"/start@{fake_token()[:3]}other_bot", chat_type="group", user_id=7
            )
            in_group = await emu.ask(group, f"/start@{emu.username}", chat_type="group", user_id=7)
            assert in_group.text == "Hello there & welcome"
            assert len(emu.calls_in(group, after=mark)) == 1  # the other bot's command is ignored
        finally:
            await app.updater.stop()
            await app.stop()
    assert emu.commands() == [{"command": "start", "description": "Say hello"}]
    assert emu.rejected == []
    assert emu.unanswered_queries() == []
