"""Sixth round: a joint like/dislike ALS as one more dislike feature, on cached candidates.

The like model knows what a chat would watch and like; the dislike statistics of
:mod:`recsys.dislike` are pairwise. This exploration trains one more ALS on the training users'
likes *and* dislikes as separate columns (movie ``c`` liked is column ``c``, disliked is column
``n + c``), folds a chat's favorites and dislikes into it, and gives each candidate
``joint = u·y[n + c] - u·y[c]`` ("disliked" against "liked" for this chat; two normalised
variants as well). For each variant it prints the ROC AUC of "hidden dislike" against "hidden
like" among the best 40 candidates (next to the served signal's), then adds the variant, divided
by its standard deviation, to the served weights with a share ``gamma`` and finds the strongest
steering within ``--budget`` of plain on the replica of ``bench/dislike_search.py`` (the same
cached candidates, calibration and series cap as the engine).

Usage (seeds other than 0-4)::

    OPENBLAS_NUM_THREADS=1 nice .venv/bin/python -m bench.dislike_joint \\
        --dataset ml-100k --seeds 100-114
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.stats import rankdata

from bench.dislike_frontier import common_arguments, describe, load_tuning
from bench.dislike_search import NAMES, CachedCase, SeedCache, cache_seed, strongest
from recsys.als import AlsParams, AlsScorer, fit_item_factors
from recsys.defaults import default_config
from recsys.dislike import DISLIKE_MAX, WEIGHTS
from recsys.engine import Recommender, _top_mean, fit_model, like_threshold
from recsys.evaluate import split_users

VARIANTS = ("disliked - liked", "each over its ten best", "disliked over its ten best")


def joint_scorer(
    rec: Recommender, train: pd.DataFrame, threshold: float, params: AlsParams
) -> AlsScorer:
    """ALS on [likes | dislikes] of the training users, over ``rec``'s columns."""
    n = rec.n_items
    cols = rec.items.columns(train["movie_id"].to_numpy(np.int64))
    rating = train["rating"].to_numpy()
    _, rows = np.unique(train["user_id"].to_numpy(np.int64), return_inverse=True)
    liked = (rating >= threshold) & (cols >= 0)
    disliked = (rating <= DISLIKE_MAX) & (cols >= 0) & ~liked
    r = np.concatenate([rows[liked], rows[disliked]])
    c = np.concatenate([cols[liked], cols[disliked] + n])
    matrix = csr_matrix(
        (np.ones(r.size, dtype=np.float32), (r, c)), shape=(int(rows.max()) + 1, 2 * n)
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return AlsScorer(fit_item_factors(matrix, params, num_threads=1), params)


def joint_features(scorer: AlsScorer, rec: Recommender, case: CachedCase) -> np.ndarray:
    """The three variants of :data:`VARIANTS` for ``case``'s cached candidates."""
    n = rec.n_items
    columns = np.concatenate([case.favorites, case.disliked + n])
    user = scorer.fold_in(columns, np.ones(columns.size, dtype=np.float32)).user
    y = scorer.item_factors
    pool = rec._pool.columns
    top_d = float(_top_mean(y[n + pool] @ user))
    top_l = float(_top_mean(y[pool] @ user))
    d = y[n + case.columns] @ user
    like = y[case.columns] @ user
    return np.column_stack([d - like, d / top_d - like / top_l, d / top_d]).astype(np.float32)


def auc(labels: np.ndarray, values: np.ndarray) -> float:
    """ROC AUC of ``values`` for the boolean ``labels`` (ties shared)."""
    ranks = rankdata(values)
    pos = int(labels.sum())
    neg = labels.size - pos
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser, "ml-100k")
    parser.add_argument(
        "--models",
        nargs="+",
        default=["64,5,5"],
        help="joint models to try, each FACTORS,REGULARIZATION,ALPHA",
    )
    parser.add_argument("--budget", type=float, default=0.0025)
    parser.add_argument(
        "--base",
        default=None,
        help="JSON of TrainConfig fields to start from (the sixth round's runs: "
        '\'{"dislike_joint_weight": 0, "dislike_signal": 0.175}\' on ml-100k, 0.25 on '
        "ml-latest-small: the served steering before the joint model)",
    )
    parser.add_argument("--gammas", default="0.1,0.25,0.5,1,2")
    parser.add_argument("--variants", type=int, default=len(VARIANTS), help="try the first N")
    args = parser.parse_args()
    seeds, release, ratings, catalog = load_tuning(args)
    config = default_config(release.name)
    if args.base:
        config = config.with_(**json.loads(args.base))
    models = [(int(f), float(r), float(a)) for f, r, a in (m.split(",") for m in args.models)]
    caches: list[SeedCache] = []
    extra: dict[tuple[int, int], np.ndarray] = {}  # (model, case) → the variants
    start = time.perf_counter()
    for seed in seeds:
        split = split_users(ratings, release, seed)
        rec = Recommender.from_trained(
            fit_model(split.train, release, config, num_threads=1), release, catalog
        )
        cache = cache_seed(rec, split, seed, 100)
        threshold = like_threshold(release, config)
        for m, (factors, regularization, alpha) in enumerate(models):
            params = AlsParams(factors, regularization, alpha, 15, 0)
            scorer = joint_scorer(rec, split.train, threshold, params)
            for case in cache.cases:
                extra[m, id(case)] = joint_features(scorer, rec, case)
        caches.append(cache)
        print(f"seed {seed} cached ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    cases = [c for cache in caches for c in cache.cases]
    w0 = np.array([WEIGHTS[n] for n in NAMES])
    best = [(c.hidden | c.target).nonzero()[0][:40] for c in cases]  # the examples of the AUC
    y = np.concatenate([c.hidden[b] for c, b in zip(cases, best, strict=True)])
    s = np.concatenate([(c.features @ w0)[b] for c, b in zip(cases, best, strict=True)])
    print(f"ROC AUC among the best 40: served signal {auc(y, s):.3f}")
    served = {id(c): c.features for c in cases}
    norm0 = float(np.linalg.norm(w0))
    hi = 4 * config.dislike_signal * norm0
    weight, figures = strongest(caches, w0 / norm0, args.budget, hi=hi)
    print(f"served weights: {weight:.3f} → {describe(figures)}", flush=True)
    print(f"(engine: dislike_signal = weight / ({norm0:.4f} · |(1, gamma)|))")
    for m, model in enumerate(models):
        j = np.concatenate([extra[m, id(c)][b] for c, b in zip(cases, best, strict=True)])
        print(f"joint model {model}: ROC AUC", end="")
        print("".join(f"; {name} {auc(y, j[:, k]):.3f}" for k, name in enumerate(VARIANTS)))
        spread = np.concatenate([extra[m, id(c)] for c in cases]).std(axis=0)
        print(f"(engine: dislike_joint_weight = gamma · {norm0:.4f} / {spread[0]:.4f})")
        for k, name in enumerate(VARIANTS[: args.variants]):
            for case in cases:
                feature = extra[m, id(case)][:, k] / spread[k]
                case.features = np.column_stack([served[id(case)], feature])
            for gamma in (float(g) for g in args.gammas.split(",")):
                w = np.append(w0 / norm0, gamma)
                weight, figures = strongest(caches, w / np.linalg.norm(w), args.budget, hi=hi)
                print(
                    f"{model} {name}, gamma {gamma}: {weight:.3f} → {describe(figures)}", flush=True
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
