"""Search the dislike penalty's weights for the issue's metric itself, on cached candidates.

``recsys.dislike.WEIGHTS`` were fitted as a logistic regression of "hidden dislike" against
"hidden like"; the bar is about something else: fewest hidden dislikes in the top 20 at a
Recall@20 within 0.0025 of the ranking without dislikes. This script caches, for every dislike
case of the tuning seeds (``recsys.evaluate``'s protocol), the best ``--depth`` pool candidates
of the fold-in with the dislikes (the release's ``dislike_confidence``), their scores and the
nine features of :meth:`recsys.dislike.DislikeStats.features`, and the plain list (likes only,
through ``Recommender.recommend``). A weight vector is then judged as the engine would rank:
``s - weight · s̄ · (features · w)`` over the cached candidates, the best ``calibration_depth``
through the release's re-rank steps (calibration, series cap), the first 20 counted.

``--check`` compares that replica with :func:`recsys.evaluate.dislike_figures` for the current
weights (it must agree: the cache is deep enough). The search: for a direction ``w`` (unit
norm), the largest ``weight`` whose pooled ``dislike_recall`` stays within ``--budget`` of
plain (bisection), and the hits there; coordinate steps on ``w`` from ``WEIGHTS`` keep the best
direction. The result is a candidate only: validate it on other seeds through the engine
(``bench/dislike_frontier.py --weights``).

Usage (seeds other than 0-4)::

    OPENBLAS_NUM_THREADS=1 nice .venv/bin/python -m bench.dislike_search \\
        --dataset ml-100k --seeds 100-114
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from bench.dislike_frontier import common_arguments, describe, load_tuning
from recsys.defaults import default_config
from recsys.dislike import WEIGHTS
from recsys.engine import Recommender, _top_mean, fit_model
from recsys.evaluate import K, dislike_figures, split_users
from recsys.rerank import Context, Ranking, genre_distribution
from recsys.rerank import rerank as apply_steps

NAMES = list(WEIGHTS)


@dataclass
class CachedCase:
    """One dislike case: its best candidates with the fold-in's scores and the features."""

    columns: np.ndarray
    scores: np.ndarray
    features: np.ndarray  # (candidates × features), in NAMES order
    top_mean: float  # mean of the ten best scores over the whole pool (the engine's s̄)
    hidden: np.ndarray  # bool per candidate: a hidden dislike
    target: np.ndarray  # bool per candidate: a hidden like
    n_hidden: int
    ideal: int  # min(20, targets)
    plain_hits: float
    plain_recall: float
    favorites: np.ndarray
    disliked: np.ndarray
    genre_target: np.ndarray
    resemblance: float  # mean over the dislikes of the cosine to the nearest favorite
    # the joint like/dislike model's term times its weight (zeros when the release has none):
    # a fixed part of the signal, added to ``features @ w``
    joint: np.ndarray | None = None


@dataclass
class SeedCache:
    """The cases of one seed and what the re-rank steps need."""

    seed: int
    cases: list[CachedCase]
    rec: Recommender


def cache_seed(rec: Recommender, split: Any, seed: int, depth: int) -> SeedCache:
    """Cache every dislike case of one seed (see the module doc)."""
    stats = rec._dislike
    assert stats is not None, "the release's config computes no dislike statistics"
    pool = rec._pool
    unit = rec._similar.unit_factors
    out: list[CachedCase] = []
    for case in split.dislike:
        fav = rec.items.columns(case.fold_in)
        fav = fav[fav >= 0]
        dis = rec.items.columns(case.dislikes)
        dis = dis[dis >= 0]
        targets = set(case.targets.tolist())
        hidden_ids = set(case.hidden_dislikes.tolist())
        ideal = min(K, len(targets))
        plain = [r.movie_id for r in rec.recommend(case.fold_in.tolist(), K).items]
        plain_hits = sum(m in hidden_ids for m in plain) / len(hidden_ids)
        plain_recall = sum(m in targets for m in plain) / ideal
        if fav.size == 0 or dis.size == 0:
            continue  # the engine gives these the plain ranking (no steering): skipped
        scores = pool.factors @ rec._fold_in(fav, dis).user
        pos = pool.position[np.concatenate([fav, dis])]
        scores[pos[pos >= 0]] = -np.inf
        best = np.argsort(-scores, kind="stable")[:depth]
        cols = pool.columns[best]
        feats = stats.features(fav, dis, unit, cols)
        joint = None
        if rec._joint is not None:
            user = rec._joint.user(fav, dis) * np.float32(rec.config.dislike_joint_weight)
            joint = (rec._joint.diff[cols] @ user).astype(np.float32)
        ids = rec.items.item_ids[cols]
        out.append(
            CachedCase(
                columns=cols,
                scores=scores[best].astype(np.float32),
                features=np.column_stack([feats[n] for n in NAMES]).astype(np.float32),
                top_mean=float(_top_mean(scores[np.isfinite(scores)])),
                hidden=np.isin(ids, case.hidden_dislikes),
                target=np.isin(ids, case.targets),
                n_hidden=len(hidden_ids),
                ideal=ideal,
                plain_hits=plain_hits,
                plain_recall=plain_recall,
                favorites=fav,
                disliked=dis,
                genre_target=genre_distribution(rec.features.genres[fav]),
                resemblance=float((unit[dis] @ unit[fav].T).max(axis=1).mean()),
                joint=joint,
            )
        )
    return SeedCache(seed, out, rec)


def judge(
    caches: list[SeedCache], w: np.ndarray, weight: float, gate: Any = None
) -> dict[str, float]:
    """Pooled (mean over seeds of the per-seed means) hits and recall, and their plain twins.

    ``gate(case) -> float`` scales the weight per case (None: 1).
    """
    per_seed: list[tuple[float, float, float, float]] = []
    for seed in caches:
        rec = seed.rec
        depth = max(K, rec.config.calibration_depth)
        hits, recall, p_hits, p_recall = [], [], [], []
        for case in seed.cases:
            g = 1.0 if gate is None else float(gate(case))
            scale = np.float32(weight * g) * np.float32(case.top_mean)
            signal = case.features @ w.astype(np.float32)
            if case.joint is not None:
                signal = signal + case.joint
            steered = case.scores - scale * signal
            order = np.lexsort((case.columns, -steered))[:depth]
            ranking = Ranking(case.columns[order], steered[order])
            context = Context(
                rec.features,
                case.genre_target,
                disliked=case.disliked,
                favorites=case.favorites,
            )
            shown = apply_steps(ranking, rec.steps, context, K).columns
            hits.append(np.isin(shown, case.columns[case.hidden]).sum() / case.n_hidden)
            recall.append(np.isin(shown, case.columns[case.target]).sum() / case.ideal)
            p_hits.append(case.plain_hits)
            p_recall.append(case.plain_recall)
        per_seed.append(
            (
                float(np.mean(hits)),
                float(np.mean(recall)),
                float(np.mean(p_hits)),
                float(np.mean(p_recall)),
            )
        )
    m = np.mean(np.array(per_seed), axis=0)
    return {
        "dislike_hits": float(m[0]),
        "dislike_recall": float(m[1]),
        "dislike_hits_plain": float(m[2]),
        "dislike_recall_plain": float(m[3]),
    }


def strongest(
    caches: list[SeedCache],
    w: np.ndarray,
    budget: float,
    hi: float = 1.0,
    steps: int = 6,
    gate: Any = None,
) -> tuple[float, dict[str, float]]:
    """The largest weight (bisection in [0, hi]) whose recall loss stays within ``budget``."""
    lo_w, lo_f = 0.0, judge(caches, w, 0.0, gate)
    top = hi
    for _ in range(steps):
        mid = (lo_w + top) / 2
        f = judge(caches, w, mid, gate)
        if f["dislike_recall"] >= f["dislike_recall_plain"] - budget:
            lo_w, lo_f = mid, f
        else:
            top = mid
    return lo_w, lo_f


def try_gates(caches: list[SeedCache], w: np.ndarray, budget: float, hi: float) -> None:
    """Per-chat gates of the steering's weight, each at its strongest weight within budget.

    ``resemblance``: how close the chat's dislikes are to its favorites (the similar-movies
    cosine to the nearest favorite, mean over the dislikes), standardised over the cases;
    ``dislikes``: the number of dislikes over the mean number.
    """
    cases = [c for seed in caches for c in seed.cases]
    res = np.array([c.resemblance for c in cases])
    mu, sd = float(res.mean()), float(res.std()) or 1.0
    n_dis = float(np.mean([c.disliked.size for c in cases]))
    gates: dict[str, Any] = {}
    for a in (-0.5, -0.25, 0.25, 0.5):
        gates[f"resemblance {a:+}"] = lambda c, a=a: max(0.0, 1 + a * (c.resemblance - mu) / sd)
    for a in (0.5, 1.0):
        gates[f"dislikes^{a}"] = lambda c, a=a: (c.disliked.size / n_dis) ** a
    for name, gate in gates.items():
        s, f = strongest(caches, w, budget, hi=hi, gate=gate)
        print(f"gate {name}: weight {s:.3f} → {ratio(f)}", flush=True)


ratio = describe


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser, "ml-100k")
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--budget", type=float, default=0.0025)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--check", action="store_true")
    parser.add_argument(
        "--gates", action="store_true", help="only try per-chat gates of the current weights"
    )
    parser.add_argument("--out", type=Path, default=Path("data/dislike_search.json"))
    parser.add_argument("--base", default=None, help="JSON of TrainConfig fields to start from")
    args = parser.parse_args()
    seeds, release, ratings, catalog = load_tuning(args)
    config = default_config(release.name)
    if args.base:
        config = config.with_(**json.loads(args.base))
    start = time.perf_counter()
    caches: list[SeedCache] = []
    for seed in seeds:
        split = split_users(ratings, release, seed)
        rec = Recommender.from_trained(
            fit_model(split.train, release, config, num_threads=1), release, catalog
        )
        caches.append(cache_seed(rec, split, seed, args.depth))
        if args.check:
            engine = dislike_figures(rec, split.dislike)
            replica = judge(
                caches[-1:], np.array([WEIGHTS[n] for n in NAMES]), config.dislike_signal
            )
            print(f"seed {seed}: engine {ratio(engine)}  replica {ratio(replica)}")
        print(f"seed {seed} cached ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    w0 = np.array([WEIGHTS[n] for n in NAMES], dtype=np.float64)
    current = judge(caches, w0, config.dislike_signal)
    print(f"current weights at {config.dislike_signal}: {ratio(current)}")
    norm0 = float(np.linalg.norm(w0))
    hi = 4 * config.dislike_signal * norm0  # bisection range of the weight of a unit direction
    best_w = w0 / norm0
    best_s, best_f = strongest(caches, best_w, args.budget, hi=hi)
    print(f"current direction: weight {best_s:.3f} → {ratio(best_f)}", flush=True)
    if args.gates:
        try_gates(caches, best_w, args.budget, hi)
        return 0
    for round_ in range(args.rounds):
        for i, name in enumerate(NAMES):
            for factor in (0.0, 0.5, 2.0, -1.0):
                w = best_w.copy()
                w[i] *= factor
                if not w.any():
                    continue
                w /= np.linalg.norm(w)
                s, f = strongest(caches, w, args.budget, hi=hi)
                better = f["dislike_hits"] < best_f["dislike_hits"] - 1e-4
                print(
                    f"round {round_} {name} × {factor}: weight {s:.3f} → {ratio(f)}"
                    f"{'  (better)' if better else ''}",
                    flush=True,
                )
                if better:
                    best_w, best_s, best_f = w, s, f
    weights = {n: round(float(v * best_s), 4) for n, v in zip(NAMES, best_w, strict=True)}
    print(f"best: {ratio(best_f)} with weight 1 and weights {json.dumps(weights)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"seeds": seeds, "weights": weights, "figures": best_f}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
