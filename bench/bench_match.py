"""Title resolution speed and accuracy, against the naive rapidfuzz baseline in the same run.

For each release: the time to build :class:`recsys.titles.TitleIndex`, then every query of the
labelled set (tests/data/title_queries.tsv) through ``TitleIndex.resolve`` and through the naive
``process.extractOne(q, titles, scorer=WRatio, processor=default_process)``: p50/p99 per query and
top-1 accuracy (the matched movie, or the first candidate when ambiguous; a garbage query counts
as correct only when it is not found — the baseline always returns a movie). Then, for the rows
labelled for that release, the grades per category (:func:`grade`: right, confidently wrong,
needless question, "several match" for an absent film).

    nice .venv/bin/python -m bench.bench_match                       # ml-latest-small and ml-32m
    nice .venv/bin/python -m bench.bench_match --releases ml-latest-small --repeat 5
    nice .venv/bin/python -m bench.bench_match --queries tests/data/title_queries_2.tsv \
        --releases ml-latest-small ml-1m ml-32m            # sequel numbers, ids, absent films...

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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from rapidfuzz import fuzz, process, utils

from recsys.movielens import get_release, load_catalog, load_ratings
from recsys.titles import MatchStatus, Resolution, TitleIndex

REPO = Path(__file__).resolve().parents[1]
QUERIES = REPO / "tests" / "data" / "title_queries.tsv"
SMALL = "ml-latest-small"
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


def load_queries(path: Path, release: str = SMALL) -> Labelled:
    """(query, expected, category) from a labelled TSV (see :func:`load_labelled`).

    ``expected`` is the movie id, or None when nothing may be matched (garbage, absent films and
    non-titles); a namesake row ("ASK:id") counts its id. Rows labelled for ml-latest-small are
    kept for every release (movieIds agree across releases), others only for their own.
    """
    return [(q, e.movie_id, c) for q, e, c, r in load_labelled(path) if r in (SMALL, release)]


@dataclass(frozen=True)
class Expected:
    """What a labelled query should get.

    ``kind``: "movie" (that movie, matched without a question), "ask" (a question listing that
    movie: namesakes both well liked), "absent" (a film the catalog lacks: not_found, never
    "several match"), "none" (not a title: not_found).
    """

    kind: str
    movie_id: int | None = None


def parse_expected(text: str) -> Expected:
    """ "2571" -> movie; "ASK:2571" -> ask; "ABSENT" -> absent; "NONE" -> none."""
    if text == "NONE":
        return Expected("none")
    if text == "ABSENT":
        return Expected("absent")
    if text.startswith("ASK:"):
        return Expected("ask", int(text[4:]))
    return Expected("movie", int(text))


def load_labelled(path: Path) -> list[tuple[str, Expected, str, str]]:
    """(query, expected, category, release) rows of a labelled TSV.

    Columns: query, expected (see :func:`parse_expected`), category, and optionally the release
    (default ml-latest-small). ``\\xNN`` in a query stands for that character.
    """
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        query, expected, category, *rest = line.split("\t")
        query = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), query)
        rows.append((query, parse_expected(expected), category, rest[0] if rest else SMALL))
    return rows


@dataclass(frozen=True)
class Grade:
    """How one resolution fares against its label."""

    right: bool  # top-1 is the labelled movie / a question when one is due / nothing when absent
    wrong_confident: bool  # matched a movie it should not have
    needless_question: bool  # asked when one movie was obvious
    several_match: bool  # an absent film or a non-title answered with "several movies match"


def grade(res: Resolution, expected: Expected) -> Grade:
    """Grade one resolution (top-1: the match, or the first candidate of a question)."""
    matched = res.status is MatchStatus.MATCHED
    asked = res.status is MatchStatus.AMBIGUOUS
    if expected.kind in ("absent", "none"):
        return Grade(res.status is MatchStatus.NOT_FOUND, matched, False, asked)
    if expected.kind == "ask":
        ids = [c.movie_id for c in res.candidates]
        right = (asked and expected.movie_id in ids) or (
            matched and res.movie_id == expected.movie_id
        )
        return Grade(right, matched and res.movie_id != expected.movie_id, False, False)
    first = res.movie_id if matched else (res.candidates[0].movie_id if asked else None)
    return Grade(
        first == expected.movie_id, matched and res.movie_id != expected.movie_id, asked, False
    )


def report(
    rows: list[tuple[str, Expected, str, str]], resolve: Callable[[str, str], Resolution]
) -> tuple[dict[str, Counter[str]], list[str]]:
    """Per category: n, right, wrong_confident, needless_question, several_match; and the misses.

    ``resolve(query, release)`` resolves one query against that release's catalog.
    """
    table: dict[str, Counter[str]] = {}
    misses = []
    for query, expected, category, release in rows:
        res = resolve(query, release)
        g = grade(res, expected)
        counts = table.setdefault(category, Counter())
        counts["n"] += 1
        for name in ("right", "wrong_confident", "needless_question", "several_match"):
            counts[name] += getattr(g, name)
        if not g.right or g.wrong_confident or g.needless_question or g.several_match:
            top = res.title or ", ".join(c.title for c in res.candidates[:3])
            misses.append(f"{category:10} {query!r} [{release}] -> {res.status} {top}")
    return table, misses


def print_report(table: dict[str, Counter[str]], misses: list[str]) -> None:
    """Print the per-category table of :func:`report`, a total row, and the misses."""
    names = ("right", "wrong_confident", "needless_question", "several_match")
    print(f"{'category':10} {'n':>4} {'right':>6} {'wrong':>6} {'asked':>6} {'several':>7}")
    total: Counter[str] = Counter()
    for category in sorted(table):
        counts = table[category]
        total.update(counts)
        print(f"{category:10} {counts['n']:4} " + " ".join(f"{counts[k]:6}" for k in names))
    print(
        f"{'total':10} {total['n']:4} "
        + " ".join(f"{total[k]:6}" for k in names)
        + f"   right {total['right'] / max(1, total['n']):.1%}"
    )
    for miss in misses:
        print("  miss:", miss)


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
    movielens_dir: Path, name: str, path: Path, *, repeat: int, baseline_sample: int | None
) -> None:
    """Print build time, the resolver-vs-baseline table and the per-category grades for a release.

    The grades (:func:`report`) come from the same index, on the rows of ``path`` labelled for
    this release (ml-latest-small rows for ml-latest-small only: likes decide there).
    """
    queries = load_queries(path, name)
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
    rows = [row for row in load_labelled(path) if row[3] == name]
    if rows:
        print(f"\nper category ({len(rows)} rows labelled for {name}; 'asked' = needless question)")
        print_report(*report(rows, lambda query, _release: index.resolve(query)))


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
        f"labelled queries: {len(queries)} ({garbage} with nothing to match: garbage, absent "
        f"films, non-titles) from {args.queries.name}; 'wrong' = confident match to the wrong "
        "movie; 'garbage' = one of those matched"
    )
    for name in args.releases:
        big = len(load_catalog(args.movielens_dir / name, name)) > 20_000
        bench_release(
            args.movielens_dir,
            name,
            args.queries,
            repeat=args.repeat,
            baseline_sample=args.baseline_sample if big else None,
        )


if __name__ == "__main__":
    main()
