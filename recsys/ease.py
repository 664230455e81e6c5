"""EASE (Steck, "Embarrassingly Shallow Autoencoders", WWW 2019): a second scorer.

``B = I - P · diag(1 / diag(P))`` with ``P = (XᵀX + λI)⁻¹`` over the binary users × items like
matrix, zero diagonal; a chat's scores are ``x B`` for its like row ``x``. No fold-in is needed:
the item-item weights score any row directly. It implements the same :class:`recsys.scorer.Scorer`
protocol as :class:`recsys.als.AlsScorer`, so the evaluation runs either one.

Memory is dense ``items × items`` float32 (7,363 movies: 217 MB; fine for small catalogs, not for
ml-32m), and the fit is one Cholesky inversion; :data:`MAX_ITEMS` bounds it.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.sparse import csr_matrix

from recsys.als import limit_blas_threads

MAX_ITEMS = 20_000
"""The largest catalog (liked movies) EASE is fitted on: 20,000² float32 is 1.6 GB, and the fit
needs about twice that. ml-25m and ml-32m (59,000 and 84,000 liked movies: 14 and 28 GB) are
refused."""


def check_size(n_items: int) -> None:
    """Raise ValueError (saying what to do) when ``n_items`` is too many for EASE."""
    if n_items > MAX_ITEMS:
        gb = n_items * n_items * 4 / 1e9
        raise ValueError(
            f"EASE needs an items × items matrix: {n_items:,} movies would take {gb:.0f} GB "
            f"(the limit is {MAX_ITEMS:,} movies); use --algorithm als for this release."
        )


def fit_ease(matrix: csr_matrix, regularization: float) -> np.ndarray:
    """The EASE item-item weights (float32, zero diagonal) of a users × items like matrix."""
    check_size(matrix.shape[1])
    limit_blas_threads()
    x = csr_matrix(matrix, dtype=np.float32)
    x.data[:] = 1.0
    gram = (x.T @ x).toarray().astype(np.float32)
    gram[np.diag_indices_from(gram)] += np.float32(regularization)
    factor, info = scipy.linalg.lapack.spotrf(gram, lower=False, clean=True)
    if info != 0:
        raise ValueError(f"XᵀX + λI is not positive definite (λ = {regularization})")
    inverse, info = scipy.linalg.lapack.spotri(factor, lower=False)
    if info != 0:
        raise ValueError("EASE inversion failed")
    p = np.triu(inverse) + np.triu(inverse, 1).T  # spotri fills the upper triangle only
    weights = -p / np.diag(p)[None, :]
    np.fill_diagonal(weights, 0.0)
    return np.ascontiguousarray(weights, dtype=np.float32)


class EaseScorer:
    """Scores like rows with EASE weights; never returns a row's own columns."""

    def __init__(self, weights: np.ndarray):
        """Wrap an (items × items) weight matrix from :func:`fit_ease`."""
        if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
            raise ValueError(f"EASE weights must be square, not {weights.shape}")
        self._weights = np.ascontiguousarray(weights, dtype=np.float32)

    @property
    def n_items(self) -> int:
        """Number of items (columns) the model knows."""
        return int(self._weights.shape[0])

    @property
    def weights(self) -> np.ndarray:
        """The (items × items) weights (read-only use)."""
        return self._weights

    def scores(self, liked: np.ndarray) -> np.ndarray:
        """Scores of every column for one chat's liked columns (``x B``; a copy)."""
        cols = np.asarray(liked, dtype=np.int64)
        out: np.ndarray = self._weights[cols].sum(axis=0, dtype=np.float32)
        return out

    def contributions(self, liked: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """``[j, k]``: liked column ``j``'s share of the score of ``columns[k]`` (``B[j, k]``)."""
        rows = self._weights[np.asarray(liked, dtype=np.int64)]
        return np.asarray(rows[:, np.asarray(columns, dtype=np.int64)])

    def recommend(self, rows: csr_matrix, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` columns per row (binary likes), excluding each row's own columns.

        Returns ``(ids, scores)`` of shape (rows, n), padded with ``-1`` ids and ``-inf`` scores.
        """
        if not isinstance(rows, csr_matrix) or rows.shape[1] != self.n_items:
            raise ValueError(f"rows must be a csr_matrix with {self.n_items} columns")
        n_rows = rows.shape[0]
        n = max(0, min(int(n), self.n_items))
        ids = np.full((n_rows, n), -1, dtype=np.int64)
        out = np.full((n_rows, n), -np.inf, dtype=np.float32)
        if n == 0 or n_rows == 0:
            return ids, out
        binary = csr_matrix((np.ones_like(rows.data), rows.indices, rows.indptr), shape=rows.shape)
        scores = np.asarray(binary @ self._weights, dtype=np.float32)
        scores[binary.nonzero()] = -np.inf
        top = np.argpartition(-scores, n - 1, axis=1)[:, :n]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        top_scores = np.take_along_axis(top_scores, order, axis=1)
        finite = np.isfinite(top_scores)
        ids[finite] = top[finite]
        out[finite] = top_scores[finite]
        return ids, out
