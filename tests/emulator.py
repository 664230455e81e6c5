"""A local Telegram Bot API emulator for end-to-end tests (127.0.0.1 only: nothing leaves the host).

It speaks the official Bot API JSON (``{"ok": true, "result": ...}`` /
``{"ok": false, "error_code": 400, "description": "Bad Request: ..."}``) at
``http://127.0.0.1:PORT/bot<TOKEN>/<method>`` for GET and POST with JSON, form or multipart bodies,
so an unmodified python-telegram-bot bot works against it with ``base_url=emulator.base_url``
(``MOVIEBOT_TELEGRAM_API_URL``).

What the bot sends is validated the way Telegram does: HTML entities must parse (Telegram's tags
only, properly nested and closed, ``&lt; &gt; &amp; &quot;`` and numeric entities only), a text is
1-4,096 characters after entity parsing, inline keyboards are lists of lists of buttons with a text
and exactly one action, callback data is 1-64 bytes, the chat must exist, the message to edit must
exist and the edit must change something. Everything the bot sent is in :attr:`Emulator.calls`;
every request answered with an error is in :attr:`Emulator.rejected` (tests assert it is empty).

Test code acts as the users (:meth:`Emulator.user_sends`, :meth:`Emulator.press_button`,
:meth:`Emulator.edit_message`, :meth:`Emulator.user_sends_media`) and waits for the bot
(:meth:`Emulator.wait_for_reply`, :meth:`Emulator.ask`, :meth:`Emulator.click`). The server runs on
its own thread and event loop, so one emulator can serve several tests, each with its own loop, and
the user-side methods may be called from any thread.

Known simplifications: message ids are counted per chat; MarkdownV2/Markdown texts are accepted
without entity validation (the project's bot sends HTML). Stricter than Telegram on purpose: a
bare ``&`` that starts no entity is rejected (Telegram keeps it as text; here it means unescaped
text), and the 4,096 limit is counted in UTF-16 code units (an emoji counts 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
MAX_BUTTONS = 100
MAX_CALLBACK_ANSWER = 200
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
        "inline_query",
        "chosen_inline_result",
        "my_chat_member",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "chat_join_request",
    }
)

_TOKEN_RE = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]{30,}$")
_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")
_BOT_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8}));")
_TAG_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ATTR_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_-]*)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?")
_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_INT_PARAMS = frozenset(
    {
        "offset",
        "limit",
        "message_id",
        "user_id",
        "cache_time",
        "reply_to_message_id",
        "message_thread_id",
    }
)
_FLOAT_PARAMS = frozenset({"timeout"})
_BOOL_PARAMS = frozenset(
    {
        "show_alert",
        "disable_notification",
        "disable_web_page_preview",
        "drop_pending_updates",
        "protect_content",
        "allow_sending_without_reply",
    }
)
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "allowed_updates",
        "commands",
        "scope",
        "reply_parameters",
        "link_preview_options",
        "caption_entities",
    }
)


class ApiError(Exception):
    """A Bot API error answer (``ok: false``)."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram would answer with."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    """A 400 ``Bad Request: <detail>`` error."""
    return ApiError(400, f"Bad Request: {detail}")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


# ---------------------------------------------------------------------------------------------
# HTML entity parsing, after Telegram's rules
# ---------------------------------------------------------------------------------------------


@dataclass
class _OpenTag:
    name: str
    attrs: dict[str, str]
    offset: int  # UTF-16 offset in the plain text where the entity starts


def _byte_offset(html: str, index: int) -> int:
    return len(html[:index].encode("utf-8", "surrogatepass"))


def _decode_entity(html: str, index: int) -> tuple[str, int]:
    match = _ENTITY_RE.match(html, index)
    if match is None:
        raise ValueError(
            f"Character '&' is reserved and must be escaped as &amp; at byte offset "
            f"{_byte_offset(html, index)}"
        )
    named, dec, hexa = match.groups()
    if named:
        return _NAMED_ENTITIES[named], match.end()
    code = int(dec) if dec else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise ValueError(f"Invalid numeric entity at byte offset {_byte_offset(html, index)}")
    return chr(code), match.end()


def _parse_attributes(html: str, index: int, tag_start: int) -> tuple[dict[str, str], int]:
    attrs: dict[str, str] = {}
    while True:
        while index < len(html) and html[index].isspace():
            index += 1
        if index >= len(html):
            raise ValueError(f"Unclosed start tag at byte offset {_byte_offset(html, tag_start)}")
        if html[index] == ">":
            return attrs, index + 1
        match = _ATTR_RE.match(html, index)
        if match is None or match.end() == index:
            raise ValueError(
                f"Expected equal sign in declaration of an attribute of the tag at byte offset "
                f"{_byte_offset(html, tag_start)}"
            )
        raw = match.group(2) or ""
        if raw[:1] in "\"'":
            raw = raw[1:-1]
        attrs[match.group(1).lower()] = _unescape_attribute(raw)
        index = match.end()


def _unescape_attribute(raw: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(raw):
        if raw[index] == "&":
            char, index = _decode_entity(raw, index)
            out.append(char)
        else:
            out.append(raw[index])
            index += 1
    return "".join(out)


def _check_open_tag(name: str, attrs: dict[str, str], stack: list[_OpenTag], where: int) -> None:
    if name not in _TAG_ENTITY:
        raise ValueError(f'Unsupported start tag "{name}" at byte offset {where}')
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise ValueError('Tag "span" must have class "tg-spoiler"')
    if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
        raise ValueError("Custom emoji entity must contain a valid emoji-id")
    if (
        stack
        and stack[-1].name in {"code", "pre"}
        and not (stack[-1].name == "pre" and name == "code")
    ):
        raise ValueError(f'Entity "{name}" can\'t be nested in a "{stack[-1].name}" entity')


def _entity_for(tag: _OpenTag, end: int) -> dict[str, Any] | None:
    length = end - tag.offset
    if length <= 0:
        return None
    entity: dict[str, Any] = {"type": _TAG_ENTITY[tag.name], "offset": tag.offset, "length": length}
    if tag.name == "a":
        entity["url"] = tag.attrs.get("href", "")
    elif tag.name == "pre" and "language" in tag.attrs:
        entity["language"] = tag.attrs["language"]
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.attrs["emoji-id"]
    return entity


def parse_html(html: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse a ``parse_mode="HTML"`` text the way Telegram does.

    Returns:
        The plain text and its entities (offsets and lengths in UTF-16 code units).

    Raises:
        ValueError: what Telegram would put after ``Bad Request: can't parse entities:``.
    """
    out: list[str] = []
    out_len = 0  # UTF-16 length of the plain text so far
    entities: list[dict[str, Any]] = []
    stack: list[_OpenTag] = []
    index = 0
    while index < len(html):
        char = html[index]
        if char == "&":
            decoded, index = _decode_entity(html, index)
            out.append(decoded)
            out_len += utf16_len(decoded)
        elif char == "<":
            index = _parse_tag(html, index, stack, entities, out_len)
        else:
            out.append(char)
            out_len += utf16_len(char)
            index += 1
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _parse_tag(
    html: str, index: int, stack: list[_OpenTag], entities: list[dict[str, Any]], out_len: int
) -> int:
    where = _byte_offset(html, index)
    if html.startswith("</", index):
        end = html.find(">", index)
        if end < 0:
            raise ValueError(f"Unclosed end tag at byte offset {where}")
        name = html[index + 2 : end].strip().lower()
        if not stack or stack[-1].name != name:
            expected = f'"</{stack[-1].name}>"' if stack else "no end tag"
            raise ValueError(
                f'Unmatched end tag at byte offset {where}, expected {expected}, found "</{name}>"'
            )
        entity = _entity_for(stack.pop(), out_len)
        if entity is not None:
            entities.append(entity)
        return end + 1
    match = _TAG_NAME_RE.match(html, index + 1)
    name = match.group(0).lower() if match else ""
    if not name:
        raise ValueError(f'Unsupported start tag "" at byte offset {where}')
    attrs, after = _parse_attributes(html, match.end() if match else index + 1, index)
    if name == "code" and stack and stack[-1].name == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1].attrs["language"] = language.removeprefix("language-")
    _check_open_tag(name, attrs, stack, where)
    stack.append(_OpenTag(name, attrs, out_len))
    return after


def _strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims leading and trailing whitespace and shifts entities accordingly."""
    stripped = text.lstrip()
    lead = utf16_len(text[: len(text) - len(stripped)])
    stripped = stripped.rstrip()
    total = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def render_text(text: Any, parse_mode: Any, entities: Any) -> tuple[str, list[dict[str, Any]]]:
    """Validate a message text and return its plain text and entities.

    Raises:
        ApiError: 400 with Telegram's description.
    """
    if not isinstance(text, str) or not text:
        raise bad_request("message text is empty")
    mode = (parse_mode or "").lower() if isinstance(parse_mode, str) else parse_mode
    if mode == "html":
        try:
            plain, found = parse_html(text)
        except ValueError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    elif mode in ("", None, "markdown", "markdownv2"):
        plain, found = text, list(entities) if isinstance(entities, list) else []
    else:
        raise bad_request("unsupported parse_mode")
    plain, found = _strip_text(plain, found)
    if not plain:
        raise bad_request("message text is empty")
    if utf16_len(plain) > MAX_TEXT:  # UTF-16 units, as entity offsets: never more lenient
        raise bad_request("message is too long")
    return plain, found


# ---------------------------------------------------------------------------------------------
# Reply markup validation
# ---------------------------------------------------------------------------------------------


def _valid_url(url: Any) -> bool:
    if not isinstance(url, str) or not url or len(url) > 2048 or any(c.isspace() for c in url):
        return False
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc)
    return parts.scheme == "tg"


def _check_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [key for key in _BUTTON_ACTIONS if key in button]
    if len(actions) != 1:
        raise bad_request(
            "can't parse inline keyboard button: exactly one of the optional fields must be used"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not _valid_url(button["url"]):
        raise bad_request("BUTTON_URL_INVALID")


def check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Validate a ``reply_markup`` (inline keyboards in depth, other keyboards by shape).

    Raises:
        ApiError: 400 with Telegram's description.
    """
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        count = 0
        for row in rows:
            for button in row:
                _check_button(button)
                count += 1
        if count > MAX_BUTTONS:
            raise bad_request("reply markup is too long")
        return markup
    if "keyboard" in markup:
        if not isinstance(markup["keyboard"], list):
            raise bad_request('field "keyboard" of the ReplyKeyboardMarkup must be an Array')
        return markup
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BotCall:
    """One successful request of the bot (anything but getUpdates)."""

    seq: int
    method: str
    params: dict[str, Any]
    result: Any
    chat_id: int | None
    at: float

    @property
    def text(self) -> str:
        """The message text as users see it (entities parsed), or the callback answer's text."""
        if isinstance(self.result, dict) and "text" in self.result:
            return str(self.result["text"])
        return str(self.params.get("text", ""))

    @property
    def html(self) -> str:
        """The text exactly as the bot sent it."""
        return str(self.params.get("text", ""))

    @property
    def message_id(self) -> int | None:
        """The id of the message sent or edited."""
        if isinstance(self.result, dict):
            return int(self.result["message_id"])
        return None

    @property
    def reply_to(self) -> int | None:
        """The id of the message this one quotes (python-telegram-bot quotes in groups)."""
        if isinstance(self.result, dict) and isinstance(self.result.get("reply_to_message"), dict):
            return int(self.result["reply_to_message"]["message_id"])
        return None

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        """The inline keyboard rows sent with this call (empty without one)."""
        markup = self.params.get("reply_markup")
        if isinstance(markup, dict) and isinstance(markup.get("inline_keyboard"), list):
            rows: list[list[dict[str, Any]]] = markup["inline_keyboard"]
            return rows
        return []

    def button_data(self) -> list[str]:
        """Every callback_data of the inline keyboard, row by row."""
        return [b["callback_data"] for row in self.buttons for b in row if "callback_data" in b]

    def button(self, label: str) -> dict[str, Any]:
        """The first button whose text contains ``label`` (case-insensitive).

        Raises:
            LookupError: no such button.
        """
        for row in self.buttons:
            for button in row:
                if label.lower() in button["text"].lower():
                    return button
        raise LookupError(f"no button {label!r} in {self.buttons}")


@dataclass(frozen=True)
class Rejection:
    """A request the emulator answered with an error, as Telegram would have."""

    method: str
    params: dict[str, Any]
    error_code: int
    description: str
    at: float

    @property
    def benign(self) -> bool:
        """An edit that changed nothing: Telegram answers 400, a bot may ignore it on purpose."""
        return self.description.startswith("Bad Request: message is not modified")


@dataclass(frozen=True)
class PollRecord:
    """One getUpdates call: the offset it confirmed with and the update ids it received."""

    offset: int | None
    delivered: tuple[int, ...]
    at: float


@dataclass
class _Chat:
    chat: dict[str, Any]
    next_message_id: int = 1
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass
class _Waiter:
    predicate: Callable[[BotCall], bool]
    after: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[BotCall]


@dataclass
class _Injected:
    method: str
    error: ApiError
    remaining: int


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


# ---------------------------------------------------------------------------------------------
# The emulated Telegram
# ---------------------------------------------------------------------------------------------


class Emulator:
    """A Bot API server on 127.0.0.1 plus the users talking to the bot.

    Args:
        token: the only token accepted (others get 401 Unauthorized).
        bot_username: the bot's @username (without @), used in group commands.
        first_update_id: the first update id handed out; by default a random one, as Telegram
            does: update ids belong to one bot, and a store that remembers applied update ids
            (bot/store.py) would take another emulator's ids for its own.
    """

    def __init__(
        self,
        token: str,
        *,
        bot_username: str = "moviebot_e2e_bot",
        first_update_id: int | None = None,
    ) -> None:
        match = _TOKEN_RE.match(token)
        if match is None:
            raise ValueError("a token looks like <digits>:<35 letters, digits, _ or ->")
        self.token = token
        self.bot_user = {
            "id": int(match.group(1)),
            "is_bot": True,
            "first_name": "MovieBot e2e",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self._lock = threading.RLock()
        if first_update_id is None:
            first_update_id = random.SystemRandom().randrange(10**8, 2**31 - 10**7)
        self._update_ids = itertools.count(first_update_id)
        self._callback_ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._pending: list[dict[str, Any]] = []  # delivered or not, until confirmed
        self._confirmed_below = 0
        self._allowed: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._chats: dict[int, _Chat] = {}
        self._open_queries: dict[str, dict[str, Any]] = {}
        self._answered_queries: set[str] = set()
        self._commands: dict[str, list[dict[str, Any]]] = {}
        self._webhook = ""
        self._injected: list[_Injected] = []
        self._poll_wakers: list[asyncio.Future[None]] = []
        self._active_poll: asyncio.Future[None] | None = None
        self._waiters: list[_Waiter] = []
        self._update_times: dict[int, float] = {}
        self._files: dict[str, bytes] = {}
        self.downloads_offered = 0
        """getFile calls answered with a path (a file the bot may download)."""
        self.calls: list[BotCall] = []
        self.rejected: list[Rejection] = []
        self.polls: list[PollRecord] = []
        self.delivery_counts: dict[int, int] = {}
        self.unauthorized = 0
        self.conflicts = 0
        self.poll_requests = 0
        self.on_call: Callable[[BotCall], None] | None = None
        """Called on the server thread right after a bot call is recorded, before it is answered
        (a chaos test kills the bot there: the user saw the reply, the bot never learns it)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: HTTPServer | None = None
        self._port = 0
        self._closing = False

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on (127.0.0.1)."""
        return self._port

    @property
    def base_url(self) -> str:
        """What python-telegram-bot's ``base_url`` / ``MOVIEBOT_TELEGRAM_API_URL`` must be."""
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def username(self) -> str:
        """The bot's username."""
        return str(self.bot_user["username"])

    def start(self) -> Emulator:
        """Start the server on a free port in a background thread."""
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="bot-api-emulator", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the Bot API emulator did not start")
        return self

    def stop(self) -> None:
        """Stop the server, close every connection and join the thread."""
        if self._loop is None or self._thread is None:
            return
        loop = self._loop
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(15)
        self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._setup())
            ready.set()
            loop.run_forever()
            tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    async def _setup(self) -> None:
        app = Application(
            [
                (r"/bot([^/]*)/([A-Za-z0-9_]+)", _ApiHandler, {"emulator": self}),
                (r"/file/bot([^/]*)/(.+)", _FileHandler, {"emulator": self}),
                (r".*", _NotFoundHandler),
            ],
            log_function=lambda handler: None,
        )
        sockets = bind_sockets(0, "127.0.0.1")
        self._port = sockets[0].getsockname()[1]
        self._server = HTTPServer(app, idle_connection_timeout=120)
        self._server.add_sockets(sockets)

    async def _shutdown(self) -> None:
        self._closing = True
        with self._lock:
            self._wake_polls()
        if self._server is not None:
            self._server.stop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.close_all_connections(), 5)

    # -- users ----------------------------------------------------------------------------------

    def _chat(self, chat_id: int, chat_type: str, title: str | None, user: dict[str, Any]) -> _Chat:
        existing = self._chats.get(chat_id)
        if existing is not None:
            return existing
        if chat_type == "private":
            chat: dict[str, Any] = {
                "id": chat_id,
                "type": "private",
                "first_name": user["first_name"],
            }
            if "username" in user:
                chat["username"] = user["username"]
        else:
            chat = {"id": chat_id, "type": chat_type, "title": title or f"Group {chat_id}"}
        created = _Chat(chat)
        self._chats[chat_id] = created
        return created

    @staticmethod
    def _user(user_id: int) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User{user_id}",
            "username": f"user{user_id}",
            "language_code": "en",
        }

    def _push_update(self, kind: str, payload: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._pending.append({"update_id": update_id, kind: payload})
        self._update_times[update_id] = time.monotonic()
        self._wake_polls()
        return update_id

    def _new_message(self, chat: _Chat, user: dict[str, Any], **content: Any) -> dict[str, Any]:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message = {
            "message_id": message_id,
            "from": user,
            "chat": chat.chat,
            "date": int(time.time()),
            **content,
        }
        chat.messages[message_id] = message
        return message

    def user_sends(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        title: str | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """A user writes ``text`` in a chat; returns the update (``update_id`` and ``message``).

        ``/commands`` (also ``/cmd@botname``) get ``bot_command`` entities as Telegram makes them.
        A private chat's user is the chat itself unless ``user_id`` says otherwise.
        """
        user = self._user(user_id if user_id is not None else abs(chat_id))
        with self._lock:
            chat = self._chat(chat_id, chat_type, title, user)
            content: dict[str, Any] = {"text": text}
            entities = command_entities(text)
            if entities:
                content["entities"] = entities
            if reply_to is not None and reply_to in chat.messages:
                content["reply_to_message"] = chat.messages[reply_to]
            message = self._new_message(chat, user, **content)
            update_id = self._push_update("message", message)
        return {"update_id": update_id, "message": message}

    def user_sends_media(
        self,
        chat_id: int,
        kind: str = "sticker",
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        caption: str | None = None,
    ) -> dict[str, Any]:
        """A user sends a sticker, photo, document, location or contact (no text)."""
        user = self._user(user_id if user_id is not None else abs(chat_id))
        file_ref = {"file_id": f"F{kind}{chat_id}", "file_unique_id": f"U{kind}{chat_id}"}
        bodies: dict[str, Any] = {
            "sticker": {
                **file_ref,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "🎬",
            },
            "photo": [{**file_ref, "width": 90, "height": 90}],
            "document": {**file_ref, "file_name": "x.txt"},
            "location": {"latitude": 48.85, "longitude": 2.35},
            "contact": {"phone_number": "+000", "first_name": "Someone"},
        }
        content: dict[str, Any] = {kind: bodies[kind]}
        if caption is not None:
            content["caption"] = caption
        with self._lock:
            chat = self._chat(chat_id, chat_type, None, user)
            message = self._new_message(chat, user, **content)
            update_id = self._push_update("message", message)
        return {"update_id": update_id, "message": message}

    # -- files: a document sent to the bot (getFile + download), a document it sends --------------

    def user_sends_document(
        self,
        chat_id: int,
        data: bytes,
        file_name: str,
        *,
        mime_type: str | None = "text/csv",
        file_size: int | None = None,
        user_id: int | None = None,
        chat_type: str = "private",
    ) -> dict[str, Any]:
        """A user sends a file; the bot can fetch it with getFile and the file download URL.

        ``file_size`` overrides the size Telegram reports (a huge file without its bytes).
        """
        user = self._user(user_id if user_id is not None else abs(chat_id))
        with self._lock:
            number = next(self._seq)
            file_id = f"BQACAgIAAxkBAAI{number:08d}"
            self._files[file_id] = data
            document: dict[str, Any] = {
                "file_id": file_id,
                "file_unique_id": f"AgAD{number:08d}",
                "file_name": file_name,
                "file_size": len(data) if file_size is None else file_size,
            }
            if mime_type is not None:
                document["mime_type"] = mime_type
            chat = self._chat(chat_id, chat_type, None, user)
            message = self._new_message(chat, user, document=document)
            update_id = self._push_update("message", message)
        return {"update_id": update_id, "message": message}

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes of a file a user or the bot sent."""
        with self._lock:
            return self._files[file_id]

    def m_get_file(self, params: dict[str, Any]) -> Any:
        """getFile: a path to download from; over 20 MB Telegram refuses."""
        file_id = params.get("file_id")
        if not isinstance(file_id, str) or file_id not in self._files:
            raise bad_request("wrong file_id or the file is temporarily unavailable")
        data = self._files[file_id]
        if len(data) > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        self.downloads_offered += 1
        return {
            "file_id": file_id,
            "file_unique_id": f"AgAD{file_id[-8:]}",
            "file_size": len(data),
            "file_path": f"documents/{file_id}",
        }

    def m_send_document(self, params: dict[str, Any]) -> Any:
        """sendDocument (an uploaded file; the caption is checked like a message text)."""
        chat = self._chat_of(params)
        upload = params.get("document")
        if not isinstance(upload, dict) or not isinstance(upload.get("body"), bytes):
            raise bad_request("there is no document in the request")
        body: bytes = upload["body"]
        if not body:
            raise bad_request("file must be non-empty")
        caption, entities = render_text(
            params.get("caption", ""), params.get("parse_mode"), params.get("caption_entities")
        )
        if utf16_len(caption) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        markup = check_reply_markup(params.get("reply_markup"))
        number = next(self._seq)
        file_id = f"BQACAgIAAxkDAAI{number:08d}"
        self._files[file_id] = body
        document = {
            "file_id": file_id,
            "file_unique_id": f"AgAD{number:08d}",
            "file_name": str(upload.get("filename") or "document"),
            "file_size": len(body),
        }
        params["document"] = {"file_name": document["file_name"], "file_size": len(body)}
        content: dict[str, Any] = {"document": document}
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        if markup is not None and "inline_keyboard" in markup:
            content["reply_markup"] = markup
        return self._new_message(chat, self.bot_user, **content)

    def edit_message(self, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        """A user edits one of their messages: an ``edited_message`` update."""
        with self._lock:
            chat = self._chats[chat_id]
            old = chat.messages[message_id]
            if old["from"].get("is_bot"):
                raise ValueError("users cannot edit the bot's messages")
            message = {**old, "text": text, "edit_date": int(time.time())}
            message.pop("entities", None)
            entities = command_entities(text)
            if entities:
                message["entities"] = entities
            chat.messages[message_id] = message
            update_id = self._push_update("edited_message", message)
        return {"update_id": update_id, "edited_message": message}

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        forge: bool = False,
    ) -> dict[str, Any]:
        """A user presses an inline button: a ``callback_query`` update.

        Args:
            chat_id: the chat of the bot's message.
            message_id: the bot's message carrying the keyboard.
            data: the button's callback_data.
            user_id: who presses (default: the private chat's user).
            forge: skip the check that the message currently has a button with this data (a
                modified client sending anything).
        """
        user = self._user(user_id if user_id is not None else abs(chat_id))
        with self._lock:
            message = self._chats[chat_id].messages[message_id]
            if not forge:
                keyboard = message.get("reply_markup", {}).get("inline_keyboard", [])
                present = {b.get("callback_data") for row in keyboard for b in row}
                if data not in present:
                    raise LookupError(f"message {message_id} has no button {data!r}: {present}")
            query_id = str(next(self._callback_ids))
            query = {
                "id": query_id,
                "from": user,
                "message": message,
                "chat_instance": str(chat_id),
                "data": data,
            }
            self._open_queries[query_id] = query
            update_id = self._push_update("callback_query", query)
        return {"update_id": update_id, "callback_query": query}

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """The current version of a message (as edited)."""
        with self._lock:
            return self._chats[chat_id].messages[message_id]

    # -- faults ---------------------------------------------------------------------------------

    def inject_failure(
        self,
        method: str,
        code: int = 500,
        description: str = "Internal Server Error",
        *,
        count: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` with this error (not a rejection)."""
        with self._lock:
            self._injected.append(
                _Injected(
                    method.lower(), ApiError(code, description, retry_after=retry_after), count
                )
            )

    # -- observing the bot ----------------------------------------------------------------------

    def mark(self) -> int:
        """The sequence number of the latest bot call: pass it as ``after=`` to wait for newer."""
        with self._lock:
            return self.calls[-1].seq if self.calls else 0

    def calls_in(
        self, chat_id: int, *, after: int = 0, methods: Iterable[str] | None = None
    ) -> list[BotCall]:
        """The bot's calls in one chat after a mark."""
        wanted = set(methods) if methods is not None else None
        with self._lock:
            return [
                c
                for c in self.calls
                if c.chat_id == chat_id and c.seq > after and (wanted is None or c.method in wanted)
            ]

    async def wait_for(
        self,
        predicate: Callable[[BotCall], bool],
        *,
        after: int = 0,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> BotCall:
        """The first bot call after ``after`` that satisfies ``predicate``.

        Raises:
            TimeoutError: nothing matched within ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[BotCall] = loop.create_future()
        waiter = _Waiter(predicate, after, loop, future)
        with self._lock:
            for call in self.calls[max(after, 0) :]:  # calls[i].seq == i + 1
                if predicate(call):
                    return call
            self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    async def wait_for_reply(
        self,
        chat_id: int,
        *,
        after: int = 0,
        timeout: float = 10.0,  # noqa: ASYNC109
        methods: Iterable[str] = ("sendMessage",),
        reply_to: int | None = None,
    ) -> BotCall:
        """The bot's next message in a chat after a mark (by default a sendMessage).

        With ``reply_to``, only a message quoting that message counts.
        """
        wanted = frozenset(methods)
        return await self.wait_for(
            lambda c: (
                c.chat_id == chat_id
                and c.method in wanted
                and (reply_to is None or c.reply_to == reply_to)
            ),
            after=after,
            timeout=timeout,
        )

    async def ask(
        self,
        chat_id: int,
        text: str,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109
        **kwargs: Any,
    ) -> BotCall:
        """A user sends ``text`` and waits for the bot's reply message."""
        after = self.mark()
        self.user_sends(chat_id, text, **kwargs)
        return await self.wait_for_reply(chat_id, after=after, timeout=timeout)

    async def click(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109
        **kwargs: Any,
    ) -> BotCall:
        """A user presses a button and waits for the bot's ``answerCallbackQuery``."""
        after = self.mark()
        query_id = self.press_button(chat_id, message_id, data, **kwargs)["callback_query"]["id"]
        return await self.wait_for(
            lambda c: (
                c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == query_id
            ),
            after=after,
            timeout=timeout,
        )

    def problems(self) -> list[Rejection]:
        """Rejected requests except benign "message is not modified" edits (tests assert none)."""
        with self._lock:
            return [r for r in self.rejected if not r.benign]

    def unanswered_queries(self) -> list[str]:
        """Callback queries the bot has not answered yet."""
        with self._lock:
            return sorted(self._open_queries)

    def pending_update_ids(self) -> list[int]:
        """Updates not confirmed by the bot yet (delivered or not)."""
        with self._lock:
            return [u["update_id"] for u in self._pending]

    def update_time(self, update_id: int) -> float:
        """When an update was created (``time.monotonic()``)."""
        return self._update_times[update_id]

    async def wait_all_confirmed(self, *, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has confirmed every update so far (its offset passed them)."""
        deadline = time.monotonic() + timeout
        while self.pending_update_ids():
            if time.monotonic() > deadline:
                raise TimeoutError(f"unconfirmed updates: {self.pending_update_ids()}")
            await asyncio.sleep(0.02)

    def commands(self) -> list[dict[str, Any]]:
        """The command menu registered with setMyCommands (default scope, no language)."""
        with self._lock:
            return list(self._commands.get(_scope_key(None, None), []))

    def iter_texts(self) -> Iterator[str]:
        """Every text the bot sent (messages, edits, callback answers)."""
        with self._lock:
            calls = list(self.calls)
        for call in calls:
            if "text" in call.params:
                yield str(call.params["text"])

    # -- the HTTP side (called on the emulator's loop) --------------------------------------------

    def _wake_polls(self) -> None:
        if self._loop is None:
            return
        for future in self._poll_wakers:
            self._loop.call_soon_threadsafe(_set_result, future, None)
        self._poll_wakers.clear()

    def _record(self, method: str, params: dict[str, Any], result: Any) -> None:
        chat_id = params.get("chat_id") if isinstance(params.get("chat_id"), int) else None
        call = BotCall(next(self._seq), method, params, result, chat_id, time.monotonic())
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        for waiter in list(self._waiters):
            if call.seq > waiter.after and waiter.predicate(call):
                self._waiters.remove(waiter)
                with contextlib.suppress(RuntimeError):  # the waiting test's loop is gone
                    waiter.loop.call_soon_threadsafe(_set_result, waiter.future, call)

    def _reject(self, method: str, params: dict[str, Any], error: ApiError) -> None:
        self.rejected.append(
            Rejection(method, params, error.code, error.description, time.monotonic())
        )

    def _take_injected(self, method: str) -> ApiError | None:
        for injected in self._injected:
            if injected.method == method.lower() and injected.remaining > 0:
                injected.remaining -= 1
                return injected.error
        return None

    def handle(self, method: str, params: dict[str, Any]) -> Any:
        """Run one non-polling method; returns the result or raises :class:`ApiError`."""
        name = method.lower()
        handler = _METHODS.get(name)
        if handler is None:
            raise ApiError(404, "Not Found")
        with self._lock:
            injected = self._take_injected(name)
            if injected is not None:
                raise injected
            try:
                result = handler(self, params)
            except ApiError as error:
                self._reject(_CANONICAL[name], params, error)
                raise
            self._record(_CANONICAL[name], params, result)
            return result

    async def get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """getUpdates with real long polling; raises :class:`ApiError` like Telegram."""
        assert self._loop is not None
        timeout = min(max(float(params.get("timeout") or 0), 0.0), 50.0)
        deadline = time.monotonic() + timeout
        me: asyncio.Future[None] = self._loop.create_future()
        with self._lock:
            self.poll_requests += 1
            injected = self._take_injected("getupdates")
            if injected is not None:
                raise injected
            if self._webhook:
                error = ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is "
                    "active; use deleteWebhook to delete the webhook first",
                )
                self._reject("getUpdates", params, error)
                raise error
            if self._active_poll is not None:
                # Telegram ends the older request: only one bot instance may poll.
                _set_result(self._active_poll, None)
            self._active_poll = me
            self._confirm(params)
        try:
            while True:
                with self._lock:
                    if self._active_poll is not me:
                        self.conflicts += 1
                        raise ApiError(
                            409,
                            "Conflict: terminated by other getUpdates request; "
                            "make sure that only one bot instance is running",
                        )
                    batch = self._collect(params)
                    remaining = deadline - time.monotonic()
                    if batch or remaining <= 0 or self._closing:
                        self.polls.append(
                            PollRecord(
                                self._offset(params),
                                tuple(u["update_id"] for u in batch),
                                time.monotonic(),
                            )
                        )
                        for update in batch:
                            uid = update["update_id"]
                            self.delivery_counts[uid] = self.delivery_counts.get(uid, 0) + 1
                        return batch
                    waker: asyncio.Future[None] = self._loop.create_future()
                    self._poll_wakers.append(waker)
                await asyncio.wait(
                    [waker, me], timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            with self._lock:
                if self._active_poll is me:
                    self._active_poll = None

    @staticmethod
    def _offset(params: dict[str, Any]) -> int | None:
        offset = params.get("offset")
        return int(offset) if offset is not None else None

    def _confirm(self, params: dict[str, Any]) -> None:
        offset = self._offset(params) or 0
        if "allowed_updates" in params and isinstance(params["allowed_updates"], list):
            wanted = frozenset(params["allowed_updates"])
            self._allowed = wanted or DEFAULT_UPDATE_TYPES
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
            self._confirmed_below = max(self._confirmed_below, offset)
        elif offset < 0:
            self._pending = self._pending[offset:]
        # Updates of types the bot did not ask for are dropped, as Telegram does.
        self._pending = [u for u in self._pending if _update_type(u) in self._allowed]

    def _collect(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        limit = int(params.get("limit") or 100)
        limit = min(max(limit, 1), 100)
        self._pending = [u for u in self._pending if _update_type(u) in self._allowed]
        return list(self._pending[:limit])

    # -- methods --------------------------------------------------------------------------------

    def _chat_of(self, params: dict[str, Any]) -> _Chat:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _bot_message(self, params: dict[str, Any]) -> tuple[_Chat, dict[str, Any]]:
        if "inline_message_id" in params:
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._chat_of(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int) or message_id not in chat.messages:
            raise bad_request("message to edit not found")
        message = chat.messages[message_id]
        if not message["from"].get("is_bot"):
            raise bad_request("message can't be edited")
        return chat, message

    def m_get_me(self, params: dict[str, Any]) -> Any:
        """getMe."""
        return self.bot_user

    def m_send_message(self, params: dict[str, Any]) -> Any:
        """sendMessage."""
        chat = self._chat_of(params)
        text, entities = render_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = check_reply_markup(params.get("reply_markup"))
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        reply_to = params.get("reply_to_message_id")
        allow_without = bool(params.get("allow_sending_without_reply"))
        if isinstance(params.get("reply_parameters"), dict):
            reply_to = params["reply_parameters"].get("message_id")
            allow_without = bool(params["reply_parameters"].get("allow_sending_without_reply"))
        if reply_to is not None:
            if reply_to in chat.messages:
                content["reply_to_message"] = chat.messages[reply_to]
            elif not allow_without:
                raise bad_request("message to be replied not found")
        if markup is not None and "inline_keyboard" in markup:
            content["reply_markup"] = markup
        return self._new_message(chat, self.bot_user, **content)

    def m_edit_message_text(self, params: dict[str, Any]) -> Any:
        """editMessageText."""
        chat, message = self._bot_message(params)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        text, entities = render_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = check_reply_markup(params.get("reply_markup"))
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        new = {k: v for k, v in message.items() if k not in ("entities", "reply_markup")}
        new.update(text=text, edit_date=int(time.time()))
        if entities:
            new["entities"] = entities
        if markup is not None:
            new["reply_markup"] = markup
        self._check_modified(message, new)
        chat.messages[message["message_id"]] = new
        return new

    def m_edit_message_reply_markup(self, params: dict[str, Any]) -> Any:
        """editMessageReplyMarkup."""
        chat, message = self._bot_message(params)
        markup = check_reply_markup(params.get("reply_markup"))
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        new = {k: v for k, v in message.items() if k != "reply_markup"}
        new["edit_date"] = int(time.time())
        if markup is not None and markup["inline_keyboard"]:
            new["reply_markup"] = markup
        self._check_modified(message, new)
        chat.messages[message["message_id"]] = new
        return new

    @staticmethod
    def _check_modified(old: dict[str, Any], new: dict[str, Any]) -> None:
        def visible(message: dict[str, Any]) -> tuple[Any, ...]:
            markup = message.get("reply_markup") or {}
            return (
                message.get("text"),
                message.get("entities") or [],
                markup.get("inline_keyboard") or [],
            )

        if visible(old) == visible(new):
            raise bad_request(
                "message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup "
                "of the message"
            )

    def m_delete_message(self, params: dict[str, Any]) -> Any:
        """deleteMessage."""
        chat = self._chat_of(params)
        if chat.messages.pop(params.get("message_id"), None) is None:  # type: ignore[arg-type]
            raise bad_request("message to delete not found")
        return True

    def m_answer_callback_query(self, params: dict[str, Any]) -> Any:
        """answerCallbackQuery."""
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_queries:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.get("text")
        if text is not None and (not isinstance(text, str) or len(text) > MAX_CALLBACK_ANSWER):
            raise bad_request("MESSAGE_TOO_LONG")
        if "url" in params and not _valid_url(params["url"]):
            raise bad_request("URL_INVALID")
        del self._open_queries[query_id]
        self._answered_queries.add(query_id)
        return True

    def m_set_my_commands(self, params: dict[str, Any]) -> Any:
        """setMyCommands."""
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND_NAME.match(
                str(command.get("command", ""))
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[_scope_key(params.get("scope"), params.get("language_code"))] = commands
        return True

    def m_get_my_commands(self, params: dict[str, Any]) -> Any:
        """getMyCommands."""
        return self._commands.get(_scope_key(params.get("scope"), params.get("language_code")), [])

    def m_delete_my_commands(self, params: dict[str, Any]) -> Any:
        """deleteMyCommands."""
        self._commands.pop(_scope_key(params.get("scope"), params.get("language_code")), None)
        return True

    def m_delete_webhook(self, params: dict[str, Any]) -> Any:
        """deleteWebhook (drop_pending_updates drops what is queued, as Telegram does)."""
        self._webhook = ""
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    def m_set_webhook(self, params: dict[str, Any]) -> Any:
        """setWebhook (stored only: the emulator never calls out)."""
        url = params.get("url", "")
        if url and not str(url).startswith("https://"):
            raise bad_request("bad webhook: HTTPS url must be provided for webhook")
        self._webhook = str(url)
        return True

    def m_get_webhook_info(self, params: dict[str, Any]) -> Any:
        """getWebhookInfo."""
        return {
            "url": self._webhook,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    def m_send_chat_action(self, params: dict[str, Any]) -> Any:
        """sendChatAction."""
        self._chat_of(params)
        return True

    def m_harmless(self, params: dict[str, Any]) -> Any:
        """logOut, close, setMyDescription and friends: accepted, nothing to do."""
        return True


def _scope_key(scope: Any, language: Any) -> str:
    scope = scope if isinstance(scope, dict) else {"type": "default"}
    return json.dumps([scope, language or ""], sort_keys=True)


def _update_type(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def command_entities(text: str) -> list[dict[str, Any]]:
    """The ``bot_command`` entities Telegram attaches to a message text (UTF-16 offsets)."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: m.start()]),
            "length": utf16_len(m.group(0)),
        }
        for m in _COMMAND_RE.finditer(text)
    ]


_METHOD_TABLE: dict[str, Callable[[Emulator, dict[str, Any]], Any]] = {
    "getMe": Emulator.m_get_me,
    "sendMessage": Emulator.m_send_message,
    "editMessageText": Emulator.m_edit_message_text,
    "editMessageReplyMarkup": Emulator.m_edit_message_reply_markup,
    "deleteMessage": Emulator.m_delete_message,
    "answerCallbackQuery": Emulator.m_answer_callback_query,
    "setMyCommands": Emulator.m_set_my_commands,
    "getMyCommands": Emulator.m_get_my_commands,
    "deleteMyCommands": Emulator.m_delete_my_commands,
    "deleteWebhook": Emulator.m_delete_webhook,
    "setWebhook": Emulator.m_set_webhook,
    "getWebhookInfo": Emulator.m_get_webhook_info,
    "sendChatAction": Emulator.m_send_chat_action,
    "logOut": Emulator.m_harmless,
    "close": Emulator.m_harmless,
    "setMyDescription": Emulator.m_harmless,
    "setMyShortDescription": Emulator.m_harmless,
    "setChatMenuButton": Emulator.m_harmless,
}
_METHODS = {name.lower(): fn for name, fn in _METHOD_TABLE.items()}
_CANONICAL = {name.lower(): name for name in _METHOD_TABLE}


def _coerce(name: str, value: Any) -> Any:
    """Turn a form value (always a string) into the type the parameter has in JSON."""
    if not isinstance(value, str):
        return value
    try:
        if name == "chat_id":
            return int(value) if re.fullmatch(r"-?\d+", value) else value
        if name in _INT_PARAMS:
            return int(value)
        if name in _FLOAT_PARAMS:
            return float(value)
        if name in _BOOL_PARAMS:
            return value.lower() in ("true", "1")
        if name in _JSON_PARAMS:
            return json.loads(value)
    except ValueError:
        raise bad_request(
            f"can't parse {name} JSON object" if name in _JSON_PARAMS else f"wrong parameter {name}"
        ) from None
    return value


class _NotFoundHandler(RequestHandler):
    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"ok": False, "error_code": 404, "description": "Not Found"}))


class _ApiHandler(RequestHandler):
    """``/bot<token>/<method>`` for GET and POST."""

    def initialize(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def get(self, token: str, method: str) -> None:
        await self._serve(token, method)

    async def post(self, token: str, method: str) -> None:
        await self._serve(token, method)

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            k: v[-1].decode("utf-8") for k, v in self.request.query_arguments.items()
        }
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            try:
                body = json.loads(self.request.body or b"{}")
            except ValueError:
                raise bad_request("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise bad_request("JSON request body must be an object")
            params.update(body)
        else:
            for key, values in self.request.body_arguments.items():
                params[key] = values[-1].decode("utf-8")
            for key, files in self.request.files.items():  # multipart uploads (sendDocument)
                params[key] = {"filename": files[-1].filename, "body": files[-1].body}
        return {key: _coerce(key, value) for key, value in params.items()}

    async def _serve(self, token: str, method: str) -> None:
        emulator = self.emulator
        try:
            if token != emulator.token:
                emulator.unauthorized += 1
                raise ApiError(401, "Unauthorized")
            try:
                params = self._params()
            except (UnicodeDecodeError, ApiError) as exc:
                error = exc if isinstance(exc, ApiError) else bad_request("invalid UTF-8")
                emulator.rejected.append(
                    Rejection(method, {}, error.code, error.description, time.monotonic())
                )
                raise error from None
            if method.lower() == "getupdates":
                result = await emulator.get_updates(params)
            else:
                result = emulator.handle(method, params)
            body: dict[str, Any] = {"ok": True, "result": result}
            self.set_status(200)
        except ApiError as error:
            body = error.payload()
            self.set_status(
                error.code if error.code in _HTTP_REASONS else 400,
                reason=_HTTP_REASONS.get(error.code),
            )
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, ensure_ascii=False))


_HTTP_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
"""Telegram's limit for a file a bot downloads (getFile)."""
MAX_CAPTION = 1024
"""Telegram's limit for a caption."""

_FILE_METHODS: dict[str, Callable[[Emulator, dict[str, Any]], Any]] = {
    "getFile": Emulator.m_get_file,
    "sendDocument": Emulator.m_send_document,
}
_METHODS.update({name.lower(): fn for name, fn in _FILE_METHODS.items()})
_CANONICAL.update({name.lower(): name for name in _FILE_METHODS})


class _FileHandler(RequestHandler):
    """``/file/bot<token>/<file_path>``: the download of a file getFile pointed to."""

    def initialize(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def get(self, token: str, path: str) -> None:
        emulator = self.emulator
        prefix = "documents/"
        with emulator._lock:
            data = emulator._files.get(path[len(prefix) :]) if path.startswith(prefix) else None
        if token != emulator.token:
            self.set_status(401)
            self.finish(b"Unauthorized")
            return
        if data is None:
            self.set_status(404)
            self.finish(b"Not Found")
            return
        self.set_header("Content-Type", "application/octet-stream")
        self.finish(data)


def fake_token(bot_id: int = 123456) -> str:
    """A token of the right shape that no Telegram bot has (built at run time, never a literal)."""
    return f"{bot_id:d}:" + "A" * 35


# ---------------------------------------------------------------------------------------------
# Webhook delivery (Telegram's side of setWebhook)
# ---------------------------------------------------------------------------------------------

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of an update to the bot: the HTTP status (0: no answer, connection failed)."""

    update_id: int
    target: str
    status: int
    at: float


class WebhookDelivery:
    """Delivers the emulator's updates to the bot's webhook the way Telegram does.

    Once the bot has called ``setWebhook`` (an HTTPS URL, as Telegram requires), each pending
    update is POSTed as JSON with the ``X-Telegram-Bot-Api-Secret-Token`` header given to
    ``setWebhook``. A 2xx answer acknowledges the update (it leaves the queue for good); any
    other status, a refused connection or no answer within ``timeout`` leaves it queued and it is
    delivered again after ``retry_delay``. The public URL is not resolved: ``targets`` are the
    local ``http://127.0.0.1:PORT/path`` addresses it stands for (a TLS proxy's job in
    production); with several targets the updates are spread round-robin, and a failed delivery
    goes to the next target, like a load balancer in front of replicas. Updates of one chat are
    delivered one at a time, in order; different chats concurrently, up to ``max_connections``.
    """

    def __init__(
        self,
        emulator: Emulator,
        targets: list[str],
        *,
        max_connections: int = 40,
        retry_delay: float = 0.2,
        timeout: float = 60.0,
    ) -> None:
        if not targets:
            raise ValueError("at least one target")
        self.emulator = emulator
        self.targets = list(targets)
        self.max_connections = max_connections
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.attempts: list[WebhookAttempt] = []
        self.acknowledged: dict[int, float] = {}
        """Update id → when the bot answered it 2xx (Telegram will never send it again)."""
        self._in_flight: set[int] = set()
        self._retry_at: dict[int, float] = {}
        self._next_target = itertools.count()
        self._task: Any = None  # a concurrent.futures.Future of the delivery loop
        self._scanned = 0  # emulator calls already searched for setWebhook
        self._hook: dict[str, Any] | None = None
        self._stopping = False

    def start(self) -> WebhookDelivery:
        """Start delivering (on the emulator's thread)."""
        loop = self.emulator._loop
        if loop is None:
            raise RuntimeError("start the emulator first")
        self._task = asyncio.run_coroutine_threadsafe(self._run(), loop)
        return self

    def stop(self) -> None:
        """Stop delivering (updates still queued stay queued)."""
        self._stopping = True
        loop = self.emulator._loop
        if loop is not None:
            loop.call_soon_threadsafe(lambda: None)
        if self._task is not None:
            with contextlib.suppress(Exception):
                self._task.result(10)
        self._task = None

    def __enter__(self) -> WebhookDelivery:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def webhook(self) -> dict[str, Any] | None:
        """The parameters of the bot's latest setWebhook, None without a webhook."""
        emu = self.emulator
        with emu._lock:
            for call in emu.calls[self._scanned :]:  # only the calls since the last look
                if call.method == "setWebhook":
                    self._hook = dict(call.params)
            self._scanned = len(emu.calls)
            return dict(self._hook) if emu._webhook and self._hook is not None else None

    def statuses(self, update_id: int) -> list[int]:
        """Every status the bot answered a delivery of this update with."""
        return [a.status for a in self.attempts if a.update_id == update_id]

    async def _run(self) -> None:
        # tornado's client: a fifth of httpx's CPU per request, which matters when the benchmark
        # and the bot share two cores.
        from tornado.httpclient import AsyncHTTPClient

        emu = self.emulator
        client = AsyncHTTPClient(force_instance=True, max_clients=self.max_connections)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not (self._stopping or emu._closing):
                hook = self.webhook()
                waker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                with emu._lock:
                    if hook is not None:
                        for update in self._ready(hook):
                            task = asyncio.create_task(self._post(client, update, hook))
                            tasks.add(task)
                            task.add_done_callback(tasks.discard)
                    emu._poll_wakers.append(waker)
                await asyncio.wait([waker], timeout=0.05)
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            client.close()

    def _ready(self, hook: dict[str, Any]) -> list[dict[str, Any]]:
        """Updates to send now (called under the emulator's lock).

        Only the oldest unacknowledged update of each chat may be in flight: a later one waits
        until it is acknowledged (so a redelivery never overtakes the chat's next command).
        """
        emu = self.emulator
        allowed = hook.get("allowed_updates")
        if isinstance(allowed, list) and allowed:
            # Telegram drops the types the bot did not ask for.
            emu._pending = [u for u in emu._pending if _update_type(u) in allowed]
        now = time.monotonic()
        chats: set[Any] = set()
        ready = []
        for update in emu._pending:
            uid, chat = update["update_id"], _update_chat(update)
            if chat in chats:
                continue
            chats.add(chat)
            if uid in self._in_flight or self._retry_at.get(uid, 0.0) > now:
                continue
            if len(self._in_flight) >= self.max_connections:
                break
            self._in_flight.add(uid)
            ready.append(update)
        return ready

    async def _post(self, client: Any, update: dict[str, Any], hook: dict[str, Any]) -> None:
        from tornado.httpclient import HTTPRequest

        emu = self.emulator
        uid = update["update_id"]
        target = self.targets[next(self._next_target) % len(self.targets)]
        headers = {"Content-Type": "application/json"}
        if hook.get("secret_token"):
            headers[SECRET_HEADER] = str(hook["secret_token"])
        request = HTTPRequest(
            target,
            method="POST",
            body=json.dumps(update),
            headers=headers,
            request_timeout=self.timeout,
        )
        try:
            response = await client.fetch(request, raise_error=False)
            status = response.code if response.code < 599 else 0  # 599: no answer
        except Exception:  # refused, reset: no answer
            status = 0
        with emu._lock:
            self.attempts.append(WebhookAttempt(uid, target, status, time.monotonic()))
            emu.delivery_counts[uid] = emu.delivery_counts.get(uid, 0) + 1
            self._in_flight.discard(uid)
            if 200 <= status < 300:
                self.acknowledged[uid] = time.monotonic()
                emu._pending = [u for u in emu._pending if u["update_id"] != uid]
                self._retry_at.pop(uid, None)
            else:
                self._retry_at[uid] = time.monotonic() + self.retry_delay
            emu._wake_polls()


def _update_chat(update: dict[str, Any]) -> Any:
    """The chat an update belongs to (its update id when it has none)."""
    body = update.get(_update_type(update))
    if isinstance(body, dict):
        message = body.get("message") if "data" in body else body
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            return message["chat"]["id"]
    return ("update", update["update_id"])
