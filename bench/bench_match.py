"""Title resolution speed and accuracy, against the naive rapidfuzz baseline in the same run.

For each release: the time to build :class:`recsys.titles.TitleIndex`, then every query of the
labelled set (tests/data/title_queries.tsv) through ``TitleIndex.resolve`` and through the naive
``process.extractOne(q, titles, scorer=WRatio, processor=default_process)``: p50/p99 per query and
top-1 accuracy (the matched movie, or the first candidate when ambiguous; a garbage query counts
as correct only when it is not found — the baseline always returns a movie).

    nice .venv/bin/python -m bench.bench_match                       # ml-latest-small and ml-32m
    nice .venv/bin/python -m bench.bench_match --releases ml-latest-small --repeat 5

ml-32m has no ratings here, so no popularity; its movieIds agree with ml-latest-small's, so the
same labels apply. WRatio is slow on 87,585 titles (~0.2 s a query), so on ml-32m the baseline runs
on an evenly spaced sample of the queries (``--baseline-sample``).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from rapidfuzz import fuzz, process, utils

from recsys.movielens import get_release, load_catalog, load_ratings
from recsys.titles import MatchStatus, TitleIndex

REPO = Path(__file__).resolve().parents[1]
QUERIES = REPO / "tests" / "data" / "title_queries.tsv"
Labelled = list[tuple[str, int | None, str]]


@dataclass(frozen=True)
class Run:
    """Latencies (ms) and top-1 correctness of one method over the queries."""

    name: str
    millis: list[float]
    correct: int
    wrong_confident: int
    garbage_matched: int
    n: int

    def row(self) -> str:
        p50, p99 = np.percentile(self.millis, [50, 99])
        return (
            f"{self.name:34} {len(self.millis):5} {p50:8.2f} {p99:8.2f} "
            f"{self.correct / self.n:7.1%} {self.wrong_confident:6} {self.garbage_matched:7}"
        )


def load_queries(path: Path) -> Labelled:
    """(query, expected movie_id or None for garbage, category) from the labelled TSV."""
    rows: Labelled = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        query, expected, category = line.split("\t")
        query = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), query)
        rows.append((query, None if expected == "NONE" else int(expected), category))
    return rows


def measure(
    name: str, answer: Callable[[str], tuple[int | None, bool]], queries: Labelled, repeat: int
) -> Run:
    """Time ``answer`` (query -> (top-1 movie, confident)) on every query, best of ``repeat``."""
    millis, correct, wrong, garbage = [], 0, 0, 0
    for query, expected, _category in queries:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            movie, confident = answer(query)
            best = min(best, time.perf_counter() - start)
        millis.append(best * 1000)
        if expected is None:
            correct += movie is None  # not_found: nothing matched or offered first
            garbage += confident and movie is not None
        else:
            correct += movie == expected
            wrong += confident and movie != expected
    return Run(name, millis, correct, wrong, garbage, len(queries))


def bench_release(
    movielens_dir: Path, name: str, queries: Labelled, *, repeat: int, baseline_sample: int | None
) -> None:
    """Print build time and the resolver-vs-baseline table for one release."""
    release = get_release(name)
    folder = movielens_dir / name
    ratings_file = folder / release.has_ratings_file
    ratings = load_ratings(folder, release) if ratings_file.is_file() else None
    catalog = load_catalog(folder, release, ratings)
    builds = []
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        index = TitleIndex.build(catalog)
        builds.append((time.perf_counter() - wall, time.process_time() - cpu))
    print(
        f"\n## {name}: {len(catalog):,} titles, popularity from ratings: "
        f"{'yes' if ratings is not None else 'no'}"
    )
    print(
        f"index build: median {statistics.median(b[0] for b in builds):.2f} s wall, "
        f"{statistics.median(b[1] for b in builds):.2f} s CPU (3 builds)"
    )

    def resolver(query: str) -> tuple[int | None, bool]:
        res = index.resolve(query)
        if res.status is MatchStatus.MATCHED:
            return res.movie_id, True
        if res.status is MatchStatus.AMBIGUOUS:
            return res.candidates[0].movie_id, False
        return None, False

    ids = catalog.index.to_numpy()
    titles = catalog["title"].tolist()

    def baseline(query: str) -> tuple[int | None, bool]:
        found = process.extractOne(
            query, titles, scorer=fuzz.WRatio, processor=utils.default_process
        )
        return (None, False) if found is None else (int(ids[found[2]]), True)

    sample = queries
    if baseline_sample is not None and baseline_sample < len(queries):
        step = len(queries) / baseline_sample
        sample = [queries[int(i * step)] for i in range(baseline_sample)]
    runs = [measure("TitleIndex.resolve", resolver, queries, repeat)]
    if len(sample) < len(queries):
        runs.append(measure("TitleIndex.resolve (baseline sample)", resolver, sample, repeat))
    runs.append(measure("extractOne WRatio default_process", baseline, sample, 1))
    print(
        f"{'method':34} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'top-1':>7} "
        f"{'wrong':>6} {'garbage':>7}"
    )
    for run in runs:
        print(run.row())


def main() -> None:
    """Run the benchmark on the chosen releases."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--movielens-dir",
        type=Path,
        default=Path(
            os.environ.get("MOVIEBOT_MOVIELENS_DIR", REPO.parent / "shared" / "data" / "movielens")
        ),
    )
    parser.add_argument("--releases", nargs="+", default=["ml-latest-small", "ml-32m"])
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument(
        "--repeat", type=int, default=3, help="time each query this many times and keep the best"
    )
    parser.add_argument(
        "--baseline-sample",
        type=int,
        default=100,
        help="queries for the WRatio baseline on releases over 20,000 titles",
    )
    args = parser.parse_args()
    queries = load_queries(args.queries)
    garbage = sum(expected is None for _q, expected, _c in queries)
    print(
        f"labelled queries: {len(queries)} ({garbage} garbage) from {args.queries.name}; "
        "'wrong' = confident match to the wrong movie; 'garbage' = garbage matched"
    )
    for name in args.releases:
        big = len(load_catalog(args.movielens_dir / name, name)) > 20_000
        bench_release(
            args.movielens_dir,
            name,
            queries,
            repeat=args.repeat,
            baseline_sample=args.baseline_sample if big else None,
        )


if __name__ == "__main__":
    main()
