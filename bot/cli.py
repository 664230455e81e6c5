"""``moviebot``: the one command-line entry point.

Subcommands are registered by the module that owns them; this file only composes them:

* ``train``, ``evaluate`` — :mod:`recsys.engine_cli` (model building and measured quality);
* ``match`` — :mod:`recsys.match_cli` (title resolution, needs only the catalog);
* ``import`` — :mod:`recsys.import_cli` (Letterboxd and IMDb exports, resolved against the catalog;
  without ``--dry-run`` :func:`bot.import_cmd.write` writes into a chat's lists);
* ``run``, ``console`` — :mod:`bot.app_cli` (the Telegram bot and its offline console).

Each ``register(subparsers)`` adds its subparsers and sets ``func(args, settings) -> int``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

# implicit must run with single-threaded BLAS (see docs/architecture.md); set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def build_parser() -> argparse.ArgumentParser:
    """The ``moviebot`` argument parser with every subcommand."""
    from bot import app_cli, import_cmd
    from recsys import engine_cli, import_cli, match_cli

    parser = argparse.ArgumentParser(
        prog="moviebot",
        description="Movie recommendations from MovieLens, in Telegram or in a terminal.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    app_cli.register(sub)
    engine_cli.register(sub)
    match_cli.register(sub)
    import_cli.register(sub, writer=import_cmd.write)  # the bot writes into the store
    return parser


def domain_errors() -> tuple[type[Exception], ...]:
    """The errors that mean "this cannot be done as asked" (not a bug): said in one line."""
    from bot.store import BadDatabaseUrl, StoreUnavailable
    from recsys.artifact import ArtifactError
    from recsys.engine import FilterError
    from recsys.movielens import DatasetError

    return (DatasetError, ArtifactError, FilterError, StoreUnavailable, BadDatabaseUrl)


def one_line(error: Exception) -> str:
    """``moviebot: <the error's message>`` on one line (the message's first line)."""
    message = " ".join(str(error).split()) or type(error).__name__
    return f"moviebot: {message}"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, read settings and run the chosen subcommand."""
    from pydantic import ValidationError

    from bot.settings import Settings

    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"moviebot: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return int(args.func(args, settings) or 0)
    except domain_errors() as exc:
        print(one_line(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
