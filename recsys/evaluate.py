"""Measured quality on the held-out-users protocol (what a new chat is), with a popularity baseline.

For each seed:

1. hold out 20% of the users at random and train on the ratings of the others;
2. every held-out user with at least 5 likes (rating at or above the release's like threshold)
   gets a random 80% of their likes folded in; the other 20% are targets ("standard" variant);
3. every held-out user with at least 10 likes gets only 5 random likes folded in and the rest are
   targets ("new chat" variant, which is what the bot sees);
4. Recall@K = hits / min(K, |targets|) and NDCG@K normalised by the ideal DCG of min(K, |targets|)
   hits, for the model (fold-in through :class:`recsys.engine.Recommender`) and for the most
   popular movies of the training users (both never return a folded-in movie);
5. the low-support share of similar movies: over the 200 movies with the most likes, the share of
   their 10 most similar movies that have fewer than 10 likes (likes counted in the training data);
6. the precision of similar movies: for up to 5 random likes of each held-out user, the share of
   the 10 most similar movies that this user also liked (a held-out user's likes were never seen
   in training, so this measures whether the neighbours are co-liked by new people).

Figures are averaged over seeds. Targets the model never saw in training count as misses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys.defaults import TrainConfig
from recsys.engine import Recommender, fit_model
from recsys.matrix import likes_of
from recsys.movielens import Release

HOLDOUT = 0.2
FOLD_IN_SHARE = 0.8
MIN_LIKES = 5
NEW_CHAT_MIN_LIKES = 10
NEW_CHAT_FOLD_IN = 5
K = 20


@dataclass(frozen=True)
class Case:
    """One held-out user: the likes folded in and the likes to find."""

    fold_in: np.ndarray
    targets: np.ndarray


@dataclass(frozen=True)
class Split:
    """One seed's split: training ratings and the held-out cases of both variants."""

    train: pd.DataFrame
    standard: list[Case]
    new_chat: list[Case]


@dataclass
class Metrics:
    """Recall@K and NDCG@K averaged over cases."""

    recall: float
    ndcg: float
    users: int


@dataclass
class SeedResult:
    """Everything measured on one seed."""

    seed: int
    model: Metrics
    popular: Metrics
    new_chat_model: Metrics
    new_chat_popular: Metrics
    low_support_share: float
    similar_precision: float
    train_seconds: float


@dataclass
class Report:
    """Figures over several seeds (``mean``) and per seed."""

    release: str
    config: dict[str, Any]
    k: int
    seeds: list[int]
    mean: dict[str, float]
    per_seed: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, for JSON."""
        return asdict(self)


def split_users(ratings: pd.DataFrame, release: Release, seed: int) -> Split:
    """Hold out 20% of the users at random and build both variants' cases (see module doc)."""
    rng = np.random.default_rng(seed)
    users = np.unique(ratings["user_id"].to_numpy(np.int64))
    n_held = round(HOLDOUT * users.size)
    held = np.sort(rng.choice(users, size=n_held, replace=False))
    is_held = ratings["user_id"].isin(held).to_numpy()
    likes = likes_of(ratings.loc[is_held], release.like_threshold)
    by_user = likes.groupby("user_id")["movie_id"].apply(lambda s: np.unique(s.to_numpy(np.int64)))
    standard: list[Case] = []
    new_chat: list[Case] = []
    for user in held:
        liked = by_user.get(user)
        if liked is None or liked.size < MIN_LIKES:
            continue
        perm = rng.permutation(liked)
        n_fold = round(FOLD_IN_SHARE * liked.size)
        standard.append(Case(np.sort(perm[:n_fold]), np.sort(perm[n_fold:])))
        if liked.size >= NEW_CHAT_MIN_LIKES:
            perm = rng.permutation(liked)
            new_chat.append(
                Case(np.sort(perm[:NEW_CHAT_FOLD_IN]), np.sort(perm[NEW_CHAT_FOLD_IN:]))
            )
    return Split(train=ratings.loc[~is_held], standard=standard, new_chat=new_chat)


def ranking_metrics(recommended: np.ndarray, cases: Sequence[Case], k: int = K) -> Metrics:
    """Mean Recall@k and NDCG@k of recommended movieIds (rows × ≥k, padded with -1)."""
    if not cases:
        return Metrics(recall=float("nan"), ndcg=float("nan"), users=0)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    recalls = np.empty(len(cases))
    ndcgs = np.empty(len(cases))
    for i, case in enumerate(cases):
        targets = set(case.targets.tolist())
        hit = np.array([m in targets for m in recommended[i, :k].tolist()], dtype=bool)
        ideal = min(k, case.targets.size)
        recalls[i] = hit.sum() / ideal
        ndcgs[i] = (discounts[: hit.size] * hit).sum() / discounts[:ideal].sum()
    return Metrics(recall=float(recalls.mean()), ndcg=float(ndcgs.mean()), users=len(cases))


def popular_baseline(
    train: pd.DataFrame, release: Release, cases: Sequence[Case], k: int = K
) -> np.ndarray:
    """Most-liked movies of the training users, minus each case's folded-in movies."""
    likes = likes_of(train, release.like_threshold)["movie_id"].value_counts()
    ranked = likes.sort_index().sort_values(ascending=False, kind="stable").index.to_numpy(np.int64)
    out = np.full((len(cases), k), -1, dtype=np.int64)
    head = ranked[: k + max((c.fold_in.size for c in cases), default=0)]
    for i, case in enumerate(cases):
        picks = head[~np.isin(head, case.fold_in)][:k]
        out[i, : picks.size] = picks
    return out


def low_support_share(
    rec: Recommender, *, top: int = 200, n: int = 10, min_likes: int = 10
) -> float:
    """Share of the ``n`` most similar movies of the ``top`` most-liked that have < min_likes."""
    support = dict(zip(rec.items.item_ids.tolist(), rec.support.tolist(), strict=True))
    order = np.lexsort((rec.items.item_ids, -rec.support))[:top]
    total = low = 0
    for col in order:
        for movie in rec.similar(int(rec.items.item_ids[col]), n):
            total += 1
            low += support.get(movie.movie_id, 0) < min_likes
    return low / total if total else float("nan")


def similar_precision(
    rec: Recommender, cases: Sequence[Case], seed: int, *, queries: int = 5, n: int = 10
) -> float:
    """Share of the ``n`` most similar movies of a user's like that the user also liked."""
    rng = np.random.default_rng(seed + 1_000_003)
    hits = total = 0
    for case in cases:
        liked = np.union1d(case.fold_in, case.targets)
        known = liked[rec.items.columns(liked) >= 0]
        if known.size < 2:
            continue
        liked_set = set(liked.tolist())
        for query in rng.choice(known, size=min(queries, known.size), replace=False):
            hits += sum(s.movie_id in liked_set for s in rec.similar(int(query), n))
            total += n
    return hits / total if total else float("nan")


def evaluate_seed(
    ratings: pd.DataFrame,
    release: Release,
    config: TrainConfig,
    seed: int,
    *,
    k: int = K,
    num_threads: int = 0,
) -> SeedResult:
    """Train on one seed's training users and measure both variants and the baseline."""
    split = split_users(ratings, release, seed)
    trained = fit_model(split.train, release, config, num_threads=num_threads)
    rec = Recommender.from_trained(trained, release)
    results: dict[str, Metrics] = {}
    for name, cases in (("standard", split.standard), ("new_chat", split.new_chat)):
        recommended, _ = rec.recommend_batch([c.fold_in for c in cases], k)
        results[name] = ranking_metrics(recommended, cases, k)
        results[name + "_pop"] = ranking_metrics(
            popular_baseline(split.train, release, cases, k), cases, k
        )
    return SeedResult(
        seed=seed,
        model=results["standard"],
        popular=results["standard_pop"],
        new_chat_model=results["new_chat"],
        new_chat_popular=results["new_chat_pop"],
        low_support_share=low_support_share(rec),
        similar_precision=similar_precision(rec, split.standard, seed),
        train_seconds=trained.seconds,
    )


def evaluate(
    ratings: pd.DataFrame,
    release: Release,
    config: TrainConfig,
    seeds: Sequence[int],
    *,
    k: int = K,
    num_threads: int = 0,
    on_seed: Callable[[SeedResult], None] | None = None,
) -> Report:
    """Run :func:`evaluate_seed` for every seed and average the figures."""
    start = time.perf_counter()
    results = []
    for seed in seeds:
        result = evaluate_seed(ratings, release, config, seed, k=k, num_threads=num_threads)
        results.append(result)
        if on_seed is not None:
            on_seed(result)
    mean = {
        "recall": _mean(r.model.recall for r in results),
        "ndcg": _mean(r.model.ndcg for r in results),
        "popular_recall": _mean(r.popular.recall for r in results),
        "popular_ndcg": _mean(r.popular.ndcg for r in results),
        "new_chat_recall": _mean(r.new_chat_model.recall for r in results),
        "new_chat_ndcg": _mean(r.new_chat_model.ndcg for r in results),
        "new_chat_popular_recall": _mean(r.new_chat_popular.recall for r in results),
        "new_chat_popular_ndcg": _mean(r.new_chat_popular.ndcg for r in results),
        "low_support_share": _mean(r.low_support_share for r in results),
        "similar_precision": _mean(r.similar_precision for r in results),
        "users": _mean(r.model.users for r in results),
        "new_chat_users": _mean(r.new_chat_model.users for r in results),
        "seconds": time.perf_counter() - start,
    }
    return Report(
        release=release.name,
        config=config.to_dict(),
        k=k,
        seeds=list(seeds),
        mean=mean,
        per_seed=[asdict(r) for r in results],
    )


def _mean(values: Any) -> float:
    arr = np.array(list(values), dtype=float)
    return float(np.nanmean(arr)) if arr.size and not np.isnan(arr).all() else float("nan")
