"""In a group, only the member who sent ``/reset`` can answer its question.

The question is sent as a reply quoting the ``/reset`` message (the bot quotes in groups), so
the pressed message itself says who asked: ``query.message.reply_to_message.from_user``. A press
by anyone else is answered with a toast and goes no further (:class:`ApplicationHandlerStop`):
nothing is removed, the question stays. Private chats have one member; a question that quotes
nothing (its ``/reset`` message deleted, or a question from before this check) is left to the
count check of the confirmation (``reset:yes:N``). Registered by ``moviebot run`` ahead of the
other handlers (:func:`install`).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler, ContextTypes

from bot import texts
from bot.service import Kind

logger = logging.getLogger(__name__)

GROUP = -1
"""The handler group: before the bot's own handlers (group 0)."""


def asker_of(message: Message) -> int | None:
    """The user id of the member whose message ``message`` quotes (None: it quotes nobody)."""
    asked = message.reply_to_message
    if asked is None or asked.from_user is None or asked.from_user.is_bot:
        return None
    return asked.from_user.id


async def only_the_asker(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop a press of a ``/reset`` question by a group member other than the one who asked."""
    del context
    query = update.callback_query
    if query is None or not isinstance(query.message, Message):
        return
    if query.message.chat.type == "private":
        return
    asker = asker_of(query.message)
    if asker is None or asker == query.from_user.id:
        return
    logger.info("A /reset question in chat %s pressed by another member", query.message.chat.id)
    try:
        await query.answer(texts.notice_only_asker())
    except TelegramError as exc:
        logger.info("Could not answer a refused /reset press: %s", exc)
    raise ApplicationHandlerStop


def install(app: Any) -> None:
    """Register :func:`only_the_asker` for ``reset:`` buttons ahead of the bot's handlers."""
    pattern = rf"^{Kind.RESET.value}:"
    app.add_handler(CallbackQueryHandler(only_the_asker, pattern=pattern), group=GROUP)
