"""``moviebot import``: read a Letterboxd or IMDb export and show what importing it would do.

Only the catalog is needed (no model, no store)::

    moviebot import --dry-run ratings.csv
    moviebot import --dataset ml-32m --dry-run --json letterboxd-export.zip

Without ``--json`` it prints a summary; with ``--json``, one object per input row with ``file``,
``row``, ``title``, ``year``, ``imdb_id``, ``rating``, ``movie_id`` (null when not resolved),
``action`` (like, dislike, seen, skip), ``reason`` and ``matched_by``. Writing into a chat's lists
(``--chat ID`` without ``--dry-run``) needs the store, which lives in ``bot/``: this module only
plans; ``bot`` passes a ``writer`` to :func:`register` that does the writing (``recsys`` never
imports ``bot``). Without one, it says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recsys.imports import (
    MAX_FILE_BYTES,
    ImportFileError,
    ImportResolver,
    ImportSummary,
    import_file,
    iter_json,
)
from recsys.match_cli import _use_utf8  # one way to print titles whatever the locale
from recsys.movielens import DataPaths, get_release, load_catalog, load_ratings

NOT_WIRED = (
    "moviebot import: writing into a chat's lists is not available from this command yet; "
    "add --dry-run to see what the import would do."
)


Writer = Callable[[argparse.Namespace, Any], int]


def register(subparsers: Any, *, writer: Writer | None = None) -> None:
    """Add the ``import`` subcommand; ``writer(args, settings)`` runs it without ``--dry-run``."""
    parser = subparsers.add_parser(
        "import",
        help="read a Letterboxd or IMDb export (dry run: what it would import)",
        description="Resolve every row of a Letterboxd export (CSV or the export zip) or an "
        "IMDb ratings/watchlist CSV against a MovieLens catalog, and show what importing it "
        "would do.",
    )
    parser.add_argument(
        "--dataset", default=None, help="MovieLens release (default: the MOVIEBOT_DATASET setting)"
    )
    parser.add_argument(
        "--chat", type=int, default=None, help="the chat whose lists the import is set against"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="resolve and report only; change nothing"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per input row")
    parser.add_argument("file", metavar="FILE", help="the export (.csv or .zip); '-' for stdin")
    parser.set_defaults(func=run, writer=writer)


def run(args: argparse.Namespace, settings: Any) -> int:
    """Read the file, resolve it against the release's catalog and print the outcome."""
    writer = getattr(args, "writer", None)
    if not args.dry_run and writer is not None:
        return int(writer(args, settings))
    if not args.dry_run:
        print(NOT_WIRED, file=sys.stderr)
        return 2
    try:
        data, name = read_input(args.file)
    except OSError as exc:
        print(f"moviebot import: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    resolver = build_resolver(settings.paths, args.dataset or settings.dataset)
    try:
        summary = import_file(data, name, resolver)
    except ImportFileError as exc:
        print(f"moviebot import: {exc}", file=sys.stderr)
        return 1
    _use_utf8(sys.stdout)
    if args.json:
        for obj in iter_json(summary):
            print(json.dumps(obj, ensure_ascii=False))
    else:
        print(render_summary(summary))
    return 0


def read_input(path: str) -> tuple[bytes, str]:
    """The bytes of ``path`` (``-``: stdin) and the name to read them by; at most the limit + 1."""
    if path == "-":
        return sys.stdin.buffer.read(MAX_FILE_BYTES + 1), "stdin.csv"
    with Path(path).open("rb") as fh:
        return fh.read(MAX_FILE_BYTES + 1), Path(path).name


def build_resolver(paths: DataPaths, dataset: str) -> ImportResolver:
    """The import resolver of ``dataset``'s catalog (popularity from its ratings, if any)."""
    release = get_release(dataset)
    folder = paths.release_folder(dataset, need_ratings=False)
    ratings = (
        load_ratings(folder, release) if (folder / release.has_ratings_file).is_file() else None
    )
    return ImportResolver.build(load_catalog(folder, release, ratings))


def render_summary(summary: ImportSummary, *, max_listed: int = 30) -> str:
    """A plain-text account of an import (the CLI's; the bot renders its own)."""
    c = summary.counts()
    lines = [
        f"Read {len(summary.rows)} rows from {', '.join(summary.files)}.",
        f"Would import {c['imported']}: {c['like']} liked, {c['dislike']} disliked, "
        f"{c['seen']} seen. Already in the lists: {c['already']}. Skipped: {c['skipped']}.",
    ]
    if summary.not_in_catalog:
        listed = summary.not_in_catalog[:max_listed]
        more = len(summary.not_in_catalog) - len(listed)
        lines.append(f"Not in the catalog ({len(summary.not_in_catalog)}):")
        lines += [f"  {t}" for t in listed]
        if more:
            lines.append(f"  … and {more} more")
    reasons: dict[str, int] = {}
    for r in summary.skipped:
        reasons[r.reason or "skipped"] = reasons.get(r.reason or "skipped", 0) + 1
    if reasons:
        lines.append("Skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(reasons.items())))
    return "\n".join(lines)
