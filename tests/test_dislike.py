"""Dislike statistics (recsys.dislike) and the steering they give recommend, on synthetic data.

The synthetic release: 10 users (group X) liked F, disliked A and B, liked C; 10 users (Y) liked
F, A and B and disliked C; 6 users (Z) liked F and B only. So B has more likes than C, and a chat
that disliked A should see C before B (those who disliked A disliked B, not C).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.artifact import ArtifactError, load_artifact, save_artifact
from recsys.defaults import TrainConfig
from recsys.dislike import WEIGHTS, DislikeStats, PoolSignal, fit_dislike_stats
from recsys.engine import Recommender, fit_model, make_artifact
from recsys.matrix import ItemIndex
from recsys.movielens import get_release

A, B, C, F, RARE = 1, 2, 3, 4, 5


def _ratings() -> pd.DataFrame:
    rows: list[tuple[int, int, float]] = []
    for u in range(10):  # X: disliked A and B, liked C
        rows += [(u, F, 5.0), (u, A, 1.0), (u, B, 1.0), (u, C, 4.5)]
    for u in range(10, 20):  # Y: liked A and B, disliked C
        rows += [(u, F, 5.0), (u, A, 4.0), (u, B, 4.5), (u, C, 1.0)]
    for u in range(20, 26):  # Z: liked F and B
        rows += [(u, F, 4.0), (u, B, 5.0)]
    rows += [(0, RARE, 4.0), (10, RARE, 2.0)]  # rated by two users only
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "rating"])


def _stats(min_corated: int = 3) -> tuple[DislikeStats, ItemIndex]:
    items = ItemIndex(np.array([A, B, C, F, RARE], dtype=np.int64))
    everything = np.ones(len(items), dtype=bool)
    return fit_dislike_stats(_ratings(), items, 4.0, everything, min_corated=min_corated), items


def _pair(stats: DislikeStats, row: int, col: int, values: np.ndarray) -> float | None:
    lo, hi = int(stats.indptr[row]), int(stats.indptr[row + 1])
    hit = np.flatnonzero(stats.indices[lo:hi] == col)
    return float(values[lo + hit[0]]) if hit.size else None


def test_co_dislikers_of_a_push_b_down_not_c() -> None:
    stats, items = _stats()
    a, b, c, f = (int(x) for x in items.columns(np.array([A, B, C, F])))
    codis_b, codis_c = _pair(stats, a, b, stats.codis), _pair(stats, a, c, stats.codis)
    assert codis_b is not None
    assert codis_c is not None
    assert codis_b > 0 > codis_c  # those who disliked A disliked B, and liked C
    knn_b, knn_c = _pair(stats, a, b, stats.knn), _pair(stats, a, c, stats.knn)
    assert knn_b is not None
    assert knn_c is not None
    assert knn_b > 0 > knn_c  # A and B are rated high or low together; A and C oppositely
    unit = np.ones((len(items), 2), dtype=np.float32) / np.sqrt(2)  # cosine says nothing
    signal = stats.signal(np.array([f]), np.array([a]), unit, np.array([b, c]))
    assert signal[0] > signal[1]
    # no dislikes (or no favorites): no signal
    assert not stats.signal(np.array([f]), np.array([], dtype=np.int64), unit, np.array([b])).any()
    assert set(stats.features(np.array([f]), np.array([a]), unit, np.array([b]))) == set(WEIGHTS)


def test_adjusted_cosine_and_prior_by_hand() -> None:
    stats, items = _stats()
    ratings = _ratings()
    centred = ratings["rating"] - ratings.groupby("user_id")["rating"].transform("mean")
    z = pd.Series(centred.to_numpy(), index=[ratings["user_id"], ratings["movie_id"]]).unstack()
    za, zb = z[A].fillna(0), z[B].fillna(0)
    both = int((z[A].notna() & z[B].notna()).sum())
    expected = (za * zb).sum() / np.sqrt((za**2).sum() * (zb**2).sum()) * both / (both + 20)
    a, b, c = (int(x) for x in items.columns(np.array([A, B, C])))
    assert _pair(stats, a, b, stats.knn) == pytest.approx(expected, rel=1e-3)  # stored as float16
    # C: 10 dislikes in 20 ratings, B: 10 in 23 -> C is disliked more often by its raters
    assert stats.prior[c] > stats.prior[b]
    # the diagonal and pairs rated together by fewer than min_corated users are absent
    rare = int(items.columns(np.array([RARE]))[0])
    assert _pair(stats, a, a, stats.knn) is None
    assert stats.indptr[rare + 1] == stats.indptr[rare]
    assert _pair(stats, a, rare, stats.knn) is None
    loose, _ = _stats(min_corated=1)
    assert _pair(loose, a, rare, loose.knn) is not None


def _recommender(**changes: object) -> Recommender:
    release = get_release("ml-latest-small")  # a half-star release: likes are ratings ≥ 3.5
    config = TrainConfig(
        factors=4, regularization=0.1, iterations=10, dislike_confidence=0, dislike_min_corated=3
    )
    trained = fit_model(_ratings(), release, config.with_(**changes))
    return Recommender.from_trained(trained, release)


def _order(rec: Recommender, dislikes: list[int]) -> list[int]:
    items = rec.recommend([F], n=5, dislikes=dislikes, rerank=False).items
    return [i.movie_id for i in items]


def _shown(rec: Recommender, dislikes: list[int]) -> dict[int, float]:
    """The scores shown with the items."""
    items = rec.recommend([F], n=5, dislikes=dislikes, rerank=False).items
    return {i.movie_id: i.score for i in items}


def test_recommend_steers_by_the_dislike_statistics() -> None:
    off = _recommender(dislike_signal=0.0)
    on = _recommender(dislike_signal=2.0)
    assert off.knows(B)
    assert off.knows(C)
    without = _order(off, [A])
    assert without.index(B) < without.index(C)  # B has more likes
    steered = _order(on, [A])
    assert steered.index(C) < steered.index(B)  # A's co-dislikers disliked B
    # the items show the fold-in's scores (what `why` explains), not the steered ones
    assert _shown(on, [A]) == pytest.approx(_shown(off, [A]))
    rank_b, rank_c = (on.why(m, [F], dislikes=[A]).rank for m in (B, C))
    assert rank_b is not None
    assert rank_c is not None
    assert rank_c < rank_b  # why ranks as recommend does
    assert A not in steered
    # no dislikes: the statistics change nothing
    assert _order(on, []) == _order(off, [])


def test_artifact_keeps_the_statistics_and_loads_without_them(tmp_path: Path) -> None:
    release = get_release("ml-latest-small")
    config = TrainConfig(
        factors=4, iterations=5, dislike_signal=2.0, dislike_confidence=0, dislike_min_corated=3
    )
    trained = fit_model(_ratings(), release, config)
    assert trained.dislike is not None
    catalog = pd.DataFrame(
        {
            "title": [f"Movie {m}" for m in (A, B, C, F, RARE)],
            "name": [f"Movie {m}" for m in (A, B, C, F, RARE)],
            "year": pd.array([2000] * 5, dtype="Int32"),
            "genres": ["Drama"] * 5,
            "imdb_id": pd.array([None] * 5, dtype="Int64"),
            "tmdb_id": pd.array([None] * 5, dtype="Int64"),
            "imdb_search": [None] * 5,
            "likes": [10] * 5,
        },
        index=pd.Index([A, B, C, F, RARE], name="movie_id"),
    )
    path = save_artifact(make_artifact(trained, catalog, release), tmp_path / "model")
    loaded = load_artifact(path)
    assert loaded.dislike is not None
    for name, array in trained.dislike.arrays().items():
        np.testing.assert_array_equal(loaded.dislike.arrays()[name], array)
    steered = _order(Recommender(loaded), [A])
    assert steered.index(C) < steered.index(B)

    older = replace(trained, dislike=None)  # an artifact from before the statistics
    old_path = save_artifact(make_artifact(older, catalog, release), tmp_path / "old")
    old = Recommender.load(old_path)
    assert load_artifact(old_path).dislike is None
    assert A not in _order(old, [A])  # dislikes still excluded, only without this steering

    with np.load(path / "model.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["dislike_indptr"] = arrays["dislike_indptr"][:-1]
    np.savez(path / "model.npz", **arrays)
    with pytest.raises(ArtifactError, match="dislike statistics"):
        load_artifact(path, verify=False)


def test_the_pool_view_gives_the_weighted_sum_of_the_features() -> None:
    stats, items = _stats(min_corated=1)
    rng = np.random.default_rng(0)
    unit = rng.standard_normal((len(items), 3)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    a, b, c, f, rare = (int(x) for x in items.columns(np.array([A, B, C, F, RARE])))
    pool = np.array([b, c, f])  # the pairs towards RARE and A are outside the pool: dropped
    view = PoolSignal.build(stats, pool, unit)
    assert view.indices.size < stats.indices.size
    for favorites, disliked in (([f], [a]), ([f, c], [a, rare]), ([rare], [a]), ([b], [c])):
        fav, dis = np.array(favorites), np.array(disliked)
        feats = stats.features(fav, dis, unit, pool)
        expected = sum(WEIGHTS[name] * feats[name] for name in WEIGHTS)
        np.testing.assert_allclose(view.signal(fav, dis, unit), expected, atol=1e-5)
        np.testing.assert_allclose(stats.signal(fav, dis, unit, pool), expected, atol=1e-5)
    assert not view.signal(np.array([f]), np.array([], dtype=np.int64), unit).any()
