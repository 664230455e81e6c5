"""Import speed and memory: a 2,000-row Letterboxd ratings.csv against ml-latest-small.

The file is generated here: films of the catalog written as Letterboxd writes them (article in
front, no alternate titles, the MovieLens year) plus films the catalog lacks (ml-32m titles from
2019 on, real films after ml-latest-small's last year). It goes through the product's code:
``ImportResolver.build`` once (the bot does it at start), then ``import_file`` (read, resolve,
plan). The reference in the same run is the naive way: every row through ``TitleIndex.resolve``.
Peak memory is tracemalloc's peak of Python allocations during the import.

    nice .venv/bin/python -m bench.bench_import      # --rows 2000 --absent 0.2 --repeat 5
    nice .venv/bin/python -m bench.bench_import --lookalikes 6000   # + accuracy on real titles
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import statistics
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pandas as pd

from recsys.identity import IdentityIndex
from recsys.imports import (
    ExportRow,
    FileKind,
    ImportResolver,
    display_title,
    import_file,
    read_export,
)
from recsys.movielens import load_catalog, load_ratings

REPO = Path(__file__).resolve().parents[1]


def movielens_dir() -> Path:
    """Where the MovieLens copies are (``MOVIEBOT_MOVIELENS_DIR``, else ../shared/...)."""
    configured = os.environ.get("MOVIEBOT_MOVIELENS_DIR")
    return Path(configured) if configured else REPO.parent / "shared" / "data" / "movielens"


def letterboxd_file(
    catalog: pd.DataFrame, later: pd.DataFrame, rows: int, absent: float, seed: int
) -> tuple[bytes, list[int | None]]:
    """A Letterboxd ratings.csv and each row's movie (None: absent).

    ``rows`` rows, a share ``absent`` of them films the catalog lacks.
    """
    rng = random.Random(seed)
    dated = catalog[catalog["year"].notna()]
    n_absent = int(rows * absent)
    present = dated.sample(rows - n_absent, random_state=seed)
    missing = later.sample(n_absent, random_state=seed)
    films: list[tuple[str, int, int | None]] = [
        (display_title(n), int(y), int(m))
        for m, n, y in zip(present.index, present["name"], present["year"], strict=True)
    ]
    films += [
        (display_title(n), int(y), None)
        for n, y in zip(missing["name"], missing["year"], strict=True)
    ]
    rng.shuffle(films)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["Date", "Name", "Year", "Letterboxd URI", "Rating"])
    for i, (name, year, _m) in enumerate(films):
        rating = rng.choice([0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5])
        writer.writerow([f"2024-01-{1 + i % 28:02d}", name, year, f"https://boxd.it/{i:x}", rating])
    return buf.getvalue().encode("utf-8"), [m for _n, _y, m in films]


def main() -> None:
    """Generate the file, time the import and the naive reference, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--absent", type=float, default=0.2, help="share of films not in it")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--lookalikes", type=int, default=0, help="also check N ml-32m films the catalog lacks"
    )
    args = parser.parse_args()

    base = movielens_dir()
    folder = base / "ml-latest-small"
    catalog = load_catalog(folder, "ml-latest-small", load_ratings(folder, "ml-latest-small"))
    big = load_catalog(base / "ml-32m", "ml-32m")
    later = big[big["year"].fillna(0) > int(catalog["year"].max())]
    data, expected = letterboxd_file(catalog, later, args.rows, args.absent, args.seed)
    print(f"file: {args.rows} rows, {len(data) / 1024:.0f} KiB, {args.absent:.0%} not in catalog")

    start = time.perf_counter()
    resolver = ImportResolver.build(catalog)
    build = time.perf_counter() - start
    print(f"ImportResolver.build (once, at start): {build:.2f} s")
    start = time.perf_counter()
    IdentityIndex.build(catalog)
    print(f"  of which IdentityIndex.build: {time.perf_counter() - start:.2f} s")

    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        summary = import_file(data, "ratings.csv", resolver)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    import_file(data, "ratings.csv", resolver)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    c = summary.counts()
    by = {
        how: sum(1 for r in summary.rows if r.matched_by == how)
        for how in ("imdb", "title", "resolver")
    }
    print(
        f"import_file: median {statistics.median(times):.3f} s, best {min(times):.3f} s "
        f"over {args.repeat} runs; peak {peak / 2**20:.1f} MiB (tracemalloc)"
    )
    print(
        f"  resolved {sum(by.values())} ({by['title']} by exact title, {by['resolver']} through "
        f"the title resolver), not in the catalog {c['not_in_catalog']}, imported {c['imported']}"
    )

    got = [r.movie_id for r in summary.rows]
    right = sum(1 for g, e in zip(got, expected, strict=True) if e is not None and g == e)
    wrong = sum(1 for g, e in zip(got, expected, strict=True) if g is not None and g != e)
    n_present = sum(e is not None for e in expected)
    print(
        f"  of the {n_present} films in the catalog: {right} found ({right / n_present:.1%}), "
        f"{wrong} rows matched to another film or to a film the catalog lacks"
    )

    rows, _ = read_export(data, "ratings.csv")
    start = time.perf_counter()
    for row in rows:
        resolver.titles.resolve(f"{row.title} ({row.year})")
    naive = time.perf_counter() - start
    print(f"reference, every row through TitleIndex.resolve: {naive:.3f} s")
    print("bar: under 2 s for 2,000 rows on ml-latest-small")
    if args.lookalikes:
        lookalikes(catalog, big, resolver, args.lookalikes, args.seed)


def lookalikes(
    catalog: pd.DataFrame, big: pd.DataFrame, resolver: ImportResolver, n: int, seed: int
) -> None:
    """Accuracy on real titles: every dated film of the catalog written as Letterboxd writes it
    must come back as itself; ``n`` ml-32m films the catalog lacks (same years) must not match.
    Every match of the second kind is printed for a person to judge.
    """
    dated = [
        (int(m), display_title(str(name)), int(y))
        for m, name, y in zip(catalog.index, catalog["name"], catalog["year"], strict=True)
        if pd.notna(y)
    ]
    rows = [
        ExportRow("x", i, FileKind.LETTERBOXD_WATCHED, t, y) for i, (_m, t, y) in enumerate(dated)
    ]
    results = resolver.resolve_rows(rows)
    found = sum(1 for r in results if r.movie_id is not None)
    wrong = [
        r for r, (m, _t, _y) in zip(results, dated, strict=True) if r.movie_id not in (None, m)
    ]
    print(f"\nthe catalog's own {len(dated)} dated films: {found} found, {len(wrong)} wrong")
    titles = set(catalog["title"])
    last = int(catalog["year"].max())
    others = big[
        big["year"].notna()
        & (big["year"].fillna(0) <= last)
        & ~big.index.isin(catalog.index)
        & ~big["title"].isin(titles)
    ]
    sample = others if n >= len(others) else others.sample(n, random_state=seed)
    rows = [
        ExportRow("x", i, FileKind.LETTERBOXD_WATCHED, display_title(str(name)), int(y))
        for i, (name, y) in enumerate(zip(sample["name"], sample["year"], strict=True))
    ]
    matched = [r for r in resolver.resolve_rows(rows) if r.movie_id is not None]
    print(f"{len(rows)} ml-32m films not in the catalog: {len(matched)} matched a catalog film")
    for r in matched:
        print(f"  {r.label} -> {catalog.loc[r.movie_id, 'title']} [{r.matched_by}]")


if __name__ == "__main__":
    main()
