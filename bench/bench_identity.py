"""Stable identity across releases: how many movies of one release map onto another.

For each pair of releases, every movie of the first gets its identity (``IdentityIndex``) and is
mapped onto the second: the share mapped, the share left unmapped (kept and flagged), and where
the ground truth is known, how many went to another film. ml-latest-small, ml-1m and ml-32m share
MovieLens's movieIds, so a mapped movie keeping its id (or reaching an id the source release does
not have, under the same title) is right; a different id that the source also lists is wrong.
ml-100k numbers movies itself: its pairs are checked on the hand-labelled sample in
tests/test_identity.py. The ml-32m copy here has no links.csv, so it maps by title and year only.

    nice .venv/bin/python -m bench.bench_identity
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pandas as pd

from recsys.identity import IdentityIndex
from recsys.movielens import load_catalog

REPO = Path(__file__).resolve().parents[1]
PAIRS = [
    ("ml-latest-small", "ml-100k"),
    ("ml-100k", "ml-latest-small"),
    ("ml-latest-small", "ml-32m"),
    ("ml-32m", "ml-latest-small"),
    ("ml-100k", "ml-32m"),
    ("ml-1m", "ml-latest-small"),
    ("ml-1m", "ml-32m"),
]
SHARED_IDS = {"ml-latest-small", "ml-1m", "ml-32m"}


def main() -> None:
    """Print build times and the mapping figures of every pair."""
    configured = os.environ.get("MOVIEBOT_MOVIELENS_DIR")
    base = Path(configured) if configured else REPO.parent / "shared" / "data" / "movielens"
    names = sorted({n for pair in PAIRS for n in pair})
    catalogs: dict[str, pd.DataFrame] = {n: load_catalog(base / n, n) for n in names}
    indexes: dict[str, IdentityIndex] = {}
    for name in names:
        start = time.perf_counter()
        indexes[name] = IdentityIndex.build(catalogs[name])
        print(
            f"IdentityIndex.build {name:16} {len(catalogs[name]):6} movies "
            f"{time.perf_counter() - start:5.2f} s"
        )
    print(f"\n{'from':16} {'to':16} {'movies':>7} {'mapped':>8} {'unmapped':>9} {'wrong':>6}")
    for src, dst in PAIRS:
        source = catalogs[src]
        ids = source.index.tolist()
        found = indexes[dst].find_many([i for i in indexes[src].identities(ids) if i is not None])
        mapped = sum(f is not None for f in found)
        wrong = "-"
        if src in SHARED_IDS and dst in SHARED_IDS:
            # Another id that the source release also lists is another film.
            wrong = str(
                sum(
                    1
                    for m, f in zip(ids, found, strict=True)
                    if f is not None and f != m and f in source.index
                )
            )
        print(
            f"{src:16} {dst:16} {len(ids):7} {mapped / len(ids):8.1%} "
            f"{1 - mapped / len(ids):9.1%} {wrong:>6}"
        )


if __name__ == "__main__":
    main()
