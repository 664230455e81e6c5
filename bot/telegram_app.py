"""python-telegram-bot 22: the Application, its handlers, and a polling loop that loses nothing.

Handlers only translate: they read the update, call :class:`bot.service.MovieBot`, and render its
:class:`~bot.service.Reply` objects as HTML messages with inline keyboards. What to say lives in
the service and in :mod:`bot.texts`.

Polling (see docs/bot.md, "Polling offset"): PTB's own ``Updater`` confirms a fetched batch on its
next ``getUpdates`` call, before the batch has been processed, so a killed process loses the
updates it had fetched. :class:`Poller` confirms a batch (passes ``offset = last + 1``) only after
every update in it was processed; after a kill the unconfirmed batch is delivered again and the
store ignores changes already applied for an ``update_id``: at-least-once delivery plus idempotent
writes give an exactly-once effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import warnings
from collections.abc import Callable, Coroutine, Sequence
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import MessageEntityType, ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot import texts
from bot.ratelimit import RetryingRateLimiter
from bot.service import MovieBot, Reply, Rows, Upload, menu

logger = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "callback_query")
"""What the bot asks Telegram for: edited messages, channel posts, inline queries etc. are not
delivered (an edited command is not run again: re-running /reset or /like on an edit surprises)."""

Context = ContextTypes.DEFAULT_TYPE
TelegramApp = Application[Any, Any, Any, Any, Any, Any]


# ---------------------------------------------------------------------------------------------
# Rendering


class Keyboard(InlineKeyboardMarkup):
    """An inline keyboard serialised straight from a reply's rows.

    PTB builds a frozen object per button and turns markup into JSON with the generic
    ``TelegramObject.to_dict`` (introspection of every button); for the 20 buttons of /recommend
    that cost more than the model's fold-in. This writes the same JSON straight from the rows;
    the bot never reads its own keyboards back, so ``inline_keyboard`` stays empty.
    """

    __slots__ = ("_json",)

    def __init__(self, rows: Rows) -> None:
        # Set before PTB freezes the object (protected attributes may be set at any time anyway).
        self._json: dict[str, Any] = {
            "inline_keyboard": [
                [
                    {"text": b.label, "url": b.url}
                    if b.url is not None
                    else {"text": b.label, "callback_data": b.data}
                    for b in row
                ]
                for row in rows
            ]
        }
        super().__init__([])

    def to_dict(self, recursive: bool = True) -> dict[str, Any]:
        """The Bot API JSON of this keyboard."""
        return self._json


def keyboard(rows: Rows) -> InlineKeyboardMarkup | None:
    """The inline keyboard for a reply's button rows (None without buttons)."""
    return Keyboard(rows) if rows else None


def command_of(message: Message) -> tuple[str, str | None, str] | None:
    """``(command, addressed_to, argument)`` of a message starting with a command entity."""
    text = message.text or ""
    entity = next(iter(message.entities), None)
    if entity is None or entity.type != MessageEntityType.BOT_COMMAND or entity.offset != 0:
        return None
    head = text[1 : entity.length]
    name, _, target = head.partition("@")
    return name, target or None, text[entity.length :].strip()


class Handlers:
    """The Telegram handlers; each translates an update to a :class:`MovieBot` call and back."""

    def __init__(self, moviebot: MovieBot) -> None:
        self.moviebot = moviebot
        self._answered: dict[int, None] = {}
        """Updates whose user already got a message, an edit or a toast with text (insertion
        order, bounded): :meth:`on_error` apologises only for an update not in here."""

    async def on_command(self, update: Update, context: Context) -> None:
        """A command of this bot (``/like toy story``, ``/like@ThisBot toy story``)."""
        message = update.message
        parsed = command_of(message) if message else None
        if message is None or parsed is None:
            return
        name, _, arg = parsed
        replies = await self.moviebot.command(
            message.chat_id, name, arg, update_id=update.update_id
        )
        await self._send(context, message.chat_id, replies, message, update=update)

    async def on_unknown_command(self, update: Update, context: Context) -> None:
        """A command this bot does not have: answered in private or when addressed to us."""
        message = update.message
        parsed = command_of(message) if message else None
        if message is None or parsed is None:
            return
        name, target, _ = parsed
        ours = target is not None and target.lower() == (context.bot.username or "").lower()
        if target is not None and not ours:
            return  # /like@OtherBot: meant for another bot (in a group or a private chat)
        if message.chat.type != "private" and not ours:
            return  # a bare unknown command in a group may be another bot's
        replies = await self.moviebot.command(
            message.chat_id, name[:64], "", update_id=update.update_id
        )
        await self._send(context, message.chat_id, replies, message, update=update)

    async def on_text(self, update: Update, context: Context) -> None:
        """A plain message in a private chat: offer to like the movie it names."""
        message = update.message
        if message is None or message.text is None:
            return
        replies = await self.moviebot.text(
            message.chat_id, message.text, update_id=update.update_id
        )
        await self._send(context, message.chat_id, replies, message, update=update)

    async def on_other(self, update: Update, context: Context) -> None:
        """A sticker, photo, voice… in a private chat: say that only text is understood."""
        message = update.message
        if message is None:
            return
        replies = await self.moviebot.unsupported(message.chat_id)
        await self._send(context, message.chat_id, replies, message, update=update)

    async def on_document(self, update: Update, context: Context) -> None:
        """A document in a private chat: a Letterboxd or IMDb export to import.

        The service checks the size and type Telegram reports before anything is downloaded.
        """
        message = update.message
        if message is None or message.document is None:
            return
        document = message.document

        async def download() -> bytes:
            file = await document.get_file()
            return bytes(await file.download_as_bytearray())

        upload = Upload(document.file_name or "", document.file_size, document.mime_type, download)
        replies = await self.moviebot.document(message.chat_id, upload, update_id=update.update_id)
        await self._send(context, message.chat_id, replies, message, update=update)

    async def on_button(self, update: Update, context: Context) -> None:
        """A pressed inline button (any data: the service validates it strictly)."""
        query = update.callback_query
        if query is None:
            return
        chat = query.message.chat if query.message is not None else None
        if chat is None or query.data is None:
            await query.answer(texts.notice_expired())
            return
        answer = await self.moviebot.button(chat.id, query.data, update_id=update.update_id)
        # The change is committed: a failed toast ("query is too old" after a restart or a 429
        # pause) must not keep the reply from the user.
        try:
            await query.answer(answer.notice)
        except Forbidden:
            raise
        except TelegramError as exc:
            logger.info("Could not answer a button press of update %s: %s", update.update_id, exc)
        else:
            if answer.notice:
                self._delivered(update)
        pressed = query.message if isinstance(query.message, Message) else None
        await self._send(context, chat.id, answer.replies, pressed, query, update)

    async def on_error(self, update: object, context: Context) -> None:
        """Log the error (never the token), then apologise without details.

        The apology goes only to a user who got no answer to this update at all: after a
        delivered reply (a committed change already confirmed) it would contradict it.
        """
        update_id = update.update_id if isinstance(update, Update) else None
        if isinstance(context.error, Forbidden):  # blocked by the user, removed from the group
            logger.info("Cannot answer update %s: %s", update_id, context.error)
            return
        logger.error("Error while handling update %s", update_id, exc_info=context.error)
        if not isinstance(update, Update):
            return
        if update.update_id in self._answered:
            del self._answered[update.update_id]
            return  # the user already got an answer: an apology would contradict it
        with contextlib.suppress(Exception):
            if update.callback_query is not None:
                await update.callback_query.answer()
        if update.effective_chat is not None:
            with contextlib.suppress(Exception):
                await context.bot.send_message(update.effective_chat.id, texts.something_wrong())

    async def _send(
        self,
        context: Context,
        chat_id: int,
        replies: Sequence[Reply],
        message: Message | None,
        query: CallbackQuery | None = None,
        update: Update | None = None,
    ) -> None:
        """Send (or, for ``edit`` replies to a button, edit) each reply.

        Replies to a message go to its chat and forum topic, quoting it in groups (so a group
        sees who asked); replies to a button go below the pressed message without quoting.
        """
        for reply in replies:
            markup = keyboard(reply.buttons)
            if reply.document is not None:
                await context.bot.send_document(
                    chat_id,
                    reply.document.data,
                    filename=reply.document.name,
                    caption=reply.text,
                    reply_markup=markup,
                    message_thread_id=(
                        message.message_thread_id
                        if message is not None and message.is_topic_message
                        else None
                    ),
                )
            elif reply.edit and query is not None and await self._edit(query, reply.text, markup):
                pass
            elif message is not None:
                await message.reply_text(
                    reply.text, reply_markup=markup, do_quote=False if query is not None else None
                )
            else:
                await context.bot.send_message(chat_id, reply.text, reply_markup=markup)
            if update is not None:
                self._delivered(update)

    def _delivered(self, update: Update) -> None:
        """Note that the user of ``update`` got an answer (the last 1024 updates are kept)."""
        self._answered[update.update_id] = None
        if len(self._answered) > 1024:
            del self._answered[next(iter(self._answered))]

    @staticmethod
    async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> bool:
        """Replace the pressed message; False if it cannot be edited (then a new one is sent)."""
        if query.message is None or not isinstance(query.message, Message):
            return False
        try:
            await query.edit_message_text(text, reply_markup=markup)
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return True
            logger.info("Could not edit a message (%s); sending a new one", exc)
            return False
        return True


# ---------------------------------------------------------------------------------------------
# The Application


def file_url(base_url: str) -> str:
    """Where the files of a Bot API server are downloaded from (``…/bot`` → ``…/file/bot``).

    A document sent to the bot (an export to import) is fetched there; a local server or the
    end-to-end emulator serves its files the way Telegram does.
    """
    root, slash, last = base_url.rstrip("/").rpartition("/")
    if slash and last == "bot":
        return f"{root}/file/bot"
    return "https://api.telegram.org/file/bot"


def build_application(
    moviebot: MovieBot,
    *,
    token: str,
    base_url: str = "https://api.telegram.org/bot",
    polling: bool = True,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    overall_max_rate: float = 30.0,
    group_max_rate: float = 20.0,
    network_retries: int = 3,
    retry_backoff: float = 0.5,
) -> TelegramApp:
    """Build the Application: HTML replies, inline keyboards, rate limits, retries, handlers.

    With ``polling`` the Application has no PTB ``Updater`` (run it with :class:`Poller`);
    without it keeps one for ``run_webhook``. ``request`` replaces the HTTP layer (tests).
    """
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        Application.builder()
        .token(token)
        .base_url(base_url)
        .base_file_url(file_url(base_url))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                allow_sending_without_reply=True,
            )
        )
        .rate_limiter(
            RetryingRateLimiter(
                overall_max_rate=overall_max_rate,
                group_max_rate=group_max_rate,
                network_retries=network_retries,
                backoff=retry_backoff,
            )
        )
        .concurrent_updates(True)
        .post_init(register_commands)
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(get_updates_request or request)
    else:
        builder = builder.connection_pool_size(64).pool_timeout(10.0)
    if polling:
        builder = builder.updater(None)
    app = builder.build()
    add_handlers(app, Handlers(moviebot))
    return app


def add_handlers(app: TelegramApp, handlers: Handlers) -> None:
    """Register every handler; messages are new messages only (edits are not handled)."""
    new_message = filters.UpdateType.MESSAGE
    # One handler for every /name and /name@ThisBot (one check per update, not one per name)
    names = handlers.moviebot.command_names
    app.add_handler(CommandHandler(names, handlers.on_command, filters=new_message))
    app.add_handler(MessageHandler(new_message & filters.COMMAND, handlers.on_unknown_command))
    app.add_handler(
        MessageHandler(new_message & filters.ChatType.PRIVATE & filters.TEXT, handlers.on_text)
    )
    app.add_handler(
        MessageHandler(
            new_message & filters.ChatType.PRIVATE & filters.Document.ALL, handlers.on_document
        )
    )
    app.add_handler(MessageHandler(new_message & filters.ChatType.PRIVATE, handlers.on_other))
    app.add_handler(CallbackQueryHandler(handlers.on_button))  # the service validates the data
    app.add_error_handler(handlers.on_error)


async def register_commands(app: TelegramApp) -> None:
    """``post_init``: the command menu shown by Telegram clients (cosmetic: failures are logged)."""
    try:
        await app.bot.set_my_commands([BotCommand(name, desc) for name, desc in menu()])
    except TelegramError as exc:
        logger.warning("Could not register the command menu (%s: %s)", type(exc).__name__, exc)


# ---------------------------------------------------------------------------------------------
# Polling that confirms a batch only after it was processed


class PollingConflict(RuntimeError):
    """Telegram refuses this process's getUpdates: another poller or a webhook has the token."""


class DeliveryHalted(RuntimeError):
    """Updates can no longer be acknowledged: their changes could not be kept.

    The message says why and what to do; Telegram delivers the updates again to the restarted bot.
    """


Halt = Callable[[], str | None]
"""Says why updates must no longer be acknowledged (None: they may)."""


class Poller:
    """Long polling with the offset advanced only after a whole batch was processed.

    Updates of one chat are processed in order, different chats concurrently (the service also
    serialises each chat with a lock, which is what keeps webhook mode in order).
    """

    def __init__(
        self,
        app: TelegramApp,
        *,
        timeout: int = 10,
        limit: int = 100,
        max_backoff: float = 30.0,
        halt: Halt | None = None,
    ) -> None:
        self.app = app
        self.halt = halt
        """Checked after each batch: a reason stops the poller without confirming the batch."""
        self.timeout = timeout
        self.limit = limit
        self.max_backoff = max_backoff
        self.offset: int | None = None
        self._stop = asyncio.Event()
        self.settle = 2.0 * timeout + 5.0
        """Seconds after start during which a 409 Conflict means: this process is the second."""
        self.max_conflicts = 3
        """Conflicts in a row after which an established poller stops as well."""
        self._conflicts = 0
        self._started = 0.0

    def stop(self) -> None:
        """Finish the batch being processed, confirm it, and return from :meth:`run`."""
        self._stop.set()

    async def initialize(self) -> bool:
        """Initialise the Application (``getMe``), retrying while Telegram cannot be reached.

        Returns False when stopped before it succeeded; raises InvalidToken.
        """
        failures = 0
        while not self._stop.is_set():
            try:
                await self.app.initialize()
            except InvalidToken:
                raise
            except TelegramError as exc:
                failures += 1
                delay = self._backoff(failures)
                logger.warning(
                    "Cannot reach Telegram (%s: %s); retrying in %.1fs",
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await self._sleep(delay)
            else:
                return True
        return False

    def _backoff(self, failures: int) -> float:
        return float(min(self.max_backoff, 0.5 * 2 ** min(failures - 1, 8)))

    async def run(self) -> None:
        """Poll until :meth:`stop`.

        Raises:
            InvalidToken: the token is refused.
            PollingConflict: another process polls with this token (see :meth:`_conflict`).
            DeliveryHalted: ``halt`` gave a reason after a batch (which stays unconfirmed).
        """
        await self.app.bot.delete_webhook(drop_pending_updates=False)
        self._started = asyncio.get_running_loop().time()
        failures = 0
        while not self._stop.is_set():
            try:
                updates = await self._fetch()
            except (InvalidToken, asyncio.CancelledError):
                raise
            except Conflict as exc:
                self._conflict(exc)
                failures += 1
                await self._sleep(0.1)  # take the poll back at once: the newcomer stops
                continue
            except RetryAfter as exc:
                await self._sleep(retry_after_seconds(exc))
                continue
            except Exception as exc:  # network trouble, 5xx, a Conflict, an unparsable answer
                failures += 1
                delay = self._backoff(failures)
                logger.warning(
                    "getUpdates failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay
                )
                await self._sleep(delay)
                continue
            failures = 0
            self._conflicts = 0
            if updates:
                await self.process_batch(updates)
                reason = self.halt() if self.halt is not None else None
                if reason is not None:  # the batch stays unconfirmed: delivered again
                    raise DeliveryHalted(reason)
                self.offset = updates[-1].update_id + 1
        await self._confirm()

    def _conflict(self, exc: Conflict) -> None:
        """Telegram answered 409: a webhook is set, or another process polls with this token.

        Telegram ends the older of two concurrent getUpdates with 409, so the process that was
        polling first sees the first conflict. A poller younger than :attr:`settle` seconds is
        the newcomer and stops at its first conflict; an older one takes the poll back at once
        (which ends the newcomer's request) and stops only after :attr:`max_conflicts`
        conflicts in a row — two long-running pollers never share a token for long. The
        stopping poller does not confirm its last batch: that would end the other's poll.
        """
        self._conflicts += 1
        age = asyncio.get_running_loop().time() - self._started
        text = str(exc)
        if "webhook" in text.lower():
            raise PollingConflict(
                "Telegram has a webhook set for this bot token (another process runs in webhook "
                "mode?): stopping this polling process. Run one mode per token."
            ) from exc
        if age < self.settle or self._conflicts >= self.max_conflicts:
            raise PollingConflict(
                "Another process is polling Telegram with this bot token (409 Conflict: "
                f"{text}); stopping this one. Run a single polling process per token, or "
                "webhook mode for several replicas."
            ) from exc
        logger.warning("getUpdates: %s; another process polls with this token", text)

    async def _fetch(self) -> tuple[Update, ...]:
        """One getUpdates, abandoned (nothing fetched is lost: it is unconfirmed) on stop."""
        fetch = asyncio.ensure_future(
            self.app.bot.get_updates(
                offset=self.offset,
                timeout=self.timeout,
                limit=self.limit,
                allowed_updates=list(ALLOWED_UPDATES),
            )
        )
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetch
            return ()
        return tuple(sorted(fetch.result(), key=lambda u: u.update_id))

    async def process_batch(self, updates: Sequence[Update]) -> None:
        """Process a batch: each chat's updates in order, chats concurrently."""
        by_chat: dict[int | None, list[Update]] = {}
        for update in updates:
            chat = update.effective_chat
            by_chat.setdefault(chat.id if chat else None, []).append(update)
        lanes = [
            self._lane(u)
            for key, group in by_chat.items()
            for u in ([group] if key is not None else [[x] for x in group])
        ]
        results = await asyncio.gather(*lanes, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                logger.error("Update processing failed", exc_info=result)

    async def _lane(self, updates: list[Update]) -> None:
        for update in updates:
            await self.app.process_update(update)

    async def _confirm(self) -> None:
        """Tell Telegram the last processed batch is done (so a clean restart repeats nothing)."""
        if self.offset is None:
            return
        with contextlib.suppress(Exception):
            await self.app.bot.get_updates(
                offset=self.offset, timeout=0, limit=1, allowed_updates=list(ALLOWED_UPDATES)
            )

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)


def retry_after_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked to wait (without PTB's int-vs-timedelta deprecation warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


async def run_polling(
    app: TelegramApp,
    *,
    poll_seconds: int = 10,
    poller: Poller | None = None,
    halt: Halt | None = None,
) -> None:
    """Initialise the Application, poll until SIGINT/SIGTERM, then shut down cleanly.

    Raises:
        DeliveryHalted: ``halt`` gave a reason; the last batch was not confirmed.
    """
    poller = poller or Poller(app, timeout=poll_seconds, halt=halt)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, poller.stop)
    if not await poller.initialize():
        return
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        logger.info("Bot @%s is polling for updates", app.bot.username)
        try:
            await poller.run()
        finally:
            await app.stop()
    finally:
        await app.shutdown()
    logger.info("Bot stopped")


async def run_webhook(
    app: TelegramApp,
    *,
    listen: str,
    port: int,
    url: str,
    secret_token: str,
    stop: asyncio.Event | None = None,
    health: dict[str, Callable[[], Coroutine[Any, Any, bool]]] | None = None,
    halt: Halt | None = None,
) -> None:
    """Serve Telegram's webhook until SIGINT/SIGTERM (or ``stop``).

    When ``halt`` gives a reason after an update, that update is answered 503 (Telegram
    delivers it again), the server stops and :class:`DeliveryHalted` is raised.

    :class:`bot.webhook.WebhookServer` answers an update only after it was processed (500 when
    processing raised, so Telegram delivers it again) and refuses requests without the secret
    token with 403; ``/healthz`` runs the ``health`` checks. The server listens on the path of
    the public ``url`` (``https://host/tg`` → ``/tg``); the webhook is registered with
    ``secret_token`` once the server accepts connections, and stays registered at exit (Telegram
    keeps the updates that arrive while no replica runs).
    """
    from bot.webhook import WebhookConfigError, WebhookServer

    stop = stop or asyncio.Event()
    starter = Poller(app)  # only for its initialize(): getMe retried until Telegram answers

    def on_signal() -> None:
        stop.set()
        starter.stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)
    if not await starter.initialize():
        return
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        server = WebhookServer(
            app,
            secret=secret_token,
            path="/" + urlsplit(url).path.strip("/"),
            checks=health,
            halt=halt,
            on_halt=stop.set,
        )
        try:
            bound = await server.start(listen, port)
            try:
                await app.bot.set_webhook(
                    url=url,
                    secret_token=secret_token,
                    allowed_updates=list(ALLOWED_UPDATES),
                    drop_pending_updates=False,
                )
            except BadRequest as exc:
                raise WebhookConfigError(
                    f"Telegram refused MOVIEBOT_WEBHOOK_URL ({exc.message}): it must be a public "
                    "HTTPS URL on port 443, 80, 88 or 8443"
                ) from exc
            logger.info(
                "Bot @%s is serving its webhook on %s:%d%s (updates acknowledged after processing)",
                app.bot.username,
                listen,
                bound,
                server.path,
            )
            await stop.wait()
            if server.halted is not None:
                raise DeliveryHalted(server.halted)
        finally:
            await server.stop()
            await app.stop()
    finally:
        await app.shutdown()
    logger.info("Bot stopped")
