"""``moviebot match``: resolve typed titles against a release's catalog, one JSON line each.

Only the catalog is needed (no trained model); the release's ratings, when it has them, give the
popularity that orders close candidates::

    moviebot match toystory "godfather 2" "titanic 1953"
    moviebot match tt0111161 https://www.themoviedb.org/movie/603 "lotr 2" "harry potter 3"
    moviebot match - < queries.txt
    moviebot match --dataset ml-32m matrix

Ids and links (IMDb, TMDB, Letterboxd films, MovieLens movies) and the abbreviations of
recsys/data/title_aliases.tsv are read like titles: see recsys.titles.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import IO, Any

from recsys.movielens import DataPaths, get_release, load_catalog, load_ratings
from recsys.titles import Resolution, TitleIndex


def register(subparsers: Any) -> None:
    """Add the ``match`` subcommand."""
    parser = subparsers.add_parser(
        "match",
        help="resolve typed movie titles (JSON lines)",
        description="Resolve each query (a title, an abbreviation such as 'lotr 2', an IMDb or "
        "TMDB id or link, a Letterboxd or MovieLens film link) to a MovieLens movie, a short "
        "list, or not found; print one JSON object per query. Use '-' to read one query per "
        "line from stdin.",
    )
    parser.add_argument(
        "--dataset", default=None, help="MovieLens release (default: the MOVIEBOT_DATASET setting)"
    )
    parser.add_argument(
        "queries",
        nargs="+",
        metavar="QUERY",
        help="titles to resolve, or '-' for one per line on stdin",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Any) -> int:
    """Build the title index for the chosen release and resolve every query."""
    index = build_index(settings.paths, args.dataset or settings.dataset)
    queries = read_lines(sys.stdin) if args.queries == ["-"] else map(_clean, args.queries)
    _use_utf8(sys.stdout)
    for query in queries:
        print(json.dumps(to_json(index.resolve(query)), ensure_ascii=False), flush=True)
    return 0


def build_index(paths: DataPaths, dataset: str) -> TitleIndex:
    """The title index of ``dataset``'s catalog, with popularity when the release has ratings."""
    release = get_release(dataset)
    folder = paths.release_folder(dataset, need_ratings=False)
    ratings = (
        load_ratings(folder, release) if (folder / release.has_ratings_file).is_file() else None
    )
    return TitleIndex.build(load_catalog(folder, release, ratings))


def to_json(resolution: Resolution) -> dict[str, Any]:
    """The JSON object printed for one resolution.

    ``error`` only when there is one; ``"absent": true`` only when the query reads as a film this
    catalog lacks (see :class:`recsys.titles.Resolution`).
    """
    out: dict[str, Any] = {
        "query": resolution.query,
        "status": str(resolution.status),
        "movie_id": resolution.movie_id,
        "title": resolution.title,
        "score": resolution.score,
        "candidates": [asdict(c) for c in resolution.candidates],
    }
    if resolution.error is not None:
        out["error"] = resolution.error
    if resolution.absent:
        out["absent"] = True
    return out


def read_lines(stream: IO[str]) -> Iterator[str]:
    """One query per line of ``stream``, decoded leniently (bad UTF-8 becomes U+FFFD)."""
    raw: Iterable[bytes | str] = getattr(stream, "buffer", stream)
    for line in raw:
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        yield text.rstrip("\r\n")


def _clean(text: str) -> str:
    """Replace undecodable bytes that reached argv (lone surrogates) with U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _use_utf8(stream: IO[str]) -> None:
    """Write UTF-8 whatever the locale, so titles like "Léon" always print."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        # A stream that cannot be reconfigured keeps its encoding.
        with contextlib.suppress(ValueError, OSError):
            reconfigure(encoding="utf-8", errors="replace")
