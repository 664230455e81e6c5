"""A joint like/dislike model: would a chat dislike a film rather than like it?

The recommendation model is trained on likes: it says what a chat would watch and like. The
films a chat turns down are mostly films it chose to watch, so they sit among its favorites in
that model's space. This second, small ALS model is trained on the training users' likes *and*
dislikes (a rating of at most :data:`recsys.dislike.DISLIKE_MAX`) as separate columns: column
``c`` is "liked movie c", column ``n + c`` "disliked movie c". A chat's favorites and dislikes are
folded into it (each a column of confidence ``alpha``, as implicit's fold-in), and for a
candidate ``c`` the term ``u · (y[n + c] - y[c])`` says how much more the chat resembles those
who disliked it than those who liked it. The dislike steering (``recsys.engine._Steering``) adds
it, times ``dislike_joint_weight``, to the signal of :mod:`recsys.dislike` (sixth round,
docs/engine.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from recsys.als import AlsParams, AlsScorer, fit_item_factors
from recsys.dislike import DISLIKE_MAX
from recsys.matrix import ItemIndex


def fit_joint_factors(
    ratings: pd.DataFrame,
    items: ItemIndex,
    like_threshold: float,
    params: AlsParams,
    *,
    num_threads: int = 0,
) -> np.ndarray:
    """Item factors (2n × factors) of the joint model, trained on ``ratings``.

    Rows ``0..n-1`` are "liked" columns, ``n..2n-1`` "disliked" ones, for the ``n`` columns of
    ``items``; a rating both a like and a dislike (possible with an unusual like threshold)
    counts as a like; ratings of movies without a column are ignored.
    """
    n = len(items)
    cols = items.columns(ratings["movie_id"].to_numpy(np.int64))
    rating = ratings["rating"].to_numpy(np.float64)
    _, rows = np.unique(ratings["user_id"].to_numpy(), return_inverse=True)
    liked = (rating >= like_threshold) & (cols >= 0)
    disliked = (rating <= DISLIKE_MAX) & (cols >= 0) & ~liked
    r = np.concatenate([rows[liked], rows[disliked]])
    c = np.concatenate([cols[liked], cols[disliked] + n])
    n_users = int(rows.max()) + 1 if rows.size else 0
    matrix = csr_matrix(
        (np.ones(r.size, dtype=np.float32), (r, c)), shape=(n_users, 2 * n), dtype=np.float32
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return fit_item_factors(matrix, params, num_threads=num_threads)


class JointSignal:
    """Serving side: a chat folded into the joint model, the term of each candidate."""

    __slots__ = ("_linear", "_scorer", "diff", "n", "pool_diff")

    def __init__(self, factors: np.ndarray, params: AlsParams, pool_columns: np.ndarray):
        """``factors`` from :func:`fit_joint_factors`; ``pool_columns``: the recommendation pool."""
        y = np.ascontiguousarray(factors, dtype=np.float32)
        self.n = y.shape[0] // 2
        # "disliked" minus "liked" per movie: one product gives a candidate's term
        self.diff = np.ascontiguousarray(y[self.n :] - y[: self.n])
        self.pool_diff = np.ascontiguousarray(self.diff[pool_columns])
        # at confidence 1 (alpha 1) the fold-in is linear: u = (YᵀY + λI)⁻¹ Σ y, a sum of rows
        # of Y (YᵀY + λI)⁻¹, computed here once; otherwise the general fold-in solves it
        self._linear: np.ndarray | None = None
        self._scorer: AlsScorer | None = None
        if params.alpha == 1:
            gram = y.T.astype(np.float64) @ y + params.regularization * np.eye(y.shape[1])
            self._linear = np.ascontiguousarray(np.linalg.solve(gram, y.T).T, dtype=np.float32)
        else:
            self._scorer = AlsScorer(y, params)

    def user(self, favorites: np.ndarray, disliked: np.ndarray) -> np.ndarray:
        """The chat's factors in the joint model (favorites as likes, dislikes as dislikes)."""
        columns = np.concatenate([favorites, disliked + self.n])
        if self._linear is not None:
            user: np.ndarray = self._linear[columns].sum(axis=0)
            return user
        assert self._scorer is not None
        return self._scorer.fold_in(columns, np.ones(columns.size, dtype=np.float32)).user
