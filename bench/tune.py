"""Grid search of the engine's hyperparameters on tuning seeds (never the reporting seeds 0-4).

Usage (one config at a time, single-threaded; run it under ``nice`` on a shared machine)::

    OPENBLAS_NUM_THREADS=1 nice .venv/bin/python bench/tune.py --dataset ml-100k \
        --grid factors=16,32,64 regularization=1,10,50 alpha=1,4 --seeds 100,101,102,103,104

Every ``name=v1,v2`` of ``--grid`` is a :class:`recsys.defaults.TrainConfig` field; the other fields
keep the release's current defaults (or ``--base`` JSON). Each config is printed as it finishes, the
best ones at the end, and every result is appended as a JSON line to ``--log``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from recsys.defaults import TrainConfig, default_config
from recsys.engine import Recommender, TrainedModel, fit_model
from recsys.evaluate import evaluate, low_support_share, similar_precision, split_users
from recsys.movielens import get_release, load_catalog, load_ratings

FIELD_TYPES = {f.name: f.type for f in fields(TrainConfig)}


def parse_value(name: str, text: str) -> Any:
    kind = str(FIELD_TYPES[name])
    if text.lower() == "none":
        return None
    if kind == "bool":
        return text.lower() in {"1", "true", "yes"}
    if "int" in kind and "float" not in kind:
        return int(text)
    if "float" in kind:
        return float(text)
    return text


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, _, values = item.partition("=")
        if name not in FIELD_TYPES:
            sys.exit(f"unknown field {name!r}; fields: {', '.join(FIELD_TYPES)}")
        grid[name] = [parse_value(name, v) for v in values.split(",")]
    return grid


def neighbour_stats(
    rec: Recommender, genres: dict[int, set[str]], top: int = 200, n: int = 10
) -> tuple[float, float]:
    """Median likes and mean genre Jaccard of the neighbours of the ``top`` most-liked movies.

    Median likes measure blockbuster bias; genre overlap whether the lists make sense.
    """
    support = dict(zip(rec.items.item_ids.tolist(), rec.support.tolist(), strict=True))
    order = np.lexsort((rec.items.item_ids, -rec.support))[:top]
    likes: list[int] = []
    overlap: list[float] = []
    for col in order:
        query = int(rec.items.item_ids[col])
        for s in rec.similar(query, n):
            likes.append(support[s.movie_id])
            a, b = genres[query], genres[s.movie_id]
            overlap.append(len(a & b) / len(a | b) if a | b else 0.0)
    if not likes:
        return float("nan"), float("nan")
    return float(np.median(likes)), float(np.mean(overlap))


def similar_grid(
    ratings: Any,
    release: Any,
    base: TrainConfig,
    seeds: list[int],
    grid: dict[str, list[Any]],
    log: Path,
    genres: dict[int, set[str]],
) -> None:
    """Tune the similar-movies rule: one model per seed, every (min_support, shrink) on it."""
    names = list(grid)
    combos = [dict(zip(names, v, strict=True)) for v in itertools.product(*grid.values())]
    sums: dict[int, list[float]] = {i: [0.0, 0.0, 0.0, 0.0] for i in range(len(combos))}
    for seed in seeds:
        split = split_users(ratings, release, seed)
        trained: dict[tuple[int, float, float], Any] = {}
        for i, changes in enumerate(combos):
            config = base.with_(**changes)
            key = (config.similar_factors, config.similar_regularization, config.similar_alpha)
            if key not in trained:  # the rule alone needs no new model
                trained[key] = fit_model(split.train, release, config, num_threads=1)
            rec = Recommender.from_trained(
                dataclasses.replace(trained[key], config=config), release
            )
            sums[i][0] += low_support_share(rec) / len(seeds)
            sums[i][1] += similar_precision(rec, split.standard, seed) / len(seeds)
            likes, overlap = neighbour_stats(rec, genres)
            sums[i][2] += likes / len(seeds)
            sums[i][3] += overlap / len(seeds)
    with log.open("a", encoding="utf-8") as fh:
        for i, changes in enumerate(combos):
            low, precision, likes, overlap = sums[i]
            print(
                f"{json.dumps(changes)}  low-support {100 * low:.2f}%  "
                f"similar-precision {precision:.4f}  neighbour median likes {likes:.0f}  "
                f"genre overlap {overlap:.3f}"
            )
            fh.write(
                json.dumps(
                    {
                        "release": release.name,
                        "seeds": seeds,
                        "similar": changes,
                        "config": base.to_dict(),
                        "low_support_share": low,
                        "similar_precision": precision,
                        "neighbour_likes": likes,
                        "genre_overlap": overlap,
                    }
                )
                + "\n"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument(
        "--movielens-dir",
        type=Path,
        default=Path(os.environ.get("MOVIEBOT_MOVIELENS_DIR", "../shared/data/movielens")),
    )
    parser.add_argument("--seeds", default="100,101,102,103,104")
    parser.add_argument("--grid", nargs="*", default=[])
    parser.add_argument("--base", default=None, help="JSON of TrainConfig fields to start from")
    parser.add_argument("--log", type=Path, default=Path("data/tune.jsonl"))
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument(
        "--similar",
        action="store_true",
        help="tune only the similar-movies rule (min_support, shrink)",
    )
    args = parser.parse_args()

    release = get_release(args.dataset)
    ratings = load_ratings(args.movielens_dir / release.name, release)
    seeds = [int(s) for s in args.seeds.split(",")]
    base = default_config(release.name)
    if args.base:
        base = base.with_(**json.loads(args.base))
    grid = parse_grid(args.grid)
    names = list(grid)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    if args.similar:
        catalog = load_catalog(args.movielens_dir / release.name, release)
        genres = {int(m): set(str(g).split("|")) for m, g in catalog["genres"].items()}
        similar_grid(ratings, release, base, seeds, grid, args.log, genres)
        return 0
    results: list[tuple[float, dict[str, Any], dict[str, float]]] = []
    catalog = load_catalog(args.movielens_dir / release.name, release, ratings)
    cache: dict[tuple[Any, ...], TrainedModel] = {}

    def fit(train: Any, release: Any, config: TrainConfig, num_threads: int) -> TrainedModel:
        """Train once per (split, training fields): serving fields need no new model."""
        key = (len(train), int(train["user_id"].sum()), config.training_key())
        if key not in cache:
            cache[key] = fit_model(train, release, config, num_threads=num_threads)
        return dataclasses.replace(cache[key], config=config)

    print(f"{release.name}: {len(list(itertools.product(*grid.values())))} configs, seeds {seeds}")
    for values in itertools.product(*grid.values()):
        changes = dict(zip(names, values, strict=True))
        config = TrainConfig.from_dict({**base.to_dict(), **changes})
        start = time.perf_counter()
        report = evaluate(ratings, release, config, seeds, num_threads=1, catalog=catalog, fit=fit)
        m = report.mean
        results.append((m["recall"], changes, m))
        print(
            f"{json.dumps(changes)}  recall {m['recall']:.4f} (plain {m['recall_plain']:.4f})  "
            f"new-chat {m['new_chat_recall']:.4f} ({m['new_chat_recall_plain']:.4f})  "
            f"miscal {m['miscalibration']:.3f} ({m['miscalibration_plain']:.3f})  "
            f"discover tail {m['discover_tail_share']:.2f} recall {m['discover_tail_recall']:.4f} "
            f"(popular {m['discover_tail_recall_popular']:.4f})  dislike hits "
            f"{m['dislike_hits']:.4f} ({m['dislike_hits_plain']:.4f}) recall "
            f"{m['dislike_recall']:.4f} ({m['dislike_recall_plain']:.4f})  "
            f"({time.perf_counter() - start:.1f} s)",
            flush=True,
        )
        with args.log.open("a", encoding="utf-8") as log:
            log.write(
                json.dumps(
                    {"release": release.name, "seeds": seeds, "config": config.to_dict(), "mean": m}
                )
                + "\n"
            )
    print("\nbest by Recall@20:")
    for recall, changes, m in sorted(results, key=lambda r: -r[0])[: args.top]:
        print(
            f"  {recall:.4f}  ndcg {m['ndcg']:.4f}  new-chat {m['new_chat_recall']:.4f}  "
            f"{json.dumps(changes)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
