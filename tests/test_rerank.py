"""The re-ranking steps on tiny data where the right order is known."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.rerank import (
    Calibrate,
    Context,
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
