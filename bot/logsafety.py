"""Logs without secrets and without what users wrote.

One :class:`Redactor` sits on every handler of the root logger, so it sees the records of every
logger (python-telegram-bot's, httpx's, SQLAlchemy's, tornado's, ours) at every level. It replaces
each secret in every form it can take in a log line — the raw value, the value stripped of
surrounding whitespace (a token read from a mounted secret file ends with a newline), its
URL-encoded forms (``123%3AABC``) and, for a bot token, the part after the colon on its own — in
the message, its arguments and the traceback.

python-telegram-bot logs whole updates and request parameters at DEBUG ("Call to Bot API
endpoint `getUpdates` finished with return value `[{... 'first_name': ..., 'text': ...}]`"):
users' names and texts. :class:`UpdateContentFilter` replaces those arguments by a short
placeholder unless ``MOVIEBOT_LOG_UPDATE_CONTENTS=true``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "<redacted>"
HIDDEN = "<contents hidden: MOVIEBOT_LOG_UPDATE_CONTENTS=false>"

_installed: list[Redactor] = []


def secret_forms(secret: str) -> set[str]:
    """Every form of ``secret`` that can reach a log line (empty for an empty secret)."""
    forms: set[str] = set()
    for value in (secret, secret.strip()):
        if not value:
            continue
        forms.update({value, quote(value, safe=""), quote(value), quote_plus(value)})
        _, colon, tail = value.partition(":")
        if colon and tail:  # a bot token: <bot id>:<secret part>; the bot id is public
            forms.update(secret_forms(tail))
    return forms


class Redactor(logging.Filter):
    """Replaces secrets in a log record (message, arguments and traceback) by ``<redacted>``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._forms: list[str] = []
        self.add(*secrets)

    @property
    def secrets(self) -> list[str]:
        """The forms replaced, longest first."""
        return list(self._forms)

    def add(self, *secrets: str) -> None:
        """Redact these secrets too (in all their forms)."""
        forms = set(self._forms)
        for secret in secrets:
            if secret:
                forms |= secret_forms(secret)
        self._forms = sorted(forms, key=lambda s: (-len(s), s))

    def scrub(self, text: str) -> str:
        """``text`` with every secret form replaced."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub ``record`` in place; never drops it."""
        message = record.getMessage()
        clean = self.scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True


class UpdateContentFilter(logging.Filter):
    """Hides update and request contents that python-telegram-bot puts in its log records.

    An argument that is a mapping, a Telegram object or a sequence holding them (the updates of
    getUpdates, the parameters of sendMessage) becomes :data:`HIDDEN`; ids and names of
    endpoints stay, so "Calling Bot API endpoint `sendMessage`" is still in the DEBUG log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments in place; never drops it."""
        if not record.name.startswith("telegram") or not record.args:
            return True
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        if any(_has_contents(arg) for arg in args):
            record.args = tuple(HIDDEN if _has_contents(arg) else arg for arg in args)
        return True


def _has_contents(value: Any) -> bool:
    from telegram import TelegramObject

    if isinstance(value, dict | TelegramObject):
        return True
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_contents(item) or isinstance(item, str) for item in value)
    return False


def install_redactor(*secrets: str, log_update_contents: bool = True) -> Redactor:
    """Scrub ``secrets`` from everything the root logger's handlers write.

    Without ``log_update_contents`` the handlers also hide update contents
    (:class:`UpdateContentFilter`). Returns the redactor (:func:`protect` adds secrets later).
    """
    redactor = Redactor(secrets)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    contents = None if log_update_contents else UpdateContentFilter()
    for handler in root.handlers:
        if contents is not None:
            handler.addFilter(contents)
        handler.addFilter(redactor)  # last: it also sees what the content filter left
    _installed.append(redactor)
    return redactor


def protect(*secrets: str) -> None:
    """Redact these secrets too, in every installed redactor (e.g. a generated webhook secret)."""
    for redactor in _installed:
        redactor.add(*secrets)


def scrub(text: str) -> str:
    """``text`` with every secret known to an installed redactor replaced (for stderr messages)."""
    for redactor in _installed:
        text = redactor.scrub(text)
    return text
