"""EASE, the second scorer: known answers on tiny data, the evaluation protocol on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from recsys.defaults import TrainConfig
from recsys.ease import EaseScorer, fit_ease
from recsys.evaluate import evaluate
from recsys.matrix import rows_from_columns
from recsys.movielens import get_release, load_ratings


def _blocks() -> csr_matrix:
    """20 users: the first 10 like items 0-4, the others items 5-9 (each misses one)."""
    dense = np.zeros((20, 10), dtype=np.float32)
    for u in range(20):
        block = range(0, 5) if u < 10 else range(5, 10)
        for i in block:
            if i != (u % 5) + (0 if u < 10 else 5):
                dense[u, i] = 1.0
    return csr_matrix(dense)


def test_ease_weights_solve_the_closed_form() -> None:
    x = _blocks()
    lam = 2.0
    weights = fit_ease(x, lam)
    gram = (x.T @ x).toarray().astype(np.float64) + lam * np.eye(10)
    p = np.linalg.inv(gram)
    expected = np.eye(10) - p / np.diag(p)[None, :]
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(weights, expected, atol=1e-4)
    assert np.all(np.diag(weights) == 0)


def test_ease_recommends_within_the_block_and_never_a_liked_item() -> None:
    scorer = EaseScorer(fit_ease(_blocks(), 1.0))
    ids, scores = scorer.recommend(rows_from_columns([[0, 1], [7], []], 10), 3)
    assert set(ids[0].tolist()) == {2, 3, 4}
    assert set(ids[1].tolist()) <= {5, 6, 8, 9}
    assert np.all(np.diff(scores[0]) <= 0)
    many, _ = scorer.recommend(rows_from_columns([list(range(9))], 10), 5)
    assert many[0].tolist() == [9, -1, -1, -1, -1]  # padded, never a liked item
    with pytest.raises(ValueError, match="columns"):
        scorer.recommend(rows_from_columns([[1]], 11), 3)


def test_ease_evaluates_on_the_same_protocol(movielens_dir: Path) -> None:
    release = get_release("ml-100k")
    ratings = load_ratings(movielens_dir / "ml-100k", release)
    config = TrainConfig(algorithm="ease", ease_regularization=500.0)
    m = evaluate(ratings, release, config, [0]).mean
    assert m["recall"] > m["popular_recall"] + 0.1
    assert m["recall"] == m["recall_plain"]
    assert m["users"] > 150
