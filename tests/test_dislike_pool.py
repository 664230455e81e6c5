"""The pool view of the dislike statistics and the pruned steering, on the real ml-latest-small.

``_Steering.pool_best`` computes the costly part of the dislike signal (the factor cosines) only
for the candidates that can still reach the top; these tests hold it to the whole-pool
computation on real requests, the second pass included.
"""

from __future__ import annotations

import numpy as np
import pytest

import recsys.dislike as dislike
import recsys.engine as engine
from recsys.dislike import PoolSignal
from recsys.engine import Filters, Recommender, _best


def _requests(rec: Recommender, count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(favorite columns, disliked columns): half among the 1,500 most-liked movies."""
    rng = np.random.default_rng(seed)
    popular = np.argsort(-rec.support, kind="stable")[:1500]
    out = []
    for i in range(count):
        source = popular if i % 2 else np.arange(rec.n_items)
        cols = rng.choice(source, 10, replace=False)
        out.append((cols[:5], cols[5:]))
    return out


def _steering(rec: Recommender, fav: np.ndarray, dis: np.ndarray) -> tuple[np.ndarray, object]:
    """The pool scores of the request (chat's movies excluded) and its steering."""
    pool = rec._pool
    scores = pool.factors @ rec._fold_in(fav, dis).user
    pos = pool.position[np.concatenate([fav, dis])]
    scores[pos[pos >= 0]] = -np.inf
    steer = rec._steering(fav, dis)
    assert steer is not None
    return scores, steer


@pytest.mark.parametrize("depth", [engine.STEER_DEPTH, 30])
def test_pruned_steering_gives_the_whole_pools_best(
    recommender: Recommender, monkeypatch: pytest.MonkeyPatch, depth: int
) -> None:
    assert recommender._pool_signal is not None
    monkeypatch.setattr(engine, "STEER_DEPTH", depth)
    columns = recommender._pool.columns
    second_passes = 0
    for fav, dis in _requests(recommender, 120, seed=depth):
        scores, steer = _steering(recommender, fav, dis)
        whole = _best(columns, steer.apply(columns, scores), 30)  # type: ignore[attr-defined]
        at, steered = steer.pool_best(scores, 30)  # type: ignore[attr-defined]
        pruned = _best(columns[at], steered, 30)
        np.testing.assert_array_equal(pruned.columns, whole.columns)
        np.testing.assert_allclose(pruned.scores, whole.scores, rtol=1e-6, atol=1e-6)
        second_passes += at.size > max(depth, 30)
    assert second_passes > 0  # the certificate was needed, and held


def test_recommend_with_dislikes_is_unchanged_by_the_pruning(
    recommender: Recommender, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = recommender.items.item_ids
    requests = _requests(recommender, 40, seed=7)
    # no filter, a broad one, and one that leaves fewer candidates than STEER_DEPTH
    filters = [
        None,
        Filters(genres=frozenset({"Comedy"})),
        Filters(genres=frozenset({"Film-Noir"})),
    ]

    def lists() -> list[list[int]]:
        return [
            [
                r.movie_id
                for r in recommender.recommend(
                    ids[f], n=10, dislikes=ids[d], filters=filters[i % 3]
                ).items
            ]
            for i, (f, d) in enumerate(requests)
        ]

    pruned = lists()

    def whole(self: engine._Steering, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        return np.arange(scores.size), self.apply(self.pool.columns, scores)  # type: ignore[union-attr]

    monkeypatch.setattr(engine._Steering, "pool_best", whole)
    assert lists() == pruned


def test_the_cosines_floor_holds_for_any_chat(recommender: Recommender) -> None:
    view = recommender._pool_signal
    assert view is not None
    unit = recommender._similar.unit_factors
    everything = np.arange(view.columns.size)
    position = recommender._pool.position
    for fav, dis in _requests(recommender, 50, seed=3):
        part = view.cosines(fav, dis, unit, everything)
        own = position[np.concatenate([fav, dis])]
        ok = part >= 0  # the cosines' part above its floor
        ok[own[own >= 0]] = True  # the chat's own movies are never candidates
        assert ok.all()
    # and not a trivial one: tighter than the ±1 range of a cosine
    weights = abs(dislike.WEIGHTS["cos_favorite"]) + abs(dislike.WEIGHTS["cos_disliked"])
    assert float(np.median(view.cosine_bound)) > -weights / 2


def test_dense_rows_and_the_loop_over_pairs_agree(
    recommender: Recommender, monkeypatch: pytest.MonkeyPatch
) -> None:
    stats = recommender._dislike
    assert stats is not None
    unit = recommender._similar.unit_factors
    columns = recommender._pool.columns
    dense = PoolSignal.build(stats, columns, unit)
    monkeypatch.setattr(dislike, "DENSE_MAX_BYTES", 0)
    loop = PoolSignal.build(stats, columns, unit)
    assert dense.dense is not None
    assert loop.dense is None
    for fav, dis in _requests(recommender, 30, seed=5):
        reference = stats.signal(fav, dis, unit, columns)
        np.testing.assert_allclose(dense.signal(fav, dis, unit), reference, atol=1e-5)
        np.testing.assert_allclose(loop.signal(fav, dis, unit), reference, atol=1e-5)
