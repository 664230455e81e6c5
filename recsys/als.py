"""The one adapter that owns ``implicit``: fit, fold-in, explain and similar items.

Everything here speaks matrix columns and weighted users × items ``csr_matrix`` rows; movieIds and
catalogs belong to :mod:`recsys.engine`. The implicit names (``YtY``, ``user_items``) stay inside
this module.

Threads: BLAS is limited to one thread (``threadpoolctl``) before a model is built, and a serving
model runs with ``num_threads = 1``: one request is a small matrix-vector product where thread
start-up would dominate. The lazy caches of implicit (``YtY``, item norms) are computed once when a
:class:`AlsScorer` is built, so concurrent calls only read shared state.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
from scipy.sparse import csr_matrix
from threadpoolctl import threadpool_limits

from recsys.defaults import TrainConfig

PADDED_SCORE = -1e38  # implicit pads filtered candidates with -finfo.max


@dataclass(frozen=True)
class AlsParams:
    """ALS hyperparameters (defaults: :class:`recsys.defaults.TrainConfig`'s)."""

    factors: int = TrainConfig.factors
    regularization: float = TrainConfig.regularization
    alpha: float = TrainConfig.alpha
    iterations: int = TrainConfig.iterations
    seed: int = TrainConfig.seed


def limit_blas_threads() -> None:
    """Make BLAS single-threaded for the whole process (implicit warns otherwise)."""
    threadpool_limits(limits=1, user_api="blas")


def _model(params: AlsParams, *, num_threads: int) -> Any:
    """An implicit CPU ALS model (implicit ships no type hints, hence ``Any``)."""
    from implicit.cpu.als import AlternatingLeastSquares

    limit_blas_threads()
    return AlternatingLeastSquares(
        factors=params.factors,
        regularization=params.regularization,
        alpha=params.alpha,
        iterations=params.iterations,
        random_state=int(params.seed),
        num_threads=num_threads,
        dtype=np.float32,
    )


def fit_item_factors(
    weighted: csr_matrix,
    params: AlsParams,
    *,
    progress: bool = False,
    num_threads: int = 0,
    on_iteration: Callable[[int, float], None] | None = None,
) -> np.ndarray:
    """Fit ALS on a weighted users × items matrix and return the item factors (float32).

    Deterministic for a given ``params.seed``. User factors are dropped: a new user is always
    folded in from their favorites.
    """
    model = _model(params, num_threads=num_threads)

    def callback(iteration: int, elapsed: float, loss: float | None) -> None:
        del loss
        if on_iteration is not None:
            on_iteration(iteration, elapsed)

    model.fit(
        csr_matrix(weighted, dtype=np.float32),
        show_progress=progress,
        callback=callback,
    )
    factors: np.ndarray = np.ascontiguousarray(model.item_factors, dtype=np.float32)
    return factors


class AlsScorer:
    """A trained ALS model for serving: fold-in recommend, explain and cosine similarity."""

    def __init__(
        self,
        item_factors: np.ndarray,
        params: AlsParams,
        *,
        num_threads: int = 1,
        candidates: np.ndarray | None = None,
    ):
        """Wrap item factors (n_items × factors) trained with ``params``.

        ``candidates`` (a boolean mask over items) restricts what :meth:`recommend` may return;
        their factors are copied into one contiguous block, so that scoring reads only them (on a
        large catalog the item-factor product is bound by memory bandwidth).
        """
        factors = np.ascontiguousarray(item_factors, dtype=np.float32)
        if factors.ndim != 2 or factors.shape[1] != params.factors:
            raise ValueError(
                f"item factors of shape {factors.shape} do not match {params.factors} factors"
            )
        self.params = params
        self._model = _model(params, num_threads=num_threads)
        model = self._model
        model.item_factors = factors
        model.user_factors = np.zeros((1, params.factors), dtype=np.float32)
        # implicit's lazy caches, filled now so that concurrent readers never write them
        _ = model.YtY
        _ = model.item_norms
        self._n_items = int(factors.shape[0])
        self._pool: np.ndarray | None = None
        if candidates is not None and not np.all(candidates):
            self._pool = np.flatnonzero(candidates).astype(np.int64)
            self._pool_factors = np.ascontiguousarray(factors[self._pool])
            self._pool_position = np.full(self._n_items, -1, dtype=np.int64)
            self._pool_position[self._pool] = np.arange(self._pool.size)
        self._yty_reg = model.YtY.astype(np.float32) + np.float32(params.regularization) * np.eye(
            params.factors, dtype=np.float32
        )
        # (YᵀY + λI)⁻¹, inverted once in double precision: a fold-in is then a low-rank update
        gram = model.YtY.astype(np.float64) + params.regularization * np.eye(params.factors)
        self._yty_inv = np.ascontiguousarray(np.linalg.inv(gram), dtype=np.float32)

    @property
    def n_items(self) -> int:
        """Number of items (columns) the model knows."""
        return self._n_items

    @property
    def item_factors(self) -> np.ndarray:
        """The item factors (read-only use)."""
        factors: np.ndarray = self._model.item_factors
        return factors

    def _check_rows(self, rows: csr_matrix) -> csr_matrix:
        if not isinstance(rows, csr_matrix) or rows.shape[1] != self.n_items:
            raise ValueError(f"rows must be a csr_matrix with {self.n_items} columns")
        if rows.nnz and (rows.indices.min() < 0 or rows.indices.max() >= self.n_items):
            raise ValueError("column index out of range")  # implicit does no bounds checking
        return rows

    def user_factors(self, rows: csr_matrix) -> np.ndarray:
        """Fold-in factors of weighted rows (``recalculate_user``; nothing is stored)."""
        rows = self._check_rows(rows)
        ids = np.arange(rows.shape[0])
        factors: np.ndarray = self._model.recalculate_user(ids, rows)
        return factors

    def recommend(self, rows: csr_matrix, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` columns per weighted row by fold-in, excluding each row's own columns.

        Returns ``(ids, scores)`` of shape (rows, n); where fewer than ``n`` candidates remain the
        tail is padded with ``-1`` ids and ``-inf`` scores.
        """
        rows = self._check_rows(rows)
        n_rows = rows.shape[0]
        n = max(0, min(int(n), self.n_items))
        if n == 0 or n_rows == 0:
            return (np.zeros((n_rows, n), dtype=np.int64), np.zeros((n_rows, n), dtype=np.float32))
        if self._pool is not None:
            ids, scores = self._recommend_pool(rows, n)
            return ids, scores
        userid = 0 if n_rows == 1 else np.arange(n_rows)  # a scalar id skips batch overhead
        ids, scores = self._model.recommend(
            userid, rows, N=n, recalculate_user=True, filter_already_liked_items=True
        )
        ids = np.asarray(ids, dtype=np.int64).reshape(n_rows, -1)
        scores = np.asarray(scores, dtype=np.float32).reshape(n_rows, -1)
        padded = scores <= PADDED_SCORE
        ids[padded] = -1
        scores[padded] = -np.inf
        return ids, scores

    def _recommend_pool(self, rows: csr_matrix, n: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`recommend` among the candidate pool only (fold-in by ``recalculate_user``)."""
        assert self._pool is not None
        n_rows = rows.shape[0]
        users = np.atleast_2d(
            self._model.recalculate_user(0 if n_rows == 1 else np.arange(n_rows), rows)
        ).astype(np.float32, copy=False)
        scores = users @ self._pool_factors.T  # (rows, pool)
        for r in range(n_rows):
            liked = self._pool_position[rows.indices[rows.indptr[r] : rows.indptr[r + 1]]]
            scores[r, liked[liked >= 0]] = -np.inf
        k = min(n, self._pool.size)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        top_scores = np.take_along_axis(top_scores, order, axis=1)
        ids = np.full((n_rows, n), -1, dtype=np.int64)
        out_scores = np.full((n_rows, n), -np.inf, dtype=np.float32)
        ids[:, :k] = np.where(np.isfinite(top_scores), self._pool[top], -1)
        out_scores[:, :k] = top_scores
        return ids, out_scores

    def fold_in(self, columns: np.ndarray, weights: np.ndarray) -> FoldIn:
        """Fold in one user from weighted columns (negative weight: disliked), exactly.

        The ALS user equation (Hu, Koren & Volinsky): with confidences ``c = alpha · |weight|``,
        ``A = YᵀY + λI + Σ (c - 1) y yᵀ`` over every column and ``b = Σ c y`` over the liked ones
        (a dislike is preference 0 with confidence ``c``; ``c <= 1`` changes nothing). This is
        implicit's ``recalculate_user``. ``A`` is ``YᵀY + λI`` (inverted once, at load) plus a
        rank-``k`` term for the user's ``k`` columns, so ``A⁻¹`` comes from the Woodbury identity
        with one ``k × k`` solve instead of a ``factors × factors`` factorisation; kept for
        :meth:`FoldIn.contributions`.
        """
        columns = np.asarray(columns, dtype=np.int64)
        if columns.size and (columns.min() < 0 or columns.max() >= self.n_items):
            raise ValueError("column index out of range")  # never index past the factors
        weights = np.asarray(weights)
        conf = np.abs(weights.astype(np.float32, copy=False)) * np.float32(self.params.alpha)
        liked = weights > 0
        y = self.item_factors
        y_all = y[columns]
        y_liked = y_all[liked]
        conf_liked = conf[liked]
        b = conf_liked @ y_liked
        solve = _low_rank_solver(self._yty_inv, y_all, conf - np.float32(1.0))
        if solve is None:  # the k × k system is singular: solve A directly
            a = self._yty_reg + (y_all.T * (conf - np.float32(1.0))) @ y_all
            solve = functools.partial(_cho_solve, _cholesky(a), a)
        user = solve(b[:, None])[:, 0]
        return FoldIn(
            user=np.ascontiguousarray(user, dtype=np.float32),
            liked=columns[liked],
            confidence=conf_liked,
            _y=y,
            _solve=solve,
            _liked_factors=y_liked,
        )

    def explain_many(self, row: csr_matrix, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Contributions of each liked column of a 1-row weighted matrix to each of ``columns``.

        This is ALS ``explain`` (Hu, Koren & Volinsky, section 5) for several items at once, with
        the fold-in's own solve: returns ``(liked_columns, contributions)`` where
        ``contributions[j, k]`` is liked column ``j``'s share of the score of ``columns[k]``.
        The sum over ``j`` is the explained score.
        """
        row = self._check_rows(row)
        cols = row.indices[row.indptr[0] : row.indptr[1]]
        fold = self.fold_in(cols, row.data[row.indptr[0] : row.indptr[1]])
        return fold.liked, fold.contributions(np.asarray(columns, dtype=np.int64))

    def explain(
        self, row: csr_matrix, column: int, n: int = 10
    ) -> tuple[float, list[tuple[int, float]]]:
        """ALS ``explain`` of a 1-row weighted matrix: (score, [(liked column, share)])."""
        row = self._check_rows(row)
        if not 0 <= column < self.n_items:
            raise ValueError("column out of range")
        score, top, _ = self._model.explain(0, row, int(column), N=n)
        return float(score), [(int(c), float(s)) for c, s in top]


@dataclass(frozen=True)
class FoldIn:
    """A folded-in user: factors, liked columns with their confidences, and ``A⁻¹`` as a solver."""

    user: np.ndarray
    liked: np.ndarray
    confidence: np.ndarray
    _y: np.ndarray
    _solve: Callable[[np.ndarray], np.ndarray]
    _liked_factors: np.ndarray | None = None  # ``_y[liked]``, when the fold-in has it already

    def contributions(self, columns: np.ndarray) -> np.ndarray:
        """``[j, k]``: liked column ``j``'s share of the score of ``columns[k]`` (ALS explain).

        With ``W = A⁻¹``, the share is ``c_j · y_jᵀ W y_k``; the sum over ``j`` is the score.
        """
        targets = self._y[np.asarray(columns, dtype=np.int64)]
        weighted_items = self._solve(np.ascontiguousarray(targets.T))
        liked = self._y[self.liked] if self._liked_factors is None else self._liked_factors
        return np.asarray((liked @ weighted_items) * self.confidence[:, None])


@dataclass(slots=True)  # not frozen: built once per request, and frozen fields cost more
class _LowRankSolver:
    """``x = A⁻¹ r`` for ``A = A₀ + Yᵀ D Y`` from ``W = A₀⁻¹`` (Woodbury).

    ``A⁻¹ = W - W Yᵀ (I + D Y W Yᵀ)⁻¹ D Y W``: with ``P = Y W`` (``k × factors``) a solve is two
    products with ``W`` and ``P`` and one ``k × k`` LU solve (``k``: the user's columns).
    """

    inverse: np.ndarray
    projected: np.ndarray
    diagonal: np.ndarray
    lu: np.ndarray
    pivots: np.ndarray

    def solve(self, r: np.ndarray) -> np.ndarray:
        """``A⁻¹ r`` for a ``factors × m`` right-hand side."""
        x: np.ndarray = self.inverse @ r
        z, _ = scipy.linalg.lapack.sgetrs(
            self.lu, self.pivots, self.diagonal[:, None] * (self.projected @ r)
        )
        out: np.ndarray = x - self.projected.T @ z
        return out


def _low_rank_solver(
    inverse: np.ndarray, y: np.ndarray, d: np.ndarray
) -> Callable[[np.ndarray], np.ndarray] | None:
    """``A⁻¹`` as a solve, for ``A = A₀ + Yᵀ D Y`` and ``inverse = A₀⁻¹`` (None: singular)."""
    if not y.shape[0]:  # no column: A is A₀
        return functools.partial(np.matmul, inverse)
    projected = y @ inverse
    core = d[:, None] * (projected @ y.T)
    diagonal = core.reshape(-1)[:: y.shape[0] + 1]  # a view (cheaper than ``core.flat``)
    np.add(diagonal, np.float32(1.0), out=diagonal)  # I + D Y W Yᵀ
    lu, pivots, info = scipy.linalg.lapack.sgetrf(core)
    if info != 0:
        return None
    return _LowRankSolver(inverse, projected, d, lu, pivots).solve


def _cholesky(a: np.ndarray) -> np.ndarray | None:
    """Upper Cholesky factor of a symmetric positive definite ``a`` in float32 (None: not SPD).

    Straight LAPACK: ``scipy.linalg.cho_factor``'s wrappers cost more than the solve at this size,
    and single precision (the factors' own) halves the factorisation time.
    """
    factor, info = scipy.linalg.lapack.spotrf(a, lower=False, clean=False)
    return factor if info == 0 else None


def _cho_solve(factor: np.ndarray | None, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``a x = b`` with the factor of :func:`_cholesky` (least squares if there is none)."""
    if factor is not None:
        x, info = scipy.linalg.lapack.spotrs(factor, b, lower=False)
        if info == 0:
            solution: np.ndarray = x
            return solution
    return np.asarray(np.linalg.lstsq(a, b, rcond=None)[0])


class CosineIndex:
    """Nearest items by cosine of their factors, among precomputed candidate columns."""

    def __init__(
        self,
        factors: np.ndarray,
        candidates: np.ndarray | None = None,
        weights: np.ndarray | None = None,
    ):
        """Keep the unit vectors of the candidates, pre-multiplied by their weights.

        Args:
            factors: item factors (n_items × k); normalised here.
            candidates: boolean mask of the columns allowed in answers (None: all).
            weights: per-column factor the cosine is multiplied by (None: 1).
        """
        norms = np.linalg.norm(factors, axis=1)
        norms[norms == 0] = 1e-10
        unit = (factors / norms[:, None]).astype(np.float32)
        n_items = unit.shape[0]
        mask = (
            np.ones(n_items, dtype=bool)
            if candidates is None
            else np.asarray(candidates, dtype=bool)
        )
        self._unit = unit
        self._columns = np.flatnonzero(mask).astype(np.int64)
        scaled = unit[self._columns]
        if weights is not None:
            scaled = scaled * np.asarray(weights, dtype=np.float32)[self._columns, None]
        self._scaled = np.ascontiguousarray(scaled, dtype=np.float32)

    def top(self, column: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` candidate columns most similar to ``column`` (itself excluded), best first."""
        if not 0 <= column < self._unit.shape[0] or n <= 0 or self._columns.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self._scaled @ self._unit[column]
        pos = int(np.searchsorted(self._columns, column))
        if pos < self._columns.size and self._columns[pos] == column:
            scores[pos] = -np.inf
        k = min(n, self._columns.size)
        part = np.argpartition(-scores, k - 1)[:k]
        part = part[np.argsort(-scores[part], kind="stable")]
        part = part[np.isfinite(scores[part])]
        return self._columns[part], scores[part].astype(np.float32)
