"""``moviebot import --chat ID FILE``: import an export into a chat's lists, from the terminal.

The dry run (``--dry-run``) is :mod:`recsys.import_cli`'s; this is its writing half, registered
by :mod:`bot.cli` as the ``writer``. It goes through the same code as a document sent in Telegram
(:meth:`bot.service.MovieBot.document`): the configured model and store, the lists mapped to the
catalog first, one transaction within the per-chat caps, one summary.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from bot.app_cli import load_parts, make_moviebot, open_store
from recsys.import_cli import read_input

if TYPE_CHECKING:  # the service (and the model's libraries) load only when the command runs
    from bot.app_cli import Parts
    from bot.settings import Settings


def write(args: argparse.Namespace, settings: Settings) -> int:
    """Import ``args.file`` into chat ``args.chat`` of the configured store; print the summary.

    Exit status: 0 imported (or nothing new), 1 the file was refused or the store is down,
    2 a usage error (no ``--chat``, ``--json``, another ``--dataset`` than the bot's).
    """
    if args.chat is None:
        print("moviebot import: say whose lists: --chat ID (or add --dry-run)", file=sys.stderr)
        return 2
    if args.json:
        print("moviebot import: --json goes with --dry-run", file=sys.stderr)
        return 2
    if args.dataset and args.dataset != settings.dataset:
        print(
            f"moviebot import: the store follows the bot's release ({settings.dataset}); "
            f"set MOVIEBOT_DATASET={args.dataset} to import against {args.dataset}",
            file=sys.stderr,
        )
        return 2
    try:
        data, name = read_input(args.file)
    except OSError as exc:
        print(f"moviebot import: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    parts = load_parts(settings, progress=sys.stderr.isatty())
    return asyncio.run(_write(settings, parts, args.chat, data, name))


async def _write(settings: Settings, parts: Parts, chat_id: int, data: bytes, name: str) -> int:
    from bot import texts
    from bot.console import plain
    from bot.service import Upload

    store = await open_store(settings)
    if store is None:
        return 1

    async def download() -> bytes:
        return data

    try:
        moviebot = make_moviebot(settings, parts, store, flood_limit=False)
        replies = await moviebot.document(chat_id, Upload(name, len(data), None, download))
    finally:
        await store.close()
    for reply in replies:
        print(plain(reply.text))
    refused = any(reply.text.endswith(texts.NOTHING_IMPORTED) for reply in replies)
    unavailable = any(reply.text == texts.unavailable() for reply in replies)
    return 1 if refused or unavailable else 0
