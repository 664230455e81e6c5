"""The re-ranking steps on tiny data where the right order is known."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recsys.rerank import (
    AvoidDisliked,
    Calibrate,
    Context,
    GemQuota,
    ItemFeatures,
    Ranking,
    SeriesCap,
    genre_distribution,
    miscalibration,
    rerank,
)


def _features(genres: list[list[float]], series: list[int] | None = None) -> ItemFeatures:
    g = np.asarray(genres, dtype=np.float32)
    s = np.asarray(series if series is not None else [-1] * len(genres), dtype=np.int64)
    return ItemFeatures(genres=g, series=s, tail=np.zeros(len(genres), dtype=bool))


def _ranking(n: int) -> Ranking:
    return Ranking(np.arange(n, dtype=np.int64), np.linspace(1.0, 0.5, n).astype(np.float32))


def test_miscalibration_by_hand() -> None:
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([1.0, 0.0, 0.0])
    smoothed = np.array([0.99 * 1.0 + 0.01 * 0.5, 0.01 * 0.5])
    expected = 0.5 * np.log(0.5 / smoothed[0]) + 0.5 * np.log(0.5 / smoothed[1])
    assert miscalibration(p, q) == pytest.approx(expected)
    assert miscalibration(p, p) == pytest.approx(0.0, abs=1e-12)
    assert miscalibration(np.zeros(3), q) == 0.0


def test_genre_distribution_weights_each_movie_equally() -> None:
    genres = np.array([[1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
    assert genre_distribution(genres).tolist() == pytest.approx([0.75, 0.25])
    assert genre_distribution(genres[:0]).tolist() == [0.0, 0.0]


def test_calibration_brings_the_favorites_second_genre_up() -> None:
    # 20 candidates: the 15 best are genre A, the 5 last genre B; the favorites are half B
    genres = [[1.0, 0.0]] * 15 + [[0.0, 1.0]] * 5
    target = np.array([0.5, 0.5])
    context = Context(_features(genres), target=target)
    plain = rerank(_ranking(20), [], context, 10)
    calibrated = rerank(_ranking(20), [Calibrate(0.5)], context, 10)
    assert not set(plain.columns.tolist()) & set(range(15, 20))
    assert len(set(calibrated.columns.tolist()) & set(range(15, 20))) >= 2
    strong = rerank(_ranking(20), [Calibrate(0.9)], context, 10)
    assert len(set(strong.columns.tolist()) & set(range(15, 20))) >= 4  # close to half B
    q_plain = genre_distribution(context.items.genres[plain.columns])
    q_cal = genre_distribution(context.items.genres[calibrated.columns])
    assert miscalibration(target, q_cal) < miscalibration(target, q_plain)
    # weight 0 and no target change nothing; every movie is kept in the full ranking
    assert rerank(_ranking(20), [Calibrate(0.0)], context, 10).columns.tolist() == list(range(10))
    no_target = Context(context.items, None)
    assert Calibrate(0.9)(_ranking(20), no_target, 10).columns.tolist() == list(range(20))
    full = Calibrate(0.5)(_ranking(20), context, 10)
    assert sorted(full.columns.tolist()) == list(range(20))


def test_series_cap_keeps_three_per_ten_and_fills_the_list() -> None:
    series = [7] * 6 + [-1] * 10 + [8] * 4
    context = Context(_features([[1.0]] * 20, series))
    out = rerank(_ranking(20), [SeriesCap(3)], context, 10)
    assert len(out) == 10
    assert sum(c < 6 for c in out.columns.tolist()) == 3
    assert out.columns.tolist()[:3] == [0, 1, 2]  # the best three of the series keep their place
    twenty = rerank(_ranking(20), [SeriesCap(3)], context, 20)
    assert len(twenty) == 20  # a longer list allows 3 more per ten places
    assert sum(c < 6 for c in twenty.columns[:20].tolist()) == 6
    assert rerank(_ranking(20), [SeriesCap(0)], context, 10).columns.tolist() == list(range(10))


def test_gem_quota_pulls_up_just_enough_gems_in_order() -> None:
    gems = np.zeros(20, dtype=bool)
    gems[[3, 12, 15, 16, 18, 19]] = True
    context = Context(replace(_features([[1.0]] * 20), gems=gems))
    out = rerank(_ranking(20), [GemQuota(0.5)], context, 10)
    cols = out.columns.tolist()
    assert len(cols) == 10
    assert sum(gems[cols]) == 5  # at least half, no more than needed
    assert cols[:5] == [0, 1, 2, 3, 4]  # the best keep their place while the quota allows
    assert [c for c in cols if gems[c]] == [3, 12, 15, 16, 18]  # gems in score order
    assert [c for c in cols if not gems[c]] == [0, 1, 2, 4, 5]
    full = rerank(_ranking(20), [GemQuota(0.5)], context, 20)
    assert sorted(full.columns.tolist()) == list(range(20))  # nothing is dropped
    assert rerank(_ranking(20), [GemQuota(0)], context, 10).columns.tolist() == list(range(10))
    few = np.zeros(20, dtype=bool)
    few[[17]] = True  # fewer gems than the quota: all of them, the rest in order
    got = rerank(_ranking(20), [GemQuota(0.5)], Context(replace(context.items, gems=few)), 10)
    assert 17 in got.columns.tolist()
    assert len(got) == 10


def test_avoid_disliked_moves_down_what_resembles_a_dislike() -> None:
    series = [-1] * 8 + [4, 4]
    vectors = np.eye(10, dtype=np.float32)
    vectors[5] = vectors[9] * 0.9 + vectors[5] * 0.1  # item 5 looks like item 9 (disliked)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def similarity(column: int, columns: np.ndarray) -> np.ndarray:
        out: np.ndarray = unit[columns] @ unit[column]
        return out

    features = replace(_features([[1.0]] * 10, series), similarity=similarity)
    context = Context(features, disliked=np.array([9]))
    ranking = _ranking(9)  # items 0-8, best first; 9 is disliked (not a candidate)
    out = AvoidDisliked(1.0, threshold=0.5)(ranking, context, 5).columns.tolist()
    assert out[-2:] == [5, 8]  # near the dislike, and of the dislike's series
    assert out[:5] == [0, 1, 2, 3, 4]
    assert AvoidDisliked(0.0)(ranking, context, 5).columns.tolist() == list(range(9))
    no_dislikes = Context(features)
    assert AvoidDisliked(1.0)(ranking, no_dislikes, 5).columns.tolist() == list(range(9))
