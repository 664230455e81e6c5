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

7. the serving extras of issue 13, all through :meth:`recsys.engine.Recommender.recommend`:
   ``recall`` is the default ranking (calibration and the series cap on), ``recall_plain`` the
   plain ALS ranking; ``miscalibration``/``miscalibration_plain`` Steck's C_KL between the genre
   distribution of the folded-in likes and that of the top 10 (α = 0.01); ``discover_tail_share``
   the share of the discover top 10 outside the 20% most-liked training movies,
   ``discover_tail_recall`` Recall@10 of the discover list on the held-out likes outside those
   20% (users with at least one), ``discover_tail_recall_popular`` the same for the most-liked
   movies outside them; dislikes: held-out users with ≥ 5 likes and ≥ 2 dislikes (rating ≤ 2)
   get 80% of their likes and half of their dislikes folded in; ``dislike_hits`` is the mean
   share of their other dislikes in the top 20 and ``dislike_recall`` Recall@20 of the other
   likes; ``*_plain``: the same users with the likes only.

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
from recsys.ease import EaseScorer, fit_ease
from recsys.engine import Recommender, TrainedModel, fit_model
from recsys.matrix import build_interactions, likes_of, rows_from_columns
from recsys.movielens import Release
from recsys.rerank import genre_distribution, miscalibration

HOLDOUT = 0.2
FOLD_IN_SHARE = 0.8
MIN_LIKES = 5
NEW_CHAT_MIN_LIKES = 10
NEW_CHAT_FOLD_IN = 5
K = 20
EXTRA_KEYS = (
    "miscalibration",
    "miscalibration_plain",
    "discover_tail_share",
    "discover_tail_recall",
    "discover_tail_recall_popular",
    "discover_tail_users",
    "dislike_hits",
    "dislike_recall",
    "dislike_hits_plain",
    "dislike_recall_plain",
    "dislike_users",
)
SHORT_K = 10  # calibration and discover are judged on the top 10
DISLIKE_MAX = 2.0  # a rating at or below this is a dislike
MIN_DISLIKES = 2


@dataclass(frozen=True)
class Case:
    """One held-out user: the likes folded in and the likes to find."""

    fold_in: np.ndarray
    targets: np.ndarray


@dataclass(frozen=True)
class DislikeCase:
    """A held-out user with dislikes: likes folded in / to find, dislikes folded in / hidden."""

    fold_in: np.ndarray
    targets: np.ndarray
    dislikes: np.ndarray
    hidden_dislikes: np.ndarray


@dataclass(frozen=True)
class Split:
    """One seed's split: training ratings and the held-out cases of every variant."""

    train: pd.DataFrame
    standard: list[Case]
    new_chat: list[Case]
    dislike: list[DislikeCase] = field(default_factory=list)


@dataclass
class Metrics:
    """Recall@K and NDCG@K averaged over cases."""

    recall: float
    ndcg: float
    users: int


@dataclass
class SeedResult:
    """Everything measured on one seed (``model``: the default ranking; ``plain``: plain ALS)."""

    seed: int
    model: Metrics
    popular: Metrics
    new_chat_model: Metrics
    new_chat_popular: Metrics
    low_support_share: float
    similar_precision: float
    train_seconds: float
    plain: Metrics | None = None
    new_chat_plain: Metrics | None = None
    extras: dict[str, float] = field(default_factory=dict)


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
    dislike = _dislike_cases(ratings.loc[is_held], release, held, by_user, seed)
    return Split(train=ratings.loc[~is_held], standard=standard, new_chat=new_chat, dislike=dislike)


def _dislike_cases(
    held_ratings: pd.DataFrame,
    release: Release,
    held: np.ndarray,
    likes_by_user: pd.Series,
    seed: int,
) -> list[DislikeCase]:
    """Held-out users with ≥ 5 likes and ≥ 2 dislikes: 80% of likes, half the dislikes in.

    Drawn from a generator of their own, so the other variants' cases do not depend on them.
    """
    rng = np.random.default_rng([seed, 13])
    bad = held_ratings.loc[held_ratings["rating"] <= DISLIKE_MAX, ["user_id", "movie_id"]]
    liked_pairs = likes_of(held_ratings, release.like_threshold)
    bad = bad.loc[
        ~bad.set_index(["user_id", "movie_id"]).index.isin(
            liked_pairs.set_index(["user_id", "movie_id"]).index
        )
    ]
    bad_by_user = bad.groupby("user_id")["movie_id"].apply(
        lambda s: np.unique(s.to_numpy(np.int64))
    )
    cases: list[DislikeCase] = []
    for user in held:
        liked = likes_by_user.get(user)
        disliked = bad_by_user.get(user)
        if liked is None or disliked is None:
            continue
        if liked.size < MIN_LIKES or disliked.size < MIN_DISLIKES:
            continue
        perm = rng.permutation(liked)
        n_fold = round(FOLD_IN_SHARE * liked.size)
        dperm = rng.permutation(disliked)
        n_dis = disliked.size // 2
        cases.append(
            DislikeCase(
                np.sort(perm[:n_fold]),
                np.sort(perm[n_fold:]),
                np.sort(dperm[:n_dis]),
                np.sort(dperm[n_dis:]),
            )
        )
    return cases


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


def _lists(rec: Recommender, cases: Sequence[Case], k: int, **kwargs: Any) -> np.ndarray:
    """Top-k movieIds per case through :meth:`Recommender.recommend` (padded with -1)."""
    out = np.full((len(cases), k), -1, dtype=np.int64)
    for i, case in enumerate(cases):
        ids = [r.movie_id for r in rec.recommend(case.fold_in.tolist(), k, **kwargs).items]
        out[i, : len(ids)] = ids
    return out


def mean_miscalibration(rec: Recommender, cases: Sequence[Case], lists: np.ndarray) -> float:
    """Mean C_KL between the genres of each case's folded-in likes and of its list's top 10."""
    genres = rec.features.genres
    values = []
    for case, row in zip(cases, lists, strict=True):
        fav = rec.items.columns(case.fold_in)
        top = rec.items.columns(row[:SHORT_K][row[:SHORT_K] >= 0])
        p = genre_distribution(genres[fav[fav >= 0]])
        if not p.any() or top.size == 0:
            continue
        values.append(miscalibration(p, genre_distribution(genres[top[top >= 0]])))
    return float(np.mean(values)) if values else float("nan")


def discover_figures(rec: Recommender, cases: Sequence[Case]) -> dict[str, float]:
    """Tail share and tail Recall@10 of the discover list, and of the most-liked tail movies."""
    tail_cols = np.flatnonzero(rec.features.tail)
    head_ids = set(rec.items.item_ids[~rec.features.tail].tolist())
    by_likes = tail_cols[np.lexsort((rec.items.item_ids[tail_cols], -rec.support[tail_cols]))]
    popular_tail = rec.items.item_ids[by_likes]
    shares: list[float] = []
    recalls: list[float] = []
    popular_recalls: list[float] = []
    lists = _lists(rec, cases, SHORT_K, discover=True)
    for case, row in zip(cases, lists, strict=True):
        shown = [m for m in row.tolist() if m >= 0]
        if shown:
            shares.append(sum(m not in head_ids for m in shown) / len(shown))
        tail_targets = {m for m in case.targets.tolist() if m not in head_ids}
        if not tail_targets:
            continue
        ideal = min(SHORT_K, len(tail_targets))
        recalls.append(sum(m in tail_targets for m in shown) / ideal)
        fold = set(case.fold_in.tolist())
        baseline = [m for m in popular_tail[: SHORT_K + len(fold)].tolist() if m not in fold]
        popular_recalls.append(sum(m in tail_targets for m in baseline[:SHORT_K]) / ideal)
    return {
        "discover_tail_share": _mean(shares),
        "discover_tail_recall": _mean(recalls),
        "discover_tail_recall_popular": _mean(popular_recalls),
        "discover_tail_users": float(len(recalls)),
    }


def dislike_figures(rec: Recommender, cases: Sequence[DislikeCase], k: int = K) -> dict[str, float]:
    """Hidden dislikes in the top k and Recall@k, with half the dislikes folded in and without."""
    out: dict[str, list[float]] = {
        "dislike_hits": [],
        "dislike_recall": [],
        "dislike_hits_plain": [],
        "dislike_recall_plain": [],
    }
    for case in cases:
        hidden = set(case.hidden_dislikes.tolist())
        targets = set(case.targets.tolist())
        ideal = min(k, len(targets))
        for suffix, dislikes in (("", case.dislikes.tolist()), ("_plain", [])):
            got = [
                r.movie_id for r in rec.recommend(case.fold_in.tolist(), k, dislikes=dislikes).items
            ]
            out["dislike_hits" + suffix].append(sum(m in hidden for m in got) / len(hidden))
            out["dislike_recall" + suffix].append(sum(m in targets for m in got) / ideal)
    figures = {name: _mean(values) for name, values in out.items()}
    figures["dislike_users"] = float(len(cases))
    return figures


Fit = Callable[[pd.DataFrame, Release, TrainConfig, int], TrainedModel]


def _fit(train: pd.DataFrame, release: Release, config: TrainConfig, num_threads: int) -> Any:
    return fit_model(train, release, config, num_threads=num_threads)


def evaluate_seed(
    ratings: pd.DataFrame,
    release: Release,
    config: TrainConfig,
    seed: int,
    *,
    k: int = K,
    num_threads: int = 0,
    catalog: pd.DataFrame | None = None,
    fit: Fit | None = None,
) -> SeedResult:
    """Train on one seed's training users and measure every variant and the baseline.

    ``catalog`` gives the genres, years and titles the re-ranking steps use (without it there is
    no calibration and no series). ``fit`` replaces :func:`fit_model` (a cache, for tuning).
    """
    if config.algorithm == "ease":
        return evaluate_ease_seed(ratings, release, config, seed, k=k)
    split = split_users(ratings, release, seed)
    trained = (fit or _fit)(split.train, release, config, num_threads)
    rec = Recommender.from_trained(trained, release, catalog)
    results: dict[str, Metrics] = {}
    lists: dict[str, np.ndarray] = {}
    for name, cases in (("standard", split.standard), ("new_chat", split.new_chat)):
        plain, _ = rec.recommend_batch([c.fold_in for c in cases], k)
        lists[name + "_plain"] = plain
        lists[name] = _lists(rec, cases, k)
        results[name] = ranking_metrics(lists[name], cases, k)
        results[name + "_plain"] = ranking_metrics(plain, cases, k)
        results[name + "_pop"] = ranking_metrics(
            popular_baseline(split.train, release, cases, k), cases, k
        )
    extras = {
        "miscalibration": mean_miscalibration(rec, split.standard, lists["standard"]),
        "miscalibration_plain": mean_miscalibration(rec, split.standard, lists["standard_plain"]),
        **discover_figures(rec, split.standard),
        **dislike_figures(rec, split.dislike, k),
    }
    return SeedResult(
        seed=seed,
        model=results["standard"],
        popular=results["standard_pop"],
        new_chat_model=results["new_chat"],
        new_chat_popular=results["new_chat_pop"],
        low_support_share=low_support_share(rec),
        similar_precision=similar_precision(rec, split.standard, seed),
        train_seconds=trained.seconds,
        plain=results["standard_plain"],
        new_chat_plain=results["new_chat_plain"],
        extras=extras,
    )


def evaluate_ease_seed(
    ratings: pd.DataFrame, release: Release, config: TrainConfig, seed: int, *, k: int = K
) -> SeedResult:
    """The same protocol with EASE as the scorer (the plain ranking; no serving extras)."""
    split = split_users(ratings, release, seed)
    start = time.perf_counter()
    threshold = release.like_threshold if config.threshold is None else config.threshold
    interactions = build_interactions(split.train, threshold)
    scorer = EaseScorer(fit_ease(interactions.matrix, config.ease_regularization))
    seconds = time.perf_counter() - start
    items = interactions.items
    results: dict[str, Metrics] = {}
    for name, cases in (("standard", split.standard), ("new_chat", split.new_chat)):
        columns = [items.columns(c.fold_in) for c in cases]
        ids, _ = scorer.recommend(rows_from_columns([c[c >= 0] for c in columns], len(items)), k)
        lists = np.where(ids >= 0, items.item_ids[np.maximum(ids, 0)], -1)
        popular = popular_baseline(split.train, release, cases, k)
        cold = np.array([c[c >= 0].size == 0 for c in columns], dtype=bool)
        lists[cold] = popular[cold]  # nothing known: the most popular, as ALS serves it
        results[name] = ranking_metrics(lists, cases, k)
        results[name + "_pop"] = ranking_metrics(popular, cases, k)
    return SeedResult(
        seed=seed,
        model=results["standard"],
        popular=results["standard_pop"],
        new_chat_model=results["new_chat"],
        new_chat_popular=results["new_chat_pop"],
        low_support_share=float("nan"),
        similar_precision=float("nan"),
        train_seconds=seconds,
        plain=results["standard"],
        new_chat_plain=results["new_chat"],
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
    catalog: pd.DataFrame | None = None,
    fit: Fit | None = None,
) -> Report:
    """Run :func:`evaluate_seed` for every seed and average the figures."""
    start = time.perf_counter()
    results = []
    for seed in seeds:
        result = evaluate_seed(
            ratings,
            release,
            config,
            seed,
            k=k,
            num_threads=num_threads,
            catalog=catalog,
            fit=fit,
        )
        results.append(result)
        if on_seed is not None:
            on_seed(result)
    mean = {
        "recall": _mean(r.model.recall for r in results),
        "ndcg": _mean(r.model.ndcg for r in results),
        "recall_plain": _mean(r.plain.recall for r in results if r.plain),
        "ndcg_plain": _mean(r.plain.ndcg for r in results if r.plain),
        "popular_recall": _mean(r.popular.recall for r in results),
        "popular_ndcg": _mean(r.popular.ndcg for r in results),
        "new_chat_recall": _mean(r.new_chat_model.recall for r in results),
        "new_chat_ndcg": _mean(r.new_chat_model.ndcg for r in results),
        "new_chat_recall_plain": _mean(
            r.new_chat_plain.recall for r in results if r.new_chat_plain
        ),
        "new_chat_popular_recall": _mean(r.new_chat_popular.recall for r in results),
        "new_chat_popular_ndcg": _mean(r.new_chat_popular.ndcg for r in results),
        "low_support_share": _mean(r.low_support_share for r in results),
        "similar_precision": _mean(r.similar_precision for r in results),
        "users": _mean(r.model.users for r in results),
        "new_chat_users": _mean(r.new_chat_model.users for r in results),
        **{name: _mean(r.extras.get(name, float("nan")) for r in results) for name in EXTRA_KEYS},
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
