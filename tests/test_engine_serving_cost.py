"""The serving shortcuts of session 6 give exactly what the straightforward computation gives.

Each shortcut (caches per filter, a dict for the id lookup, fewer numpy calls in the greedy
calibration, ...) is held here to a plain version of the same computation, list for list, on
small random cases where the plain version is obviously right, and on the real ml-latest-small.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import recsys.dislike as dislike
from recsys.engine import FilterError, Filters, Recommender, _best
from recsys.rerank import (
    CALIBRATION_ALPHA,
    Calibrate,
    Context,
    ItemFeatures,
    Ranking,
    SeriesCap,
    rerank,
)


def _plain_calibrate(weight: float, ranking: Ranking, context: Context, n: int) -> list[int]:
    """Steck's greedy step as it was first written: one place at a time, nothing reused."""
    p = context.target
    assert p is not None
    on = np.flatnonzero(p > 0)
    m = len(ranking)
    genres = context.items.genres[ranking.columns][:, on]
    scores = ranking.scores.astype(np.float32)
    if float(scores[0]) > 0:
        scores = scores / np.float32(scores[0])
    gain = np.float32(1 - weight) * scores
    target = p[on].astype(np.float32) * np.float32(weight)
    smooth = np.float32(CALIBRATION_ALPHA) * p[on].astype(np.float32)
    acc = np.zeros(on.size, dtype=np.float32)
    chosen: list[int] = []
    for k in range(min(n, m)):
        scale = np.float32((1 - CALIBRATION_ALPHA) / (k + 1))
        q = genres * scale + (acc * scale + smooth)
        objective = np.log(q) @ target + gain
        best = int(objective.argmax())
        gain[best] = -np.inf
        chosen.append(best)
        acc += genres[best]
    return chosen + [i for i in range(m) if i not in chosen]


def test_calibration_is_the_plain_greedy_step_exactly() -> None:
    rng = np.random.default_rng(6)
    for case in range(300):
        m = int(rng.integers(2, 40))
        n_genres = int(rng.integers(1, 8))
        genres = rng.random((m, n_genres)) * (rng.random((m, n_genres)) < 0.4)
        genres[rng.random(m) < 0.1] = 0.0  # movies without genres
        sums = genres.sum(axis=1, keepdims=True)
        genres = np.where(sums > 0, genres / np.where(sums > 0, sums, 1), 0).astype(np.float32)
        p = rng.random(n_genres) * (rng.random(n_genres) < 0.7)
        if not p.any():
            p[0] = 1.0
        p /= p.sum()
        scores = np.sort(rng.random(m).astype(np.float32))[::-1]
        if case % 7 == 0:
            scores[m // 2 :] = scores[m // 2]  # ties
        ranking = Ranking(rng.permutation(m).astype(np.int64), scores)
        table = np.zeros((m, n_genres), dtype=np.float32)
        table[ranking.columns] = genres  # the i-th ranked movie has the i-th row
        features = ItemFeatures(
            genres=table, series=np.full(m, -1, dtype=np.int64), tail=np.zeros(m, dtype=bool)
        )
        context = Context(features, target=p)
        weight = float(rng.choice([0.2, 0.35, 0.5, 0.9]))
        n = int(rng.integers(1, 12))
        got = Calibrate(weight)(ranking, context, n)
        want = _plain_calibrate(weight, ranking, context, n)
        assert got.columns.tolist() == ranking.columns[want].tolist(), case
        assert got.scores.tolist() == ranking.scores[want].tolist()


def test_the_filter_cache_never_lets_a_bad_filter_through(recommender: Recommender) -> None:
    rec = recommender
    good = Filters(genres=frozenset({"comedy"}), year_min=1990, year_max=1999)
    first = rec.check_filters(good)
    assert first is not None
    assert first.genres == {"Comedy"}
    assert (
        rec.check_filters(Filters(genres=frozenset({"comedy"}), year_min=1990, year_max=1999))
        is first
    )
    # equal to the cached key (1990.0 == 1990, same hash) yet not a whole number: still an error
    with pytest.raises(FilterError, match="whole number"):
        rec.check_filters(Filters(genres=frozenset({"comedy"}), year_min=1990.0, year_max=1999))  # type: ignore[arg-type]
    # unhashable field values are validated, never cached, and work
    listed = rec.check_filters(Filters(genres=["comedy"]))  # type: ignore[arg-type]
    assert listed is not None
    assert listed.genres == {"Comedy"}
    with pytest.raises(FilterError, match="Unknown genre"):
        rec.check_filters(Filters(genres=frozenset({"Bollywood"})))
    with pytest.raises(FilterError, match="Unknown genre"):  # an error is never cached
        rec.check_filters(Filters(genres=frozenset({"Bollywood"})))


def test_cached_filters_give_the_same_lists(trained_model_path: Path) -> None:
    fresh = Recommender.load(trained_model_path)
    rng = np.random.default_rng(13)
    known = fresh.items.item_ids
    requests = [rng.choice(known, 30, replace=False).tolist() for _ in range(12)]
    filters = [
        Filters(genres=frozenset({"Drama"})),
        Filters(exclude_genres=frozenset({"Comedy"}), year_min=1980),
        Filters(),
        Filters(recent=True),
    ]

    def lists() -> list[object]:
        return [
            fresh.recommend(
                ids[:5], n=10, dislikes=ids[5:10], seen=ids[10:], filters=filters[i % 4]
            ).items
            for i, ids in enumerate(requests)
        ]

    cold = lists()  # each filter seen for the first time on its first request
    assert lists() == cold  # every filter cached


def test_the_id_lookup_matches_the_binary_search(recommender: Recommender) -> None:
    rec = recommender
    rng = np.random.default_rng(2)
    known = rec.items.item_ids
    ids = [*rng.choice(known, 50).tolist(), -1, 0, 10**6, 2**63 - 1, 2**63, -(2**63), 10**30]
    rng.shuffle(ids)
    got = rec._columns(ids)
    fits = [i if -(2**63) <= i < 2**63 else -1 for i in ids]
    want = rec.items.columns(np.asarray(fits, dtype=np.int64))
    want[[i != f for i, f in zip(ids, fits, strict=True)]] = -1
    assert got.dtype == np.int64
    assert got.tolist() == want.tolist()
    assert rec._columns(known.tolist()).tolist() == list(range(rec.n_items))  # the long path


def _plain_best(columns: np.ndarray, scores: np.ndarray, n: int) -> list[int]:
    """The ``n`` best finite scores, best first, ties by lower column: a Python sort."""
    finite = [(-float(s), int(c)) for c, s in zip(columns, scores, strict=True) if np.isfinite(s)]
    return [c for _, c in sorted(finite)[:n]]


@pytest.mark.parametrize("size", [1, 7, 30, 120, 256, 257, 1437])
def test_best_is_the_sorted_top_ties_by_column(size: int) -> None:
    rng = np.random.default_rng(size)
    for _ in range(40):
        columns = np.sort(rng.choice(10 * size + 10, size, replace=False)).astype(np.int64)
        columns = rng.permutation(columns)  # a pool's columns need not be sorted
        scores = rng.integers(0, 5 if size <= 256 else 10**6, size).astype(np.float32)
        scores[rng.random(size) < 0.2] = -np.inf  # filtered out
        if size > 3:
            scores[0] = np.nan  # never ranked
        for n in (1, 10, 30):
            got = _best(columns, scores, n)
            if size > 256:  # argpartition picks any of the ties at the cut: compare above it
                want = _plain_best(columns, scores, size)
                cut = got.scores[-1] if len(got) else np.inf
                assert [c for c in got.columns.tolist() if scores[columns == c][0] > cut] == [
                    c for c in want[:n] if scores[columns == c][0] > cut
                ]
                assert len(got) == min(n, len(want))
            else:  # ties by lower column everywhere
                assert got.columns.tolist() == _plain_best(columns, scores, n)
            assert got.scores.dtype == np.float32
            assert np.all(np.isfinite(got.scores))


def test_because_is_the_plain_order_of_shares(recommender: Recommender) -> None:
    rng = np.random.default_rng(4)
    liked = np.array([3, 9, 1, 7, 5], dtype=np.int64)

    class Fold:  # what _because reads of a FoldIn
        def __init__(self, shares: np.ndarray) -> None:
            self.liked = liked
            self.shares = shares

        def contributions(self, columns: np.ndarray) -> np.ndarray:
            return self.shares

    names = recommender.items.item_ids[liked].tolist()
    for _ in range(50):
        shares = rng.integers(-2, 3, (5, 10)).astype(np.float32)  # ties, zeros, negatives
        got = recommender._because(Fold(shares), liked, np.arange(10))  # type: ignore[arg-type]
        for k, reasons in enumerate(got):
            column = shares[:, k].tolist()
            order = sorted(range(5), key=lambda j: -column[j])  # stable: favorites' order
            assert reasons == tuple(names[j] for j in order[:3] if column[j] > 0)


def test_the_chats_pair_rows_in_one_gather_are_the_three_gathers(
    recommender: Recommender,
) -> None:
    view = recommender._pool_signal
    assert view is not None
    assert view.dense is not None
    assert view.row_of is not None
    assert view.prior_row is not None
    rng = np.random.default_rng(8)
    for n_fav, n_dis in [(1, 1), (5, 5), (3, 12), (20, 2)]:
        for _ in range(10):
            cols = rng.choice(recommender.n_items, n_fav + n_dis, replace=False)
            fav, dis = cols[:n_fav], cols[n_fav:]
            at = np.concatenate([view.row_of[1, fav], view.row_of[2, dis], view.prior_row])
            coefficients = np.concatenate(
                [np.full(n_fav, 1 / n_fav), np.full(n_dis, 1 / n_dis), [1.0]]
            ).astype(np.float32)
            want = coefficients @ view.dense[at]
            w = dislike.WEIGHTS
            for weight, rows in (
                (w["knn_favorite_max"], view.dense[view.row_of[0, fav]]),
                (w["knn_disliked_max"], view.dense[view.row_of[3, dis]]),
            ):
                want += rows.min(axis=0) if weight < 0 else rows.max(axis=0)
            assert view.pairs(fav, dis).tobytes() == want.tobytes()  # bit for bit


@pytest.mark.parametrize("n", [-1, 0, 3, 10, 50])
def test_rerank_keeps_the_first_n(n: int) -> None:
    ranking = Ranking(np.arange(20, dtype=np.int64), np.linspace(1, 0, 20).astype(np.float32))
    context = Context(
        ItemFeatures(
            genres=np.zeros((20, 1), dtype=np.float32),
            series=np.full(20, -1, dtype=np.int64),
            tail=np.zeros(20, dtype=bool),
        )
    )
    out = rerank(ranking, [SeriesCap(3)], context, n)
    assert out.columns.tolist() == list(range(min(max(n, 0), 20)))
    assert out.scores.tolist() == ranking.scores[: max(n, 0)].tolist()
    empty = Ranking(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    assert len(rerank(empty, [SeriesCap(3)], context, n)) == 0
