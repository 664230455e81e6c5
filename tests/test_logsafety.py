"""No secret in any log line, in any form, at any level; no update contents unless enabled.

Unit: :class:`bot.logsafety.Redactor` replaces the raw, stripped and URL-encoded forms of a
secret (and a token's secret part alone) in messages, arguments and tracebacks;
:class:`bot.logsafety.UpdateContentFilter` hides python-telegram-bot's update and parameter
dumps. Real process: ``moviebot run`` at DEBUG with a token that ends with a newline (as read
from a mounted secret file) — every line of its output is searched for every form of the token,
for the user's name and for what the user wrote.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from bot.logsafety import HIDDEN, Redactor, UpdateContentFilter, secret_forms
from bot.settings import Settings
from tests.botproc import Movie
from tests.emulator import Emulator
from tests.fixtures_reliability import bot_config, pool, spawn  # noqa: F401

TOKEN = "123456:" + "AbC-def_" * 4 + "xyz"


def token_forms(token: str) -> list[str]:
    stripped = token.strip()
    secret_part = stripped.partition(":")[2]
    return [stripped, quote(stripped, safe=""), quote(stripped), quote_plus(stripped), secret_part]


def record(
    msg: str, *args: Any, name: str = "telegram.Bot", exc: bool = False
) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError(f"failed on https://api.telegram.org/bot{TOKEN}/getMe")
        except RuntimeError:
            import sys

            exc_info = sys.exc_info()
    return logging.LogRecord(name, logging.DEBUG, __file__, 1, msg, args, exc_info)


@pytest.mark.parametrize("given", [TOKEN, TOKEN + "\n", "  " + TOKEN + "\r\n"])
def test_every_form_of_the_token_is_redacted(given: str) -> None:
    redactor = Redactor([given])
    for form in token_forms(given):
        entry = record("Set Bot API URL: %s", f"https://api.telegram.org/bot{form}/getMe")
        redactor.filter(entry)
        text = entry.getMessage()
        assert form not in text
        assert "<redacted>" in text
    failed = record("boom", exc=True)
    redactor.filter(failed)
    assert TOKEN.partition(":")[2] not in (failed.exc_text or "")


def test_forms_of_a_short_secret() -> None:
    assert {"p w", "p%20w", "p+w"} <= secret_forms(" p w\n")
    assert secret_forms("") == set()


def test_update_contents_hidden() -> None:
    hide = UpdateContentFilter()
    update = [{"update_id": 1, "message": {"from": {"first_name": "Alice"}, "text": "my text"}}]
    dumped = record("Call to Bot API endpoint `%s` finished with return value `%s`", "x", update)
    hide.filter(dumped)
    assert "Alice" not in dumped.getMessage()
    assert "my text" not in dumped.getMessage()
    assert HIDDEN in dumped.getMessage()
    assert "`x`" in dumped.getMessage()
    ids = record("Getting updates: %s", [1, 2, 3])
    hide.filter(ids)
    assert ids.getMessage() == "Getting updates: [1, 2, 3]"
    ours = record("%s", {"a": "b"}, name="bot.service")
    hide.filter(ours)
    assert ours.getMessage() == "{'a': 'b'}"


def test_the_bot_and_the_redactor_use_one_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOVIEBOT_TELEGRAM_TOKEN", TOKEN + "\n")
    monkeypatch.setenv("MOVIEBOT_DATABASE_URL", "postgresql://u:pa%20ss@h/db")
    settings = Settings()
    assert settings.bot_token == TOKEN
    redactor = Redactor(settings.secret_values)
    assert settings.bot_token in redactor.secrets
    text = redactor.scrub(f"GET /bot{settings.bot_token}/getMe postgresql://u:pa ss@h/db")
    assert TOKEN not in text
    assert "pa ss" not in text


@pytest.mark.slow
async def test_whitespace_token_never_in_a_debug_log(
    emu: Emulator,
    spawn: Any,  # noqa: F811
    bot_config: Any,  # noqa: F811
    pool: list[Movie],  # noqa: F811
    tmp_path: Any,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'log.sqlite3'}"
    config = bot_config(url, MOVIEBOT_LOG_LEVEL="DEBUG", MOVIEBOT_TELEGRAM_TOKEN=emu.token + "\n")
    bot = spawn(config)
    await asyncio.to_thread(bot.start)
    chat = 8_123_457  # the emulator names this user "User8123457"
    reply = await emu.ask(chat, f"/like {pool[0].title}")
    assert reply.text.startswith("Added ")
    said = "zebra unicorn lighthouse"
    await emu.ask(chat, said)
    assert bot.stop() == 0
    log = bot.log()
    lines = log.splitlines()
    assert any("Calling Bot API endpoint" in line for line in lines), "DEBUG was not on"
    for number, line in enumerate(lines, 1):
        for form in token_forms(emu.token + "\n"):
            assert form not in line, f"line {number} holds a form of the token: {form!r}"
        for name in ("User8123457", "user8123457"):
            assert name not in line, f"line {number} holds the user's name"
        assert said not in line, f"line {number} holds what the user wrote"


def test_the_setting_decides_whether_contents_are_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from bot.logsafety import install_redactor

    root = logging.getLogger()
    for enabled in (False, True):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        monkeypatch.setattr(root, "handlers", [handler])
        install_redactor(TOKEN, log_update_contents=enabled)
        handler.handle(record("Processing update %s", {"message": {"text": "my text"}}))
        assert ("my text" in stream.getvalue()) is enabled
        assert any(isinstance(f, Redactor) for f in handler.filters)
