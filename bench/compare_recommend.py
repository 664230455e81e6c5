"""This tree's ``Recommender.recommend`` against another checkout's, in one process.

Two figures, both from the same requests:

* **identity**: every request of several kinds (issue 13's call: 5 favorites, 5 dislikes,
  20 seen and a one-genre filter; the same in discover mode; 5 favorites alone; a genre filter
  alone; no dislikes; ``rerank=False``; a year range; an excluded genre with 20 places; one
  favorite and one dislike) gets the same list from both trees: the same movies in the same
  order, the same "because", titles, ``fallback``/``ignored``/``contradictory`` and the same
  shown scores to float32 precision. Any difference is counted by kind and printed.
* **paired CPU time** of issue 13's call: the two trees call by call, alternating which goes
  first, CPU time of this process per call (``time.process_time_ns``); the median of the
  per-request differences is robust to the phases of a shared machine, which move both alike.

The other checkout's ``recsys`` is copied into a temporary folder as the package
``recsys_reference`` (its ``recsys`` imports rewritten), so both live in one interpreter and
read the same artifact, trained once by this tree's ``train`` for each release.

Usage::

    git worktree add --detach ../ref-main main
    .venv/bin/python -m bench.compare_recommend --reference ../ref-main \\
        [--requests 1800] [--calls 3000] [--datasets ml-latest-small,ml-100k]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import gc
import importlib
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import recsys.engine as this
from bench.bench_recommend import movielens_dir
from recsys.artifact import save_artifact
from recsys.movielens import DataPaths

KINDS = (
    "issue13",
    "discover",
    "plain",
    "filter",
    "no-dislikes",
    "rerank=False",
    "years",
    "exclude",
    "one-each",
)
GENRES = ("Comedy", "Drama", "Action", "Thriller", "Romance", "Documentary", "Animation")
Request = tuple[str, list[int], dict[str, Any]]


def import_reference(tree: Path, into: Path) -> ModuleType:
    """``tree``'s ``recsys.engine``, imported as ``recsys_reference.engine``."""
    package = into / "recsys_reference"
    shutil.copytree(tree / "recsys", package)
    pattern = re.compile(r"\b(from|import) recsys(?=[. ])")
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        path.write_text(pattern.sub(r"\1 recsys_reference", text), encoding="utf-8")
    sys.path.insert(0, str(into))
    return importlib.import_module("recsys_reference.engine")


def requests(known: np.ndarray, genres: tuple[str, ...], count: int, seed: int) -> list[Request]:
    """``count`` requests cycling through :data:`KINDS` (filters as plain tuples)."""
    rng = np.random.default_rng(seed)
    out: list[Request] = []
    for i in range(count):
        ids = rng.choice(known, 30, replace=False).tolist()
        kind = KINDS[i % len(KINDS)]
        genre = ("g", genres[i % len(genres)])
        issue = {"n": 10, "dislikes": ids[5:10], "seen": ids[10:30], "filters": genre}
        kwargs: dict[str, Any] = {
            "issue13": issue,
            "discover": {**issue, "discover": True},
            "plain": {"n": 10},
            "filter": {"n": 10, "filters": genre},
            "no-dislikes": {"n": 10, "seen": ids[10:30], "filters": genre},
            "rerank=False": {"n": 10, "dislikes": ids[5:10], "seen": ids[10:30], "rerank": False},
            "years": {
                "n": 10,
                "dislikes": ids[5:7],
                "filters": ("y", 1990 + i % 20, 2000 + i % 20),
            },
            "exclude": {
                "n": 20,
                "dislikes": ids[8:12],
                "seen": ids[12:],
                "filters": ("x", genre[1]),
            },
            "one-each": {"n": 10, "dislikes": ids[1:2]},
        }[kind]
        favorites = ids[:1] if kind == "one-each" else ids[:8] if kind == "exclude" else ids[:5]
        out.append((kind, favorites, kwargs))
    return out


def call(engine: ModuleType, rec: Any, favorites: list[int], kwargs: dict[str, Any]) -> Any:
    """``rec.recommend`` with the request's filters built from ``engine``'s own ``Filters``."""
    kwargs = dict(kwargs)
    spec = kwargs.pop("filters", None)
    if spec is not None:
        if spec[0] == "g":
            kwargs["filters"] = engine.Filters(genres=frozenset({spec[1]}))
        elif spec[0] == "x":
            kwargs["filters"] = engine.Filters(exclude_genres=frozenset({spec[1]}))
        else:
            kwargs["filters"] = engine.Filters(year_min=spec[1], year_max=spec[2])
    return rec.recommend(favorites, **kwargs)


def same(a: Any, b: Any) -> bool:
    """The same list: movies, order, because, titles, flags and float32 scores."""
    if (a.fallback, a.ignored, a.contradictory) != (b.fallback, b.ignored, b.contradictory):
        return False
    if len(a.items) != len(b.items):
        return False
    return all(
        (x.movie_id, x.title, x.because, np.float32(x.score))
        == (y.movie_id, y.title, y.because, np.float32(y.score))
        for x, y in zip(a.items, b.items, strict=True)
    )


def paired(
    reference: ModuleType, ref: Any, rec: Any, work: list[Request]
) -> tuple[np.ndarray, np.ndarray]:
    """CPU ms per call of the reference and of this tree, alternating which goes first."""
    for _, favorites, kwargs in work[:20]:
        call(reference, ref, favorites, kwargs)
        call(this, rec, favorites, kwargs)
    cpu = np.empty((2, len(work)))
    gc.collect()
    for i, (_, favorites, kwargs) in enumerate(work):
        for k in (0, 1) if i % 2 == 0 else (1, 0):
            engine, model = (reference, ref) if k == 0 else (this, rec)
            start = time.process_time_ns()
            call(engine, model, favorites, kwargs)
            cpu[k, i] = (time.process_time_ns() - start) / 1e6
    return cpu[0], cpu[1]


def main(argv: list[str] | None = None) -> int:
    """Run the identity check and the paired timing; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, required=True, help="another checkout")
    parser.add_argument("--requests", type=int, default=1800, help="identity: per release")
    parser.add_argument("--calls", type=int, default=3000, help="timed issue-13 calls")
    parser.add_argument("--datasets", default="ml-latest-small,ml-100k")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="compare-recommend-") as tmp:
        reference = import_reference(args.reference.resolve(), Path(tmp))
        paths = DataPaths(data_dir=Path(tmp), movielens_dir=movielens_dir())
        for name in args.datasets.split(","):
            folder = Path(tmp) / name
            save_artifact(this.train(paths, name, progress=False), folder)
            rec = this.Recommender.load(folder)
            ref = reference.Recommender.load(folder)
            known = np.asarray(rec.items.item_ids)
            genres = tuple(g for g in GENRES if g in rec.genres)
            work = requests(known, genres, args.requests, args.seed)
            kinds = Counter(kind for kind, _, _ in work)
            differ = Counter(
                kind
                for kind, favorites, kwargs in work
                if not same(
                    call(this, rec, favorites, kwargs), call(reference, ref, favorites, kwargs)
                )
            )
            listed = ", ".join(f"{k} {v}" for k, v in kinds.items())
            print(
                f"{name}: {len(work)} requests ({listed}); different lists: "
                f"{sum(differ.values())} {dict(differ) if differ else ''}"
            )
            if name != args.datasets.split(",")[0]:
                continue
            every = requests(known, genres, args.calls * len(KINDS), args.seed + 1)
            timed = [r for r in every if r[0] == "issue13"]
            old, new = paired(reference, ref, rec, timed)
            diff = new - old
            print(
                f"{name} issue-13 call, {len(timed)} calls alternating, CPU per call: reference "
                f"median {np.median(old):.3f} ms, this tree {np.median(new):.3f} ms; paired "
                f"difference median {np.median(diff) * 1000:+.1f} µs "
                f"({np.median(diff) / np.median(old) * 100:+.1f}%)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
