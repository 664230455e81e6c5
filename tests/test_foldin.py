"""The fold-in's low-rank solve (Woodbury) against the ALS user equation solved directly."""

from __future__ import annotations

import numpy as np
import pytest

from recsys import als
from recsys.als import AlsParams, AlsScorer

FACTORS = 8


@pytest.fixture(scope="module")
def scorer() -> AlsScorer:
    rng = np.random.default_rng(7)
    factors = rng.normal(scale=0.3, size=(60, FACTORS)).astype(np.float32)
    return AlsScorer(factors, AlsParams(factors=FACTORS, regularization=0.5, alpha=2.0))


def _exact(scorer: AlsScorer, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``A⁻¹ b`` of the ALS user equation, in double precision."""
    y = scorer.item_factors.astype(np.float64)
    conf = np.abs(weights.astype(np.float64)) * scorer.params.alpha
    rows = y[columns]
    a = y.T @ y + scorer.params.regularization * np.eye(FACTORS)
    a += (rows.T * (conf - 1.0)) @ rows
    b = conf[weights > 0] @ rows[weights > 0]
    return np.linalg.solve(a, b)


@pytest.mark.parametrize(
    "weights",
    [
        [3.0, 1.5, 0.2],  # a confidence below 1 lowers A
        [4.0, 2.0, -10.0, -0.4],  # dislikes, one too weak to count
        [1.0 / 2.0],  # confidence exactly 1: A is YᵀY + λI
        [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0],  # more columns than factors
    ],
)
def test_the_fold_in_solves_the_user_equation(scorer: AlsScorer, weights: list[float]) -> None:
    w = np.asarray(weights, dtype=np.float32)
    columns = np.arange(3, 3 + 4 * w.size, 4)
    fold = scorer.fold_in(columns, w)
    np.testing.assert_allclose(fold.user, _exact(scorer, columns, w), rtol=1e-4, atol=1e-5)
    targets = np.array([0, 1, 2, 50])
    shares = fold.contributions(targets)
    assert shares.shape == (int((w > 0).sum()), targets.size)
    # ALS explain: the liked columns' shares add up to the score
    np.testing.assert_allclose(
        shares.sum(axis=0), scorer.item_factors[targets] @ fold.user, rtol=1e-4, atol=1e-5
    )


def test_a_singular_update_falls_back_to_the_direct_solve(
    scorer: AlsScorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # I + D·Y·W·Yᵀ = 1 - 1·1 = 0: the update has no inverse
    assert (
        als._low_rank_solver(
            np.eye(1, dtype=np.float32), np.ones((1, 1), np.float32), np.array([-1.0], np.float32)
        )
        is None
    )
    columns, w = np.array([4, 9, 30]), np.array([2.0, 1.0, -6.0], dtype=np.float32)
    monkeypatch.setattr(als, "_low_rank_solver", lambda *_: None)
    fold = scorer.fold_in(columns, w)
    np.testing.assert_allclose(fold.user, _exact(scorer, columns, w), rtol=1e-4, atol=1e-5)
    shares = fold.contributions(np.array([7]))
    np.testing.assert_allclose(shares.sum(axis=0), scorer.item_factors[[7]] @ fold.user, rtol=1e-4)
