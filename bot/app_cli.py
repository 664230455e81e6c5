"""The composition root: ``moviebot run``, ``moviebot console`` and ``moviebot start``.

``run`` reads the settings, loads the model (training it on the first start, with progress),
builds the title index, opens the favorites store, builds the Telegram Application and runs it
(long polling, or a webhook when ``MOVIEBOT_WEBHOOK_URL`` is set) until SIGINT/SIGTERM.
``console`` runs the same conversation in a terminal; ``start`` is ``run`` when a token is set and
``console`` otherwise.

The token never reaches a log: every log record is scrubbed of every secret, in every form, by
:mod:`bot.logsafety` (installed by ``run`` before anything connects), and update contents stay out
of DEBUG logs unless ``MOVIEBOT_LOG_UPDATE_CONTENTS`` is on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.logsafety import Redactor, install_redactor, protect, scrub
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.service import MovieBot
    from bot.store import FavoritesStore
    from recsys.engine import Recommender
    from recsys.identity import IdentityIndex
    from recsys.titles import TitleIndex

logger = logging.getLogger(__name__)

__all__ = ["Redactor", "install_redactor"]  # moved to bot.logsafety; kept importable from here

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
    # what the first /similar would compute (about a second on an ml-32m-sized catalog), while
    # the title index is built and after: no user waits for it
    threading.Thread(target=recommender.warm_up, name="model-warm-up", daemon=True).start()
    catalog = recommender.catalog
    return Parts(recommender, TitleIndex.build(catalog), IdentityIndex.build(catalog))


async def open_store(settings: Settings) -> FavoritesStore | None:
    """Open the favorites store, waiting for an unreachable database; None (said on stderr) if not.

    A database that cannot be reached (down, still starting) is retried with exponential
    backoff (0.5 s doubling to 10 s, each attempt logged) for ``MOVIEBOT_DATABASE_WAIT_SECONDS``;
    a configuration error (malformed URL, unknown driver, wrong password, missing database) or a
    storage fault (read-only SQLite file, full disk, a folder that cannot be made) is said in one
    line at once, with what to do, without a traceback, and never with the password.
    """
    from bot.store import FavoritesStore, StoreFault, StoreUnavailable

    url = settings.resolved_database_url
    where = safe_url(url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.database_wait_seconds
    delay, attempt = 0.5, 0
    while True:
        attempt += 1
        try:
            return await FavoritesStore.open(url, limit=settings.favorites_limit)
        except StoreFault as exc:  # reached, but the operator must act: waiting will not help
            _say(f"cannot use the favorites database: {exc}")
            return None
        except StoreUnavailable as exc:
            reason = _cause(exc)
            remaining = deadline - loop.time()
            if remaining <= 0:
                _say(
                    f"cannot reach the favorites database {where} ({reason}); gave up after "
                    f"{attempt} attempts in {settings.database_wait_seconds:g} s "
                    "(MOVIEBOT_DATABASE_WAIT_SECONDS)"
                )
                return None
            wait = min(delay, remaining)
            logger.warning(
                "The favorites database %s cannot be reached (%s); attempt %d, next in %.1f s "
                "(giving up in %.0f s)",
                where,
                reason,
                attempt,
                wait,
                remaining,
            )
            await asyncio.sleep(wait)
            delay = min(delay * 2, 10.0)
        except Exception as exc:  # configuration: wrong URL, password or database name
            _say(f"cannot open the favorites database {where}: {_config_problem(exc)}")
            return None


def _say(message: str) -> None:
    """One line on stderr, scrubbed of every secret."""
    print(scrub(f"moviebot: {message}"), file=sys.stderr)


def _cause(exc: BaseException) -> str:
    """The underlying error of a StoreUnavailable, by name."""
    cause = exc.__cause__ or exc
    return type(cause).__name__


def _config_problem(exc: BaseException) -> str:
    """What is wrong with the database settings, in words (no URL: it may hold the password)."""
    from sqlalchemy.exc import ArgumentError, DBAPIError

    if isinstance(exc, ArgumentError):
        return (
            "MOVIEBOT_DATABASE_URL is not a database URL (dialect+driver://user:password@host/db)"
        )
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        if sqlstate.startswith("28"):
            return "the server refused the login: check the user and password in the URL"
        if sqlstate == "3D000":
            return "the database named in the URL does not exist on that server"
        detail = str(exc.orig).splitlines()[0] if exc.orig is not None else ""
        return f"{type(exc.orig).__name__}: {detail}"
    if isinstance(exc, ValueError):
        return f"MOVIEBOT_DATABASE_URL is invalid: {str(exc).splitlines()[0]}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


async def _align(moviebot: MovieBot) -> None:
    """Map the chats' stored movies to this catalog at start (else the first input does it)."""
    from bot.store import StoreUnavailable

    try:
        await moviebot.prepare()
    except StoreUnavailable as exc:
        logger.warning(
            "Stored lists not yet mapped to this catalog (%s); retried at first input", exc
        )


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
    token = settings.bot_token  # the one token: the bot uses it, the redactor knows every form
    if not token:
        print(MISSING_TOKEN, file=sys.stderr)
        return 2
    install_redactor(*settings.secret_values, log_update_contents=settings.log_update_contents)
    logger.info("Loading the %s model (trained on first start)", settings.dataset)
    parts = load_parts(settings, progress=True)
    return asyncio.run(serve(settings, parts, token))


async def serve(settings: Settings, parts: Parts, token: str) -> int:
    """Open the store, build the Application and run it until SIGINT/SIGTERM.

    Exit codes: 0 after a clean stop; 1 when the database, the token or another poller of this
    token stops it; 2 for a webhook setting Telegram would refuse.
    """
    from telegram.error import InvalidToken

    from bot import confirmations
    from bot.telegram_app import (
        DeliveryHalted,
        PollingConflict,
        build_application,
        run_polling,
        run_webhook,
    )
    from bot.webhook import WebhookConfigError, webhook_secret

    secret = ""
    if settings.webhook_url:
        configured = settings.webhook_secret_token
        try:
            secret, generated = webhook_secret(
                configured.get_secret_value() if configured else None
            )
        except WebhookConfigError as exc:
            _say(str(exc))
            return 2
        protect(secret)
        if generated:
            logger.warning(
                "MOVIEBOT_WEBHOOK_SECRET_TOKEN is not set: generated a secret for this process. "
                "Set one for several replicas (each start registers its own secret with Telegram, "
                "and the other replicas would refuse the updates)"
            )
    store = await open_store(settings)
    if store is None:
        return 1
    try:
        moviebot = make_moviebot(settings, parts, store)
        await _align(moviebot)
        app = build_application(
            moviebot,
            token=token,
            base_url=settings.telegram_api_url,
            polling=True,  # no PTB Updater in either mode: bot.webhook serves webhooks
            overall_max_rate=settings.telegram_max_rate,
            group_max_rate=settings.telegram_group_rate,
        )
        confirmations.install(app)
        if settings.webhook_url:
            await run_webhook(
                app,
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                url=settings.webhook_url,
                secret_token=secret,
                health=health_checks(store, parts),
                halt=lambda: store.lost,
            )
        else:
            await run_polling(app, poll_seconds=settings.polling_timeout, halt=lambda: store.lost)
    except InvalidToken:
        print(
            "moviebot: Telegram refused the bot token (MOVIEBOT_TELEGRAM_TOKEN). "
            "Check it with @BotFather, or run `moviebot console`.",
            file=sys.stderr,
        )
        return 1
    except PollingConflict as exc:
        logger.error("%s", exc)
        _say(str(exc))
        return 1
    except DeliveryHalted as exc:
        logger.error("Stopping, the last updates unacknowledged: %s", exc)
        _say(f"stopped without acknowledging the last updates: {exc}")
        return 1
    except WebhookConfigError as exc:
        _say(str(exc))
        return 2
    finally:
        await store.close()
    return 0


def health_checks(
    store: FavoritesStore, parts: Parts
) -> dict[str, Callable[[], Coroutine[Any, Any, bool]]]:
    """``/healthz`` in webhook mode: the database and the model each answer a real request.

    ``database``: a read answers and the store can still keep changes (for SQLite: the file at
    its path is still the one it has open). ``model``: a recommendation for one movie of the
    catalog comes back with known movies and finite scores (run in a thread, as the bot does).
    """
    import math

    from bot.store import StoreUnavailable

    recommender = parts.recommender
    item_ids = recommender.items.item_ids
    probe = int(item_ids[0]) if len(item_ids) else None  # a movie the model has factors for

    async def database() -> bool:
        try:
            await store.ping()
        except StoreUnavailable as exc:
            logger.warning("Health check: the favorites database is not usable (%s)", exc)
            return False
        return True

    def recommend() -> bool:
        if probe is None:
            return False
        result = recommender.recommend([probe], n=3)
        return bool(result.items) and all(
            item.movie_id != probe
            and recommender.knows(item.movie_id)
            and math.isfinite(item.score)
            for item in result.items
        )

    async def model() -> bool:
        return await asyncio.to_thread(recommend)

    return {"database": database, "model": model}


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
        moviebot = make_moviebot(settings, parts, store, flood_limit=False)
        await _align(moviebot)
        console = Console(moviebot, sys.stdout, chat_id=settings.console_chat_id)
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
