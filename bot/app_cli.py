"""The composition root: ``moviebot run``, ``moviebot console`` and ``moviebot start``.

``run`` reads the settings, loads the model (training it on the first start, with progress),
builds the title index, opens the favorites store, builds the Telegram Application and runs it
(long polling, or a webhook when ``MOVIEBOT_WEBHOOK_URL`` is set) until SIGINT/SIGTERM.
``console`` runs the same conversation in a terminal; ``start`` is ``run`` when a token is set and
``console`` otherwise.

The token never reaches a log: httpx (which logs request URLs, and Bot API URLs contain the
token) is quieted in :mod:`bot.cli`, and every log record is scrubbed of the token here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.service import MovieBot
    from bot.store import FavoritesStore
    from recsys.engine import Recommender
    from recsys.identity import IdentityIndex
    from recsys.titles import TitleIndex

logger = logging.getLogger(__name__)

MISSING_TOKEN = (
    "moviebot: no Telegram bot token. Get one from @BotFather and set MOVIEBOT_TELEGRAM_TOKEN "
    "(in the environment or in .env).\n"
    "To try the bot without Telegram, run `moviebot console`."
)


def register(subparsers: Any) -> None:
    """Add ``run``, ``console`` and ``start`` to the ``moviebot`` command."""
    run = subparsers.add_parser(
        "run", help="run the Telegram bot (polling; webhook when MOVIEBOT_WEBHOOK_URL is set)"
    )
    run.set_defaults(func=run_command)
    console = subparsers.add_parser(
        "console", help="the same bot in this terminal, no Telegram needed (reads stdin)"
    )
    console.set_defaults(func=console_command)
    start = subparsers.add_parser(
        "start", help="the Telegram bot if MOVIEBOT_TELEGRAM_TOKEN is set, else the console"
    )
    start.set_defaults(func=start_command)


# ---------------------------------------------------------------------------------------------
# Logging without secrets


class Redactor(logging.Filter):
    """Replaces secrets in a log record (message, arguments and traceback) by ``<redacted>``."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub ``record`` in place; never drops it."""
        message = record.getMessage()
        clean = self._scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        return True


def install_redactor(*secrets: str) -> None:
    """Scrub ``secrets`` from everything the root logger's handlers write."""
    redactor = Redactor(list(secrets))
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    for handler in root.handlers:
        handler.addFilter(redactor)


# ---------------------------------------------------------------------------------------------
# Building the parts


@dataclass(frozen=True)
class Parts:
    """What every front end needs: the model and the title index."""

    recommender: Recommender
    titles: TitleIndex
    identity: IdentityIndex | None = None
    """Stable movie identities of the catalog: the store maps the chats' lists with it."""


def load_parts(settings: Settings, *, progress: bool) -> Parts:
    """Load the model (training it first if there is none), build the title and identity indexes."""
    from recsys.engine import load_or_train
    from recsys.identity import IdentityIndex
    from recsys.titles import TitleIndex

    recommender = load_or_train(
        settings.paths, settings.dataset, settings.resolved_model_path, progress=progress
    )
    catalog = recommender.catalog
    return Parts(recommender, TitleIndex.build(catalog), IdentityIndex.build(catalog))


async def open_store(settings: Settings) -> FavoritesStore | None:
    """Open the favorites store at the configured database URL; None (said on stderr) if down."""
    from bot.store import FavoritesStore, StoreUnavailable

    try:
        return await FavoritesStore.open(
            settings.resolved_database_url, limit=settings.favorites_limit
        )
    except StoreUnavailable as exc:
        print(
            f"moviebot: cannot open the favorites database "
            f"{safe_url(settings.resolved_database_url)}: {exc}",
            file=sys.stderr,
        )
        return None


def make_moviebot(
    settings: Settings, parts: Parts, store: FavoritesStore, *, flood_limit: bool = True
) -> MovieBot:
    """The conversation service, with the per-chat flood limit from the settings."""
    from bot.ratelimit import FloodLimiter
    from bot.service import MovieBot

    limiter = FloodLimiter(settings.flood_commands, settings.flood_seconds) if flood_limit else None
    return MovieBot(
        parts.recommender,
        parts.titles,
        store,
        limiter=limiter,
        favorites_limit=settings.favorites_limit,
        identity=parts.identity,
    )


def safe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    with contextlib.suppress(Exception):
        return make_url(url).render_as_string(hide_password=True)
    return "<the configured database>"


# ---------------------------------------------------------------------------------------------
# moviebot run


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """``moviebot run``: the Telegram bot."""
    del args
    token = settings.telegram_token.get_secret_value() if settings.telegram_token else ""
    if not token.strip():
        print(MISSING_TOKEN, file=sys.stderr)
        return 2
    secret = (
        settings.webhook_secret_token.get_secret_value() if settings.webhook_secret_token else ""
    )
    install_redactor(token, secret)
    logger.info("Loading the %s model (trained on first start)", settings.dataset)
    parts = load_parts(settings, progress=True)
    return asyncio.run(serve(settings, parts, token.strip()))


async def serve(settings: Settings, parts: Parts, token: str) -> int:
    """Open the store, build the Application and run it until SIGINT/SIGTERM."""
    from telegram.error import InvalidToken

    from bot.telegram_app import build_application, run_polling, run_webhook

    store = await open_store(settings)
    if store is None:
        return 1
    try:
        moviebot = make_moviebot(settings, parts, store)
        app = build_application(
            moviebot,
            token=token,
            base_url=settings.telegram_api_url,
            polling=not settings.webhook_url,
            overall_max_rate=settings.telegram_max_rate,
            group_max_rate=settings.telegram_group_rate,
        )
        if settings.webhook_url:
            secret = (
                settings.webhook_secret_token.get_secret_value()
                if settings.webhook_secret_token
                else None
            )
            await run_webhook(
                app,
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                url=settings.webhook_url,
                secret_token=secret,
            )
        else:
            await run_polling(app, poll_seconds=settings.polling_timeout)
    except InvalidToken:
        print(
            "moviebot: Telegram refused the bot token (MOVIEBOT_TELEGRAM_TOKEN). "
            "Check it with @BotFather, or run `moviebot console`.",
            file=sys.stderr,
        )
        return 1
    finally:
        await store.close()
    return 0


# ---------------------------------------------------------------------------------------------
# moviebot console


def console_command(args: argparse.Namespace, settings: Settings) -> int:
    """``moviebot console``: the same conversation in this terminal."""
    del args
    interactive = sys.stdin.isatty()
    if not interactive and logging.getLogger().level > logging.DEBUG:
        logging.getLogger().setLevel(logging.WARNING)  # scripted: answers only
    if interactive:
        print("Loading the model (the first start trains it)…", file=sys.stderr, flush=True)
    parts = load_parts(settings, progress=sys.stderr.isatty())
    return asyncio.run(_console(settings, parts))


async def _console(settings: Settings, parts: Parts) -> int:
    from bot.console import Console

    store = await open_store(settings)
    if store is None:
        return 1
    try:
        console = Console(
            make_moviebot(settings, parts, store, flood_limit=False),
            sys.stdout,
            chat_id=settings.console_chat_id,
        )
        await console.run(sys.stdin)
    finally:
        await store.close()
    return 0


# ---------------------------------------------------------------------------------------------
# moviebot start


def start_command(args: argparse.Namespace, settings: Settings) -> int:
    """``moviebot start``: the bot when a token is set, else the console."""
    if settings.telegram_token and settings.telegram_token.get_secret_value().strip():
        return run_command(args, settings)
    print(
        "No MOVIEBOT_TELEGRAM_TOKEN set: starting the console instead of the Telegram bot.",
        file=sys.stderr,
    )
    return console_command(args, settings)
