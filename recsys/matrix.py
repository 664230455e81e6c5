"""The interaction matrix: like rule, users × items CSR matrix, id maps, confidence weighting.

A rating at or above a *like threshold* is a like. :func:`build_interactions` turns a ratings frame
into a users × items ``scipy.sparse.csr_matrix`` of ones whose shape is exactly
(users with at least one like) × (movies with at least one like):

* row ``r`` is user ``user_ids[r]`` and column ``c`` is movie ``item_ids[c]``;
* both id arrays are sorted ascending, so ``ItemIndex.columns`` maps movieIds to columns with a
  binary search (unknown ids map to ``-1``).

:class:`Weighting` turns likes into ALS confidences. Its per-item statistics are computed once on
the training matrix and then applied, unchanged, to every row the model ever sees, including a new
chat's favorites at fold-in time: a single row must be weighted exactly as the training rows were
(computing BM25 on that row alone would give each item a negative idf, i.e. "disliked").
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from recsys.defaults import TrainConfig

Scheme = Literal["bm25", "plain"]
SCHEMES: tuple[str, ...] = ("bm25", "plain")
_MIN_IDF = 1e-3  # an item liked by (almost) everyone keeps a small positive weight


def sorted_positions(sorted_ids: np.ndarray, ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """Position of each id in ``sorted_ids`` (ascending, distinct), ``-1`` where it is absent."""
    wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
    if wanted.size == 0 or sorted_ids.size == 0:
        return np.full(wanted.shape, -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(sorted_ids, wanted), sorted_ids.size - 1)
    return np.where(sorted_ids[pos] == wanted, pos, -1).astype(np.int64)


@dataclass(frozen=True)
class ItemIndex:
    """movieId ↔ matrix column: column ``c`` is movie ``item_ids[c]`` (sorted ascending)."""

    item_ids: np.ndarray

    def __post_init__(self) -> None:
        ids = np.asarray(self.item_ids, dtype=np.int64)
        if ids.ndim != 1 or (ids.size > 1 and np.any(np.diff(ids) <= 0)):
            raise ValueError("item_ids must be a strictly increasing 1-d array")
        object.__setattr__(self, "item_ids", ids)

    def __len__(self) -> int:
        return int(self.item_ids.size)

    def columns(self, movie_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Column of each movieId, ``-1`` where the model does not know it."""
        return sorted_positions(self.item_ids, movie_ids)

    def column(self, movie_id: int) -> int | None:
        """Column of one movieId, or None if the model does not know it."""
        col = int(self.columns([movie_id])[0])
        return None if col < 0 else col

    def movie_ids(self, columns: np.ndarray | Sequence[int]) -> np.ndarray:
        """The movieIds of columns (the columns must be valid)."""
        return self.item_ids[np.asarray(columns, dtype=np.int64)]


@dataclass(frozen=True)
class Interactions:
    """Likes as a users × items matrix of ones, with its id maps."""

    matrix: csr_matrix
    user_ids: np.ndarray
    items: ItemIndex
    threshold: float

    @property
    def support(self) -> np.ndarray:
        """Number of likes per column."""
        return np.bincount(self.matrix.indices, minlength=self.matrix.shape[1]).astype(np.int64)


@functools.lru_cache(maxsize=1024)
def _row_factor(k1: float, b: float, avg_length: float, length: int) -> np.float32:
    """BM25's ``(K1 + 1) / (K1 · norm + 1)`` of a row of ``length`` ones (float32, as _weigh).

    A request's row has a handful of lengths: numpy scalar arithmetic costs more than the lookup.
    """
    norm = (1.0 - b) + b * length / avg_length
    factor: np.float32 = np.float32(k1 + 1.0) / (np.float32(k1) * np.float32(norm) + 1)
    return factor


def likes_of(ratings: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The ``user_id, movie_id`` pairs rated at or above ``threshold`` (duplicates dropped)."""
    liked = ratings.loc[ratings["rating"] >= threshold, ["user_id", "movie_id"]]
    return liked.drop_duplicates()


def _dense_codes(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct ids, code of each id): ``np.unique`` in O(n) for non-negative ids."""
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if ids.min() < 0 or ids.max() > 4 * ids.size + 1_000_000:  # sparse or odd ids: sort
        distinct, codes = np.unique(ids, return_inverse=True)
        return distinct.astype(np.int64), codes.astype(np.int64)
    present = np.zeros(int(ids.max()) + 1, dtype=bool)
    present[ids] = True
    code_of = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present).astype(np.int64), code_of[ids]


def build_interactions(ratings: pd.DataFrame, threshold: float) -> Interactions:
    """Build the users × items like matrix from a ratings frame (see the module doc).

    A (user, movie) pair rated twice counts once.
    """
    liked = (ratings["rating"] >= threshold).to_numpy()
    users = ratings["user_id"].to_numpy()[liked].astype(np.int64)
    movies = ratings["movie_id"].to_numpy()[liked].astype(np.int64)
    user_ids, rows = _dense_codes(users)
    item_ids, cols = _dense_codes(movies)
    data = np.ones(rows.size, dtype=np.float32)
    matrix = csr_matrix(
        (data, (rows, cols)), shape=(user_ids.size, item_ids.size), dtype=np.float32
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    matrix.sort_indices()
    return Interactions(
        matrix=matrix, user_ids=user_ids, items=ItemIndex(item_ids), threshold=float(threshold)
    )


def _stack_columns(
    column_lists: Iterable[Sequence[int] | np.ndarray], n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, indices) of binary rows from lists of columns (deduplicated, sorted)."""
    lists = [np.unique(np.asarray(c, dtype=np.int64)) for c in column_lists]
    indptr = np.zeros(len(lists) + 1, dtype=np.int32)
    indptr[1:] = np.cumsum([c.size for c in lists])
    indices = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= n_items):
        raise ValueError("column out of range")
    return indptr, indices.astype(np.int32)


def rows_from_columns(
    column_lists: Iterable[Sequence[int] | np.ndarray], n_items: int
) -> csr_matrix:
    """A binary csr_matrix with one row per list of (valid) columns; duplicates count once."""
    indptr, indices = _stack_columns(column_lists, n_items)
    data = np.ones(indices.size, dtype=np.float32)
    return csr_matrix((data, indices, indptr), shape=(indptr.size - 1, n_items))


@dataclass(frozen=True)
class Weighting:
    """Confidence weighting of like rows, with statistics frozen from the training matrix.

    ``bm25``: ``w_ui = (K1 + 1) x / (K1 ((1 - B) + B len_u / avg_len) + x) · idf_i`` with
    ``idf_i = log(N) - log1p(likes_i)`` from the training users (as ``implicit``'s
    ``bm25_weight``), ``len_u`` the number of likes of the row being weighted. ``plain``: ``w = x``.
    The ALS ``alpha`` then multiplies either.
    """

    scheme: str
    k1: float = TrainConfig.k1
    b: float = TrainConfig.b
    idf: np.ndarray | None = None
    avg_length: float = 1.0

    @classmethod
    def fit(
        cls,
        matrix: csr_matrix,
        scheme: str,
        *,
        k1: float = TrainConfig.k1,
        b: float = TrainConfig.b,
    ) -> Weighting:
        """Freeze the statistics of ``scheme`` on a training users × items matrix."""
        if scheme not in SCHEMES:
            raise ValueError(f"unknown weighting {scheme!r}; choose one of {', '.join(SCHEMES)}")
        if scheme == "plain":
            return cls("plain")
        n_users = max(matrix.shape[0], 1)
        df = np.bincount(matrix.indices, minlength=matrix.shape[1])
        idf = np.maximum(np.log(n_users) - np.log1p(df), _MIN_IDF).astype(np.float32)
        lengths = np.asarray(matrix.sum(axis=1)).ravel()
        avg = float(lengths.mean()) if lengths.size else 1.0
        return cls("bm25", k1=float(k1), b=float(b), idf=idf, avg_length=max(avg, 1e-9))

    def apply(self, matrix: csr_matrix) -> csr_matrix:
        """Weight every row of a users × items matrix (a copy; the input is unchanged)."""
        matrix = csr_matrix(matrix)
        data = self._weigh(
            matrix.indptr, matrix.indices, matrix.data.astype(np.float32), matrix.shape[1]
        )
        return csr_matrix((data, matrix.indices.copy(), matrix.indptr.copy()), shape=matrix.shape)

    def rows(self, column_lists: Iterable[Sequence[int] | np.ndarray], n_items: int) -> csr_matrix:
        """Weighted like rows, one per list of columns: what a new user is folded in from."""
        indptr, indices = _stack_columns(column_lists, n_items)
        data = self._weigh(indptr, indices, np.ones(indices.size, dtype=np.float32), n_items)
        return csr_matrix((data, indices, indptr), shape=(indptr.size - 1, n_items))

    def row_weights(self, columns: np.ndarray, n_items: int) -> np.ndarray:
        """Weights of one like row of distinct columns (what :meth:`rows` gives, without csr)."""
        columns = np.asarray(columns, dtype=np.int64)
        if self.scheme == "plain" or columns.size == 0:
            return np.ones(columns.size, dtype=np.float32)
        assert self.idf is not None
        if n_items != self.idf.size:
            raise ValueError(f"matrix has {n_items} columns, the weighting {self.idf.size}")
        # _weigh for one row of ones, in scalars: every entry has the same BM25 factor
        factor = _row_factor(self.k1, self.b, self.avg_length, columns.size)
        weights: np.ndarray = self.idf[columns] * factor
        return weights.astype(np.float32, copy=False)

    def _weigh(
        self, indptr: np.ndarray, indices: np.ndarray, x: np.ndarray, n_items: int
    ) -> np.ndarray:
        if self.scheme == "plain" or x.size == 0:
            return x
        assert self.idf is not None
        if n_items != self.idf.size:
            raise ValueError(f"matrix has {n_items} columns, the weighting {self.idf.size}")
        counts = np.diff(indptr)
        row_of = np.repeat(np.arange(counts.size, dtype=np.int32), counts)
        lengths = np.bincount(row_of, weights=x, minlength=counts.size)
        norm = ((1.0 - self.b) + self.b * lengths / self.avg_length).astype(np.float32)
        k1 = np.float32(self.k1)
        weights: np.ndarray = x * (k1 + np.float32(1.0))
        weights /= k1 * norm[row_of] + x
        weights *= self.idf[indices]
        return weights.astype(np.float32, copy=False)

    def params(self) -> dict[str, Any]:
        """The scalar parameters, for metadata."""
        return {"scheme": self.scheme, "k1": self.k1, "b": self.b, "avg_length": self.avg_length}

    @classmethod
    def from_params(cls, params: dict[str, Any] | None, idf: np.ndarray | None) -> Weighting:
        """Inverse of :meth:`params` (missing keys: the defaults; no params: ``plain``)."""
        p = params or {"scheme": "plain"}
        return cls(
            scheme=str(p.get("scheme", "plain")),
            k1=float(p.get("k1", cls.k1)),
            b=float(p.get("b", cls.b)),
            idf=idf,
            avg_length=float(p.get("avg_length", 1.0)),
        )
