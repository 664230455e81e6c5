"""Similar movies judged as a film fan would: accepted share of the top 10 on labelled anchors.

``tests/data/similar_anchors.tsv`` lists anchor films and the neighbours a fan accepts for each
(franchise, same makers, same style), in batches written before any list was tuned: ``tune``
(used to choose the blend of ``recsys/similar.py``), ``holdout`` and ``holdout2`` (a second
batch, labelled before the second round of changes; both for reporting only). Titles are
resolved with the bot's own ``TitleIndex``; titles it does not match are skipped.

In one run, on one model trained with the release's defaults (``recsys.engine.fit_model``, the
serving model), for each way of listing similar movies:

* **ours**: ``Recommender.similar`` (series first, then factors + genres + tags + makers +
  years), and the same without the makers table (``recsys/data/makers.tsv``);
* **before**: the previous lists, a ``CosineIndex`` over the similar-movies factors, candidates
  with at least ``min_support`` likes, shrunk by support as configured;
* **implicit cosine**: ``implicit.nearest_neighbours.CosineRecommender`` (defaults, K=20) fitted
  on the like matrix;
* **implicit ALS**: ``implicit.cpu.als.AlternatingLeastSquares`` with its defaults (100 factors,
  λ 0.01, α 1, 15 iterations, seed 0) fitted on the like matrix, ``similar_items``;

it prints the mean share of the top 10 that the fan accepts (per batch), the low-support share
(over the 200 most-liked movies, the share of their 10 neighbours with fewer than 10 likes), the
median time per call, and the time to build the similar-movies index at load.

``--synthetic`` measures the scale instead: the ml-32m-sized model of ``bench/bench_recommend.py``
(87,585 movies x 128 factors, random directions; its series codes computed as training would),
saved and loaded through ``Recommender.load``; ``similar`` per call against the previous
``CosineIndex`` over the same factors, and both index builds, in the same process.

Usage::

    nice .venv/bin/python -m bench.bench_similar [--dataset ml-latest-small] [--show]
    nice .venv/bin/python -m bench.bench_similar --synthetic
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.als import CosineIndex, limit_blas_threads
from recsys.defaults import default_config
from recsys.engine import Recommender, fit_model, make_artifact
from recsys.movielens import get_release, load_catalog, load_ratings, load_tags
from recsys.similar import SimilarIndex, SimilarWeights
from recsys.titles import MatchStatus, TitleIndex

REPO = Path(__file__).resolve().parents[1]
ANCHORS = REPO / "tests" / "data" / "similar_anchors.tsv"
N = 10
LOW_LIKES = 10
FAN_CHECKS = {  # the examples: anchor -> films that must be in its list
    "The Matrix (1999)": ["The Matrix Reloaded", "The Matrix Revolutions"],
    "The Godfather (1972)": ["The Godfather: Part II"],
    "Toy Story (1995)": ["Toy Story 2", "Toy Story 3"],
    "Alien (1979)": ["Aliens"],
    "Spirited Away (2001)": ["My Neighbor Totoro", "Princess Mononoke", "Howl's Moving Castle"],
    "Seven Samurai (1954)": ["Rashomon"],
    "Aladdin (1992)": ["Beauty and the Beast (1991)", "The Lion King (1994)"],
}

Similar = Callable[[int, int], list[int]]


@dataclass(frozen=True)
class Anchor:
    """One labelled anchor: its movieId and the movieIds a fan accepts as its neighbours."""

    batch: str
    title: str
    movie_id: int
    accepted: frozenset[int]


def read_anchors(path: Path, titles: TitleIndex) -> tuple[list[Anchor], int, int]:
    """The anchors of ``path`` resolved to movieIds; also (titles resolved, titles skipped)."""
    out: list[Anchor] = []
    resolved = skipped = 0

    def resolve(title: str) -> int | None:
        nonlocal resolved, skipped
        r = titles.resolve(title)
        if r.status is MatchStatus.MATCHED and r.movie_id is not None:
            resolved += 1
            return r.movie_id
        skipped += 1
        return None

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        batch, anchor, accepted = line.split("\t")
        anchor_id = resolve(anchor)
        if anchor_id is None:
            continue
        ids = {resolve(t.strip()) for t in accepted.split(";") if t.strip()}
        out.append(
            Anchor(
                batch, anchor, anchor_id, frozenset(i for i in ids if i not in (None, anchor_id))
            )
        )
    return out, resolved, skipped


def accepted_share(similar: Similar, anchors: Sequence[Anchor]) -> float:
    """Mean share of the top ``N`` that the fan accepts (missing slots count as misses)."""
    shares = [sum(m in a.accepted for m in similar(a.movie_id, N)) / N for a in anchors]
    return float(np.mean(shares)) if shares else float("nan")


def low_support_share(similar: Similar, item_ids: np.ndarray, support: np.ndarray) -> float:
    """Over the 200 most-liked movies, the share of their neighbours with < 10 likes."""
    likes = dict(zip(item_ids.tolist(), support.tolist(), strict=True))
    order = np.lexsort((item_ids, -support))[:200]
    listed = [m for c in order for m in similar(int(item_ids[c]), N)]
    low = sum(int(likes.get(m, 0)) < LOW_LIKES for m in listed)
    return low / max(1, len(listed))


def per_call_ms(similar: Similar, movie_ids: np.ndarray) -> float:
    """Median milliseconds of one call over ``movie_ids``."""
    times = []
    for m in movie_ids.tolist():
        start = time.perf_counter()
        similar(int(m), N)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def _implicit_lists(model: object, item_ids: np.ndarray) -> Similar:
    """``similar_items`` of a fitted implicit model as movieIds (the movie itself dropped)."""
    columns = {int(m): c for c, m in enumerate(item_ids.tolist())}

    def similar(movie_id: int, n: int) -> list[int]:
        col = columns.get(movie_id)
        if col is None:
            return []
        ids, _ = model.similar_items(col, N=n + 1)  # type: ignore[attr-defined]
        return [int(item_ids[i]) for i in ids if i != col][:n]

    return similar


def main(argv: Sequence[str] | None = None) -> None:
    """Train once, list similar movies four ways, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument(
        "--movielens-dir",
        type=Path,
        default=Path(
            os.environ.get("MOVIEBOT_MOVIELENS_DIR", REPO.parent / "shared" / "data" / "movielens")
        ),
    )
    parser.add_argument("--anchors", type=Path, default=ANCHORS)
    parser.add_argument("--show", action="store_true", help="print each anchor's list")
    parser.add_argument("--synthetic", action="store_true", help="the ml-32m-sized model instead")
    args = parser.parse_args(argv)
    limit_blas_threads()
    if args.synthetic:
        synthetic(args.movielens_dir)
        return

    release = get_release(args.dataset)
    folder = args.movielens_dir / release.name
    ratings = load_ratings(folder, release)
    catalog = load_catalog(folder, release, ratings)
    tags = load_tags(folder, release)
    config = default_config(release.name)
    trained = fit_model(ratings, release, config)
    artifact = make_artifact(trained, catalog, release, tags=tags)
    rec = Recommender(artifact)
    item_ids, support = rec.items.item_ids, rec.support
    likes = trained.interactions.matrix.tocsr().astype(np.float32)

    factors = (
        artifact.similar_factors if artifact.similar_factors is not None else artifact.item_factors
    )
    start = time.perf_counter()
    before_index = CosineIndex(
        factors,
        candidates=support >= config.min_support,
        weights=(support / (support + config.shrink)) if config.shrink > 0 else None,
    )
    before_build = time.perf_counter() - start
    common: dict[str, Any] = {
        "catalog": catalog,
        "item_ids": item_ids,
        "min_support": config.min_support,
        "shrink": config.shrink,
    }
    stored: dict[str, Any] = {"tags": artifact.tag_vectors, "series": artifact.series}
    start = time.perf_counter()
    fresh = SimilarIndex(factors, support, **common, **stored)
    ours_build = time.perf_counter() - start
    start = time.perf_counter()
    fresh.top(0, N)  # the first call reads the makers table against the candidates' titles
    ours_first = time.perf_counter() - start
    start = time.perf_counter()
    older = SimilarIndex(factors, support, **common)
    assert older.series.size == support.size  # without codes: read from the titles at first use
    ours_build_old = time.perf_counter() - start
    # the same blend without the makers table (what recsys/data/makers.tsv adds)
    no_makers_index = SimilarIndex(
        factors, support, **common, **stored, weights=SimilarWeights(makers=0.0)
    )

    def ours(movie_id: int, n: int) -> list[int]:
        return [s.movie_id for s in rec.similar(movie_id, n)]

    def by_column(top: Callable[[int, int], tuple[np.ndarray, np.ndarray]]) -> Similar:
        def similar(movie_id: int, n: int) -> list[int]:
            col = rec.items.column(movie_id)
            return [] if col is None else [int(item_ids[c]) for c in top(col, n)[0]]

        return similar

    no_makers, before = by_column(no_makers_index.top), by_column(before_index.top)

    import warnings

    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import CosineRecommender

    warnings.filterwarnings("ignore", module="implicit")  # CSR conversion notices

    knn = CosineRecommender()
    knn.fit(likes, show_progress=False)
    als = AlternatingLeastSquares(random_state=0, num_threads=1)
    als.fit(likes, show_progress=False)
    methods: dict[str, Similar] = {
        "ours (series + factors/genres/tags/makers/years)": ours,
        "ours without the makers table": no_makers,
        "before (factor cosine, min likes)": before,
        "implicit item-item cosine (K=20)": _implicit_lists(knn, item_ids),
        "implicit ALS defaults": _implicit_lists(als, item_ids),
    }

    anchors, resolved, skipped = read_anchors(args.anchors, TitleIndex.build(catalog))
    names = list(dict.fromkeys(a.batch for a in anchors))  # in file order: tune, holdout, ...
    batches = {b: [a for a in anchors if a.batch == b] for b in names}
    batches["all"] = anchors
    print(
        f"{release.name}: {len(anchors)} anchors ("
        + ", ".join(f"{len(batches[b])} {b}" for b in names)
        + f"); {resolved} titles resolved, {skipped} not in the catalog; accepted neighbours "
        f"per anchor: median {int(np.median([len(a.accepted) for a in anchors]))}"
    )
    sample = np.random.default_rng(0).choice(item_ids, size=min(1000, item_ids.size), replace=False)
    columns = [*names, "all"]
    print(
        f"{'method':<50} "
        + " ".join(f"{b:>{max(6, len(b))}}" for b in columns)
        + f" {'low-support':>12} {'ms/call':>8}"
    )
    for name, similar in methods.items():
        shares = [accepted_share(similar, batches[b]) for b in columns]
        low = low_support_share(similar, item_ids, support)
        ms = per_call_ms(similar, sample)
        print(
            f"{name:<50} "
            + " ".join(f"{s:>{max(6, len(b))}.3f}" for s, b in zip(shares, columns, strict=True))
            + f" {low:>11.2%} {ms:>8.3f}"
        )
    print(
        f"index build at load: ours {ours_build * 1000:.0f} ms with the artifact's series codes "
        f"({ours_build_old * 1000:.0f} ms when they are read from the titles at the first call, "
        f"for an artifact saved without them); "
        f"before {before_build * 1000:.0f} ms; ours' first call (makers read) "
        f"{ours_first * 1000:.0f} ms"
    )
    _fan_checks(ours, catalog, TitleIndex.build(catalog), show=args.show, anchors=anchors)


def synthetic(movielens_dir: Path) -> None:
    """Load time and per-call time of similar() on an ml-32m-sized model (see the docstring)."""
    import tempfile
    from dataclasses import replace

    from bench.bench_recommend import small_model, synthetic_model
    from recsys.artifact import load_artifact, save_artifact
    from recsys.movielens import DataPaths
    from recsys.similar import series_codes

    with tempfile.TemporaryDirectory(
        dir=REPO / "data" if (REPO / "data").is_dir() else None
    ) as tmp:
        paths = DataPaths(data_dir=Path(tmp) / "data", movielens_dir=movielens_dir)
        reference, _, _ = small_model(paths, Path(tmp) / "small")
        synthetic_model(paths, reference, Path(tmp) / "plain", 0)
        artifact = load_artifact(Path(tmp) / "plain")
        start = time.perf_counter()
        codes = series_codes(artifact.catalog, artifact.item_ids)
        series_s = time.perf_counter() - start
        save_artifact(replace(artifact, series=codes), Path(tmp) / "big")
        start = time.perf_counter()
        rec = Recommender.load(Path(tmp) / "big")
        load_s = time.perf_counter() - start
    support = rec.support
    config = rec.config
    factors = artifact.item_factors
    start = time.perf_counter()
    before_index = CosineIndex(factors, candidates=support >= config.min_support)
    before_build = time.perf_counter() - start
    start = time.perf_counter()
    SimilarIndex(
        factors,
        support,
        catalog=artifact.catalog,
        item_ids=artifact.item_ids,
        min_support=config.min_support,
        series=codes,
    )
    ours_build = time.perf_counter() - start
    item_ids = rec.items.item_ids
    start = time.perf_counter()
    rec.similar(int(item_ids[0]), N)  # the first call reads the makers table
    first_s = time.perf_counter() - start
    sample = np.random.default_rng(0).choice(item_ids, size=500, replace=False)

    def ours(movie_id: int, n: int) -> list[int]:
        return [s.movie_id for s in rec.similar(movie_id, n)]

    def before(movie_id: int, n: int) -> list[int]:
        col = rec.items.column(movie_id)
        return [] if col is None else [int(item_ids[c]) for c in before_index.top(col, n)[0]]

    candidates = int(np.count_nonzero(support >= config.min_support))
    print(
        f"synthetic ml-32m-sized model: {item_ids.size} movies x {factors.shape[1]} factors, "
        f"{candidates} candidates with >= {config.min_support} likes"
    )
    print(f"series codes from {item_ids.size} titles (at training): {series_s:.2f} s")
    print(f"Recommender.load: {load_s:.2f} s")
    print(f"index build: ours {ours_build:.2f} s, before (CosineIndex) {before_build:.2f} s")
    print(f"first similar() call (the makers table read against the titles): {first_s:.2f} s")
    print(
        f"similar() median per call: ours {per_call_ms(ours, sample):.2f} ms, "
        f"before {per_call_ms(before, sample):.2f} ms"
    )
    print("The Matrix ->", "; ".join(s.title for s in rec.similar(2571, 5)))


def _fan_checks(
    ours: Similar, catalog: pd.DataFrame, titles: TitleIndex, *, show: bool, anchors: list[Anchor]
) -> None:
    """The issue's examples, and with ``show`` every anchor's list (+: accepted)."""
    for anchor, wanted in FAN_CHECKS.items():
        anchor_id = titles.resolve(anchor).movie_id
        if anchor_id is None:
            continue
        listed = ours(anchor_id, N)
        ids = [titles.resolve(w).movie_id for w in wanted]
        found = [w for w, i in zip(wanted, ids, strict=True) if i in listed]
        print(f"{anchor}: {len(found)}/{len(wanted)} expected films listed")
    if show:
        for a in anchors:
            listed = ours(a.movie_id, N)
            marks = "; ".join(
                ("+" if m in a.accepted else "-") + str(catalog.at[m, "title"]) for m in listed
            )
            print(f"[{a.batch}] {a.title}: {marks}")


if __name__ == "__main__":
    main()
