"""Fit the weights of the dislike penalty (recsys.dislike.WEIGHTS) on tuning seeds.

For every held-out user of the dislike protocol (recsys.evaluate: ≥ 5 likes, ≥ 2 dislikes, 80%
of the likes and half the dislikes folded in), the best ``--top`` candidates of the fold-in
(favorites only, no steering) that are a hidden like or a hidden dislike are the examples; a
logistic regression of "hidden dislike" on the features of
:meth:`recsys.dislike.DislikeStats.features` and the candidate's score (divided by the mean of
the ten best) is fitted with a small L2 penalty. A feature's weight in the penalty is its
coefficient divided by minus the score's: the penalty is then in units of the normalised score,
which is what ``dislike_signal`` scales. Also prints each feature's ROC AUC on its own.

Usage (seeds other than 0-4)::

    OPENBLAS_NUM_THREADS=1 nice .venv/bin/python bench/dislike_weights.py --dataset ml-100k

The weights in recsys/dislike.py were fitted this way on ml-100k, seeds 100-104, with the pair
statistics kept for every pair rated together at least once (``--min-corated 1``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from scipy.stats import rankdata

from recsys.defaults import default_config
from recsys.dislike import WEIGHTS
from recsys.engine import Recommender, _top_mean, fit_model
from recsys.evaluate import split_users
from recsys.movielens import get_release, load_catalog, load_ratings


def auc(labels: np.ndarray, values: np.ndarray) -> float:
    """ROC AUC of ``values`` for the boolean ``labels``."""
    ranks = rankdata(values)
    pos = int(labels.sum())
    neg = labels.size - pos
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Newton's method; the last coefficient is the intercept (not penalised)."""
    xb = np.column_stack([x, np.ones(len(x))])
    w = np.zeros(xb.shape[1])
    ridge = l2 * np.diag(np.r_[np.ones(len(w) - 1), 0.0])
    for _ in range(30):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + ridge @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + ridge
        w -= np.linalg.solve(hess, grad)
    return w


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--seeds", default="100,101,102,103,104")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--min-corated", type=int, default=1)
    parser.add_argument(
        "--movielens-dir",
        type=Path,
        default=Path(os.environ.get("MOVIEBOT_MOVIELENS_DIR", "../shared/data/movielens")),
    )
    args = parser.parse_args()
    release = get_release(args.dataset)
    ratings = load_ratings(args.movielens_dir / release.name, release)
    catalog = load_catalog(args.movielens_dir / release.name, release, ratings)
    config = default_config(release.name).with_(
        dislike_min_corated=args.min_corated, dislike_signal=1.0, dislike_confidence=0.0
    )
    names = list(WEIGHTS)
    rows: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for seed in (int(s) for s in args.seeds.split(",")):
        split = split_users(ratings, release, seed)
        rec = Recommender.from_trained(
            fit_model(split.train, release, config, num_threads=1), release, catalog
        )
        stats = rec._dislike
        assert stats is not None
        pool = rec._pool
        unit = rec._similar.unit_factors
        for case in split.dislike:
            fav = rec.items.columns(case.fold_in)
            fav = fav[fav >= 0]
            dis = rec.items.columns(case.dislikes)
            dis = dis[dis >= 0]
            if fav.size == 0 or dis.size == 0:
                continue
            scores = pool.factors @ rec._fold_in(fav, dis).user
            pos = pool.position[np.concatenate([fav, dis])]
            scores[pos[pos >= 0]] = -np.inf
            best = np.argsort(-scores)[: args.top]
            ids = rec.items.item_ids[pool.columns[best]]
            hidden = np.isin(ids, case.hidden_dislikes)
            keep = hidden | np.isin(ids, case.targets)
            if not keep.any():
                continue
            feats = stats.features(fav, dis, unit, pool.columns[best[keep]])
            score = scores[best[keep]] / _top_mean(scores[np.isfinite(scores)])
            rows.append(np.column_stack([*(feats[n] for n in names), score]))
            labels.append(hidden[keep])
        print(f"seed {seed}: {len(rows)} users so far", file=sys.stderr, flush=True)
    x = np.vstack(rows).astype(np.float64)
    y = np.concatenate(labels)
    w = logistic(x, y)
    print(f"{release.name}: {y.size} examples, {int(y.sum())} hidden dislikes")
    print(f"{'feature':<20} {'coef':>8} {'penalty weight':>15} {'AUC alone':>10}")
    for i, name in enumerate([*names, "score"]):
        weight = -w[i] / w[len(names)] if name != "score" else float("nan")
        print(f"{name:<20} {w[i]:8.3f} {weight:15.3f} {auc(y, x[:, i]):10.3f}")
    xb = np.column_stack([x, np.ones(len(x))])
    print(
        f"AUC of the model {auc(y, xb @ w):.3f}; without the score {auc(y, x[:, :-1] @ w[:-2]):.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
