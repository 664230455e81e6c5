"""The dislike keys of issue 13 (and Recall@20) over a grid, on tuning seeds (never 0-4).

Faster than ``bench/tune.py`` for the dislike steering: per seed it trains one model per set of
training fields and, on it, measures only ``dislike_hits``/``dislike_recall`` (and their
``_plain`` twins) for every grid point, through :func:`recsys.evaluate.dislike_figures`, i.e.
the engine's own :meth:`recsys.engine.Recommender.recommend`; with ``--recall`` also Recall@20 of
the default and the plain ranking (needed when a grid changes the training). Prints, per grid
point, the means over the seeds (pooled) as ``hits (× plain) / recall (− plain)``, and the same
for the first five seeds and the rest; every result is appended to ``--log`` as a JSON line.

Usage::

    OPENBLAS_NUM_THREADS=1 nice .venv/bin/python -m bench.dislike_frontier \\
        --dataset ml-latest-small --seeds 100-114 --recall \\
        --grid dislike_train_weight=0,3,10 dislike_signal=0,0.25

The selection rule of the fourth round: the strongest steering whose pooled ``dislike_recall``
stays within 0.0025 of ``dislike_recall_plain``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd

from bench.tune import parse_grid
from recsys import dislike
from recsys.defaults import TrainConfig, default_config
from recsys.engine import Recommender, TrainedModel, fit_model
from recsys.evaluate import K, _lists, dislike_figures, ranking_metrics, split_users
from recsys.movielens import Release, get_release, load_catalog, load_ratings

KEYS = ("dislike_hits", "dislike_hits_plain", "dislike_recall", "dislike_recall_plain")
RECALL_KEYS = ("recall", "recall_plain")


def parse_seeds(text: str) -> list[int]:
    """``100-114`` or ``100,101,105``."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi) + 1) if hi else [int(lo)])
    return out


def common_arguments(parser: argparse.ArgumentParser, dataset: str) -> None:
    """``--dataset``, ``--seeds`` and ``--movielens-dir`` (shared with dislike_search.py)."""
    parser.add_argument("--dataset", default=dataset)
    parser.add_argument("--seeds", default="100-114")
    parser.add_argument(
        "--movielens-dir",
        type=Path,
        default=Path(os.environ.get("MOVIEBOT_MOVIELENS_DIR", "../shared/data/movielens")),
    )


def load_tuning(args: argparse.Namespace) -> tuple[list[int], Release, pd.DataFrame, pd.DataFrame]:
    """(seeds, release, ratings, catalog) of :func:`common_arguments`; refuses seeds 0-4."""
    seeds = parse_seeds(args.seeds)
    if set(seeds) & set(range(5)):
        sys.exit("seeds 0-4 are the reporting seeds: tune on others")
    release = get_release(args.dataset)
    folder = args.movielens_dir / release.name
    ratings = load_ratings(folder, release)
    return seeds, release, ratings, load_catalog(folder, release, ratings)


def use_weights(weights: dict[str, float]) -> None:
    """Replace the values of :data:`recsys.dislike.WEIGHTS` for this process (exploration)."""
    if set(weights) != set(dislike.WEIGHTS):
        sys.exit(f"weights must name exactly {', '.join(dislike.WEIGHTS)}")
    dislike.WEIGHTS.update({k: float(v) for k, v in weights.items()})
    dislike._cosine_weights.cache_clear()
    print(f"weights: {json.dumps(dislike.WEIGHTS)}", file=sys.stderr)


def seed_figures(rec: Recommender, split: Any, *, recall: bool) -> dict[str, float]:
    """The dislike keys of one seed (and the two Recall@20 with ``recall``)."""
    out = {k: v for k, v in dislike_figures(rec, split.dislike).items() if k in KEYS}
    if recall:
        cases = split.standard
        plain, _ = rec.recommend_batch([c.fold_in for c in cases], K)
        out["recall"] = ranking_metrics(_lists(rec, cases, K), cases).recall
        out["recall_plain"] = ranking_metrics(plain, cases).recall
    return out


def summary(rows: list[dict[str, float]]) -> str:
    """``hits (× plain) / recall (− plain)`` of the means over ``rows``."""
    return describe({k: float(np.mean([r[k] for r in rows])) for k in rows[0]})


def describe(m: dict[str, float]) -> str:
    """``hits (× plain) / recall (− plain)`` of one set of figures (and Recall@20 if there)."""
    text = (
        f"{m['dislike_hits']:.4f} ({m['dislike_hits'] / m['dislike_hits_plain']:.3f}x) / "
        f"{m['dislike_recall']:.4f} ({m['dislike_recall'] - m['dislike_recall_plain']:+.4f})"
    )
    if "recall" in m:
        text += f"  recall {m['recall']:.4f} (plain {m['recall_plain']:.4f})"
    return text


def summarize(log: Path, release: str, split: int = 115) -> None:
    """Pooled figures per (config, weights) of ``release`` over every seed in ``log``.

    With seeds on both sides of ``split``, each side's figures as well.
    """
    seeds: dict[str, dict[int, dict[str, float]]] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["release"] != release:
            continue
        config = TrainConfig.from_dict(entry["config"])
        default = default_config(release)
        changes = {k: v for k, v in config.to_dict().items() if v != getattr(default, k)}
        weights = entry.get("weights") or dislike.WEIGHTS
        if weights != dislike.WEIGHTS:
            changes["weights"] = "searched"
        rows = seeds.setdefault(json.dumps(changes, sort_keys=True), {})
        for seed, row in zip(entry["seeds"], entry["per_seed"], strict=True):
            rows[seed] = row
    for key, rows in sorted(seeds.items()):
        ordered = [rows[s] for s in sorted(rows)]
        common = set.intersection(*(set(r) for r in ordered))
        ordered = [{k: r[k] for k in common} for r in ordered]
        line = f"{len(ordered)} seeds {key}: {summary(ordered)}"
        groups = [[r for s, r in sorted(rows.items()) if (s >= split) == late] for late in (0, 1)]
        if all(groups):  # both sides of --split: each too
            line += f"  | < {split}: {summary(groups[0])} | ≥ {split}: {summary(groups[1])}"
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser, "ml-latest-small")
    parser.add_argument("--grid", nargs="*", default=[])
    parser.add_argument("--base", default=None, help="JSON of TrainConfig fields to start from")
    parser.add_argument("--recall", action="store_true", help="also Recall@20 (default, plain)")
    parser.add_argument("--log", type=Path, default=Path("data/dislike_frontier.jsonl"))
    parser.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="JSON ({'weights': {name: value}}, as bench/dislike_search.py writes): use these "
        "instead of recsys.dislike.WEIGHTS",
    )
    parser.add_argument(
        "--summarize",
        action="store_true",
        help="only print the pooled figures of every (release, config, weights) in --log over "
        "all the seeds logged for it",
    )
    args = parser.parse_args()
    if args.summarize:
        summarize(args.log, args.dataset)
        return 0
    if args.weights is not None:
        use_weights(json.loads(args.weights.read_text())["weights"])
    seeds, release, ratings, catalog = load_tuning(args)
    base = default_config(release.name)
    if args.base:
        base = base.with_(**json.loads(args.base))
    grid = parse_grid(args.grid)
    configs = [
        base.with_(**dict(zip(grid, values, strict=True)))
        for values in itertools.product(*grid.values())
    ]
    per_config: list[list[dict[str, float]]] = [[] for _ in configs]
    start = time.perf_counter()
    for seed in seeds:
        split = split_users(ratings, release, seed)
        trained: dict[tuple[Any, ...], TrainedModel] = {}
        for i, config in enumerate(configs):
            key = config.training_key()
            if key not in trained:
                trained[key] = fit_model(split.train, release, config, num_threads=1)
            model = dataclasses.replace(trained[key], config=config)
            rec = Recommender.from_trained(model, release, catalog)
            per_config[i].append(seed_figures(rec, split, recall=args.recall))
        print(f"seed {seed} done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with args.log.open("a", encoding="utf-8") as log:
        for config, rows in zip(configs, per_config, strict=True):
            changes = {k: getattr(config, k) for k in grid}
            first, rest = rows[:5], rows[5:]
            line = f"{json.dumps(changes)}  pooled {summary(rows)}"
            if rest:
                line += f"  | first 5 {summary(first)} | rest {summary(rest)}"
            print(line, flush=True)
            log.write(
                json.dumps(
                    {
                        "release": release.name,
                        "seeds": seeds,
                        "changes": changes,
                        "config": config.to_dict(),
                        "weights": dislike.WEIGHTS,
                        "per_seed": rows,
                    }
                )
                + "\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
