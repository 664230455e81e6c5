"""The bot's side of issue 10: a 2,000-row import in the chat, and a release switch at start.

1. **Import in the chat**: the generated 2,000-row Letterboxd ratings.csv of
   ``bench.bench_import`` (1,600 films of ml-latest-small, 400 it lacks) sent to
   ``MovieBot.document`` (download, ``import_file`` in a thread, one SQLite transaction, the
   summary), each time into a fresh chat (caps raised to 5,000 so that every row is written).
   Reference in the same run: ``import_file`` alone (read, resolve, plan; no store). Peak
   memory: tracemalloc's peak during one more document (traced apart: tracing slows Python).
2. **Release switch**: ``FavoritesStore.align_catalog`` at start for CHATS chats with 20
   favorites, 5 dislikes and 5 seen movies each, made on ml-latest-small, mapped to ml-100k
   (the rows the store rewrites) and back. Reference in the same run: a restart on the same
   catalog (nothing to map).

    nice .venv/bin/python -m bench.bench_import_chat          # --chats 1000 --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pandas as pd

from bench.bench_import import letterboxd_file, movielens_dir
from bot.service import MovieBot, Upload, catalog_fingerprint
from bot.store import FavoritesStore, Mark
from recsys.identity import IdentityIndex
from recsys.imports import ImportResolver, import_file
from recsys.movielens import load_catalog, load_ratings
from recsys.titles import TitleIndex


class CatalogOnly:
    """What the service reads of a recommender for an import."""

    def __init__(self, catalog: pd.DataFrame, release: str) -> None:
        self.catalog = catalog
        self.genres: tuple[str, ...] = ()
        self.metadata = {"release": release}


def upload(data: bytes) -> Upload:
    async def download() -> bytes:
        return data

    return Upload("ratings.csv", len(data), "text/csv", download)


async def bench_import(
    catalog: pd.DataFrame, data: bytes, folder: Path, repeat: int
) -> tuple[list[float], list[float], int, str]:
    store = await FavoritesStore.open(
        f"sqlite+aiosqlite:///{folder / 'import.sqlite3'}", limit=5000
    )
    titles = TitleIndex.build(catalog)
    bot = MovieBot(CatalogOnly(catalog, "ml-latest-small"), titles, store, favorites_limit=5000)  # type: ignore[arg-type]
    resolver = ImportResolver(catalog, titles=titles)
    bot._resolver = resolver  # built once at first import; measured by bench.bench_import
    in_chat, alone = [], []
    peak = 0
    summary = ""
    try:
        for i in range(repeat):
            start = time.perf_counter()
            import_file(data, "ratings.csv", resolver)
            alone.append(time.perf_counter() - start)
            start = time.perf_counter()
            (reply,) = await bot.document(1000 + i, upload(data), update_id=5000 + i)
            in_chat.append(time.perf_counter() - start)
            summary = reply.text.split("\n")[0]
        tracemalloc.start()  # a run of its own: tracing slows Python down several times
        await bot.document(999, upload(data), update_id=4999)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        await store.close()
    return in_chat, alone, peak, summary


async def bench_switch(
    releases: dict[str, tuple[pd.DataFrame, IdentityIndex, str]], folder: Path, chats: int
) -> dict[str, float | int]:
    small, small_index, small_print = releases["ml-latest-small"]
    url = f"sqlite+aiosqlite:///{folder / 'switch.sqlite3'}"
    store = await FavoritesStore.open(url, limit=500)
    await store.align_catalog(small_index, "ml-latest-small", small_print)
    rng = random.Random(3)
    ids = small.index.tolist()
    for chat in range(chats):
        movies = rng.sample(ids, 30)
        for m in movies[:20]:
            await store.add(chat, m)
        for m in movies[20:25]:
            await store.mark(chat, m, Mark.DISLIKE)
        for m in movies[25:]:
            await store.mark(chat, m, Mark.SEEN)
    await store.close()
    out: dict[str, float | int] = {}
    for label, name in (
        ("same catalog (reference)", "ml-latest-small"),
        ("to ml-100k", "ml-100k"),
        ("back to ml-latest-small", "ml-latest-small"),
    ):
        _catalog, index, fingerprint = releases[name]
        store = await FavoritesStore.open(url, limit=500)
        start = time.perf_counter()
        alignment = await store.align_catalog(index, name, fingerprint)
        out[label] = time.perf_counter() - start
        out[f"{label}: found"] = alignment.found
        out[f"{label}: missing"] = alignment.missing
        await store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base = movielens_dir()
    small = load_catalog(
        base / "ml-latest-small",
        "ml-latest-small",
        load_ratings(base / "ml-latest-small", "ml-latest-small"),
    )
    big = load_catalog(base / "ml-32m", "ml-32m")
    later = big[big["year"].notna() & (big["year"] >= 2019)]
    data, _truth = letterboxd_file(small, later, args.rows, 0.2, 7)
    with tempfile.TemporaryDirectory() as tmp:
        in_chat, alone, peak, summary = asyncio.run(
            bench_import(small, data, Path(tmp), args.repeat)
        )
        print(f"import of {args.rows} Letterboxd rows into a chat (MovieBot.document, SQLite):")
        print(f"  each run: {', '.join(f'{t:.2f} s' for t in in_chat)}")
        print(
            f"  median {statistics.median(in_chat):.2f} s; "
            f"peak Python memory {peak / 2**20:.1f} MiB"
        )
        print(f"  reference, import_file alone: median {statistics.median(alone):.2f} s")
        print(f"  summary: {summary}")
        hundred_k = load_catalog(base / "ml-100k", "ml-100k")
        releases = {
            name: (catalog, IdentityIndex.build(catalog), catalog_fingerprint(catalog))
            for name, catalog in (("ml-latest-small", small), ("ml-100k", hundred_k))
        }
        switch = asyncio.run(bench_switch(releases, Path(tmp), args.chats))
        rows = args.chats * 30
        print(f"release switch at start, {args.chats} chats x 30 rows = {rows:,} rows (SQLite):")
        for label in ("same catalog (reference)", "to ml-100k", "back to ml-latest-small"):
            found, missing = switch[f"{label}: found"], switch[f"{label}: missing"]
            print(f"  {label}: {switch[label]:.2f} s (found {found:,}, missing {missing:,})")


if __name__ == "__main__":
    main()
