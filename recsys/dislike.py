"""Dislike statistics: which films a chat that turned some films down would watch and dislike.

The like-factor model says what a chat would watch and like; it knows nothing of dislikes, and
the films a chat dislikes are mostly films it chose to watch, close in factor space to its
favorites. These statistics come from the *ratings* of the training users (every rating, not
only the likes) and are computed once at training time:

* ``prior``: per movie, the shrunk log-odds lift of its dislike rate among those who rated it
  (``(dislikes + m·p0) / (ratings + m)`` against the overall rate ``p0``; m = 10);
* three movie-pair statistics, for every movie ``j`` (a chat's favorite or dislike) and every
  candidate ``b`` (a movie with at least ``candidate_min_support`` likes) rated together by
  at least ``min_corated`` users:

  - ``knn``: the adjusted cosine of their ratings (each rating minus its user's mean), shrunk by
    ``n / (n + 20)`` (item-based collaborative filtering: rated higher or lower together);
  - ``codis``: the lift of "disliked b" among those who disliked ``j`` and rated ``b``;
  - ``favdis``: the lift of "disliked b" among those who liked ``j`` and rated ``b``.

At serving time :meth:`DislikeStats.signal` combines them, with the cosine of the
similar-movies factors, into one penalty per candidate (a linear score whose weights were fitted
on the tuning seeds, see docs/engine.md). A dislike is a rating of 2 or less.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from recsys.matrix import ItemIndex

DISLIKE_MAX = 2.0  # a rating at or below this is a dislike
PRIOR_SHRINK = 10.0
KNN_SHRINK = 20.0
MIN_CORATED = 3
_CHUNK = 1024  # rows of the pair statistics computed at once (dense chunk: rows × candidates)
BOUND_MARGIN = 1e-3  # subtracted from PoolSignal.cosine_bound (float32 rounding)
DENSE_MAX_BYTES = 64 * 2**20  # PoolSignal's dense pair rows: above it, a loop over the pairs
COSINE_RANGE_MAX = 200_000_000  # movies × candidates: above it, PoolSignal bounds cosines by ±1

# Weights of the penalty (logistic regression of "hidden dislike" against "hidden like" among
# the best 40 candidates, with the candidate's score as a covariate, ml-100k seeds 100-104;
# each weight is the feature's effect divided by the score's, so the penalty is in units of the
# normalised score; bench/dislike_weights.py refits them). Names: see DislikeStats.features.
WEIGHTS: dict[str, float] = {
    "prior": 0.15,
    "codis": 0.24,
    "favdis": 0.36,
    "cos_disliked": 1.05,
    "cos_favorite": -1.24,
    "knn_favorite_mean": 0.66,
    "knn_disliked_mean": 0.64,
    "knn_favorite_max": -1.88,
    "knn_disliked_max": 1.94,
}


@dataclass(frozen=True)
class DislikeStats:
    """Per-movie prior and movie-pair statistics (a CSR pattern with three value arrays).

    Row ``j`` (any model column) lists the candidate columns ``indices[indptr[j]:indptr[j+1]]``
    and, aligned, ``knn``, ``codis`` and ``favdis`` (float16: they weigh a re-ranking, and
    half the bytes keep the artifact small). A pair absent from the pattern counts 0 (rated
    together by fewer than ``min_corated`` users).
    """

    prior: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    knn: np.ndarray
    codis: np.ndarray
    favdis: np.ndarray

    @property
    def nbytes(self) -> int:
        """Bytes of all arrays."""
        return sum(a.nbytes for a in self.arrays().values())

    @property
    def n_items(self) -> int:
        """Number of model columns."""
        return int(self.prior.size)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays by their artifact names."""
        return {
            "dislike_prior": self.prior,
            "dislike_indptr": self.indptr,
            "dislike_indices": self.indices,
            "dislike_knn": self.knn,
            "dislike_codis": self.codis,
            "dislike_favdis": self.favdis,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], n_items: int) -> DislikeStats | None:
        """The statistics stored in an artifact; None when absent or inconsistent."""
        names = ("prior", "indptr", "indices", "knn", "codis", "favdis")
        keys = [f"dislike_{n}" for n in names]
        if not all(k in arrays for k in keys):
            return None
        prior, indptr, indices, knn, codis, favdis = (arrays[k] for k in keys)
        nnz = indices.shape[0] if indices.ndim == 1 else -1
        valid = (
            prior.shape == (n_items,)
            and indptr.shape == (n_items + 1,)
            and nnz >= 0
            and knn.shape == codis.shape == favdis.shape == (nnz,)
            and int(indptr[0]) == 0
            and int(indptr[-1]) == nnz
            and bool(np.all(np.diff(indptr) >= 0))
            and (nnz == 0 or (int(indices.min()) >= 0 and int(indices.max()) < n_items))
            and all(bool(np.isfinite(a).all()) for a in (prior, knn, codis, favdis))
        )
        if not valid:
            return None
        return cls(
            prior=np.asarray(prior, dtype=np.float32),
            indptr=np.asarray(indptr, dtype=np.int64),
            indices=np.asarray(indices, dtype=np.int32),
            knn=np.asarray(knn, dtype=np.float16),
            codis=np.asarray(codis, dtype=np.float16),
            favdis=np.asarray(favdis, dtype=np.float16),
        )

    def features(
        self,
        favorites: np.ndarray,
        disliked: np.ndarray,
        unit_factors: np.ndarray,
        columns: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """Every feature of :data:`WEIGHTS` for the candidate ``columns`` (float32 arrays).

        ``unit_factors``: the similar-movies factors, each row of norm 1 (their cosine).
        """
        # (chat's movies × candidates): the max over a short leading axis is a fast reduction
        both = unit_factors[np.concatenate([favorites, disliked])] @ unit_factors[columns].T
        fav, dis = _gather_both(self, favorites, disliked, self.n_items)
        (fav_mean, fav_max, favdis), (dis_mean, dis_max, codis) = fav, dis
        return {
            "prior": self.prior[columns],
            "codis": codis[columns],
            "favdis": favdis[columns],
            "cos_disliked": both[favorites.size :].max(axis=0),
            "cos_favorite": both[: favorites.size].max(axis=0),
            "knn_favorite_mean": fav_mean[columns],
            "knn_disliked_mean": dis_mean[columns],
            "knn_favorite_max": fav_max[columns],
            "knn_disliked_max": dis_max[columns],
        }

    def signal(
        self,
        favorites: np.ndarray,
        disliked: np.ndarray,
        unit_factors: np.ndarray,
        columns: np.ndarray,
    ) -> np.ndarray:
        """How much more likely each candidate is a dislike than a like: Σ WEIGHTS · features.

        Zeros when there are no favorites or no dislikes. (A recommendation pool reads the
        faster :class:`PoolSignal`; this serves the other candidates and ``why``.)
        """
        out = np.zeros(columns.size, dtype=np.float32)
        if favorites.size == 0 or disliked.size == 0 or columns.size == 0:
            return out
        feats = self.features(favorites, disliked, unit_factors, columns)
        for name, weight in WEIGHTS.items():
            out += np.float32(weight) * feats[name]
        return out


def _gather_both(
    pairs: DislikeStats, favorites: np.ndarray, disliked: np.ndarray, n: int
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per column, dense over ``n``: the favorites' and the dislikes' statistics.

    Over the favorites' rows the mean and max of ``knn`` and the mean of ``favdis``; over the
    dislikes' rows the same with ``codis``. A pair outside the pattern counts 0. Both sides in
    one pass (columns ``n`` and up are the dislikes' side), with ``bincount`` and
    ``maximum.at``: no Python loop per entry or row.
    """
    rows = np.concatenate([favorites, disliked])
    starts = pairs.indptr[rows]
    lengths = pairs.indptr[rows + 1] - starts
    total = int(lengths.sum())
    split = int(lengths[: favorites.size].sum())
    pos = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
    idx = pairs.indices[pos].astype(np.int64)
    idx[split:] += n
    values = pairs.knn[pos]
    other = np.empty(total, dtype=np.float32)
    other[:split] = pairs.favdis[pos[:split]]
    other[split:] = pairs.codis[pos[split:]]
    sides = np.array([favorites.size, disliked.size])
    size = np.repeat(np.maximum(sides, 1).astype(np.float32), n)
    knn_mean = (np.bincount(idx, weights=values, minlength=2 * n) / size).astype(np.float32)
    other_mean = (np.bincount(idx, weights=other, minlength=2 * n) / size).astype(np.float32)
    knn_max = np.full(2 * n, -np.inf, dtype=np.float32)
    np.maximum.at(knn_max, idx, values)
    missing = np.bincount(idx, minlength=2 * n) < np.repeat(np.maximum(sides, 1), n)
    np.maximum(knn_max, 0, out=knn_max, where=missing)  # a pair outside the pattern counts 0
    return (
        (knn_mean[:n], knn_max[:n], other_mean[:n]),
        (knn_mean[n:], knn_max[n:], other_mean[n:]),
    )


@dataclass(frozen=True)
class PoolSignal:
    """:meth:`DislikeStats.signal` for one fixed set of candidates (a recommendation pool).

    Built once at load: the pair statistics re-indexed by position in the pool (pairs outside it
    dropped), with the weights already applied where the signal is linear in them (the means:
    ``lin[0]`` is a pair's term when its row is a favorite, ``lin[1]`` when a dislike), held as
    dense rows (``dense``, when small enough), the pool's weighted prior and its unit factors,
    so a request computes only what depends on it. The signal is split in two: :meth:`pairs`
    (prior, pair statistics and ``cosine_bound``, the least the cosines' part can be for any
    request; one pass over the chat's rows, for the whole pool) and :meth:`cosines` (the
    cosines' part above that floor, never negative: a product, for the candidates asked for).
    The engine computes the cosines only for the candidates that can still reach its top
    (``recsys.engine._Steering.pool_best``).
    """

    columns: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    knn: np.ndarray
    lin: np.ndarray  # (2 × pairs) float32: the weighted mean terms, favorite row / dislike row
    prior: np.ndarray  # the pool's weighted prior
    units: np.ndarray  # (pool × factors) unit similar-movies factors
    # (pool,) per candidate, a floor of its cosines' part for any chat: each weighted cosine
    # at its least over the cosines of the candidate to every other model movie
    cosine_bound: np.ndarray
    # ``knn`` and the two ``lin`` as dense float32 rows (numpy converts float16 slowly): four
    # blocks (knn × the favorites' max weight, lin[0], lin[1], knn × the dislikes' max weight)
    # of (movies with pairs + 2) rows × pool; in each block a row per movie with pairs, a row
    # of zeros (every other movie) and, in the second, the prior.
    # ``row_of[b, j]``: movie column j's row in block b. None when over DENSE_MAX_BYTES.
    dense: np.ndarray | None = None
    row_of: np.ndarray | None = None
    prior_row: np.ndarray | None = None  # [the prior's row in ``dense``]
    # ``row_of`` flattened with the prior's row appended: a request's rows in one lookup
    row_index: np.ndarray | None = None

    @classmethod
    def build(
        cls, stats: DislikeStats, columns: np.ndarray, unit_factors: np.ndarray
    ) -> PoolSignal:
        """The view of ``stats`` for the candidate ``columns``."""
        m = columns.size
        position = np.full(stats.n_items, -1, dtype=np.int64)
        position[columns] = np.arange(m)
        mapped = position[stats.indices]
        keep = mapped >= 0
        rows = np.repeat(np.arange(stats.n_items), np.diff(stats.indptr))
        counts = np.bincount(rows[keep], minlength=stats.n_items)
        indices = mapped[keep].astype(np.int32)
        w = {k: np.float32(v) for k, v in WEIGHTS.items()}
        # float32 here (a few MB): a request then reads them without a conversion
        knn = stats.knn[keep].astype(np.float32)
        codis = stats.codis[keep].astype(np.float32)
        favdis = stats.favdis[keep].astype(np.float32)
        lin = np.stack(
            [
                w["knn_favorite_mean"] * knn + w["favdis"] * favdis,
                w["knn_disliked_mean"] * knn + w["codis"] * codis,
            ]
        )
        prior = (w["prior"] * stats.prior[columns]).astype(np.float32)
        units = np.ascontiguousarray(unit_factors[columns], dtype=np.float32)
        c_lo, c_hi = _cosine_range(unit_factors, columns)
        cosine_bound = np.zeros(m)
        for name in ("cos_favorite", "cos_disliked"):
            cosine_bound += np.minimum(WEIGHTS[name] * c_lo, WEIGHTS[name] * c_hi)
        # float32 rounding of the signal's terms: a margin far above it
        cosine_floor = (cosine_bound - BOUND_MARGIN).astype(np.float32)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        has = np.flatnonzero(counts)
        dense, row_of, row_index = None, None, None
        if (has.size + 2) * 4 * m * 4 <= DENSE_MAX_BYTES:
            size = has.size + 2
            first = np.full(stats.n_items, has.size, dtype=np.int32)
            first[has] = np.arange(has.size, dtype=np.int32)
            row_of = np.stack([first + k * size for k in range(4)])
            dense = np.zeros((4 * size, m), dtype=np.float32)
            entry_rows = first[rows[keep]]
            blocks = (w["knn_favorite_max"] * knn, *lin, w["knn_disliked_max"] * knn)
            for k, values in enumerate(blocks):
                dense[k * size + entry_rows, indices] = values
            dense[2 * size - 1] = prior + cosine_floor
            row_index = np.concatenate([row_of.ravel(), [2 * size - 1]]).astype(np.int64)
        return cls(
            columns=columns,
            indptr=indptr,
            indices=indices,
            knn=knn,
            lin=lin.astype(np.float32),
            prior=prior,
            units=units,
            cosine_bound=cosine_floor,
            dense=dense,
            row_of=row_of,
            prior_row=None if dense is None else np.array([dense.shape[0] // 4 * 2 - 1]),
            row_index=row_index,
        )

    def signal(
        self,
        favorites: np.ndarray,
        disliked: np.ndarray,
        unit_factors: np.ndarray,
        positions: np.ndarray | None = None,
    ) -> np.ndarray:
        """The signal of the pool candidates at ``positions`` (default: all of them).

        Zeros without favorites or dislikes: :meth:`pairs` plus :meth:`cosines`.
        """
        if positions is None:
            positions = np.arange(self.columns.size)
        if favorites.size == 0 or disliked.size == 0:
            return np.zeros(positions.size, dtype=np.float32)
        out: np.ndarray = self.pairs(favorites, disliked)[positions]
        out += self.cosines(favorites, disliked, unit_factors, positions)
        return out

    def pairs(self, favorites: np.ndarray, disliked: np.ndarray) -> np.ndarray:
        """The prior, pair statistics and cosines' floor part of every pool candidate's signal.

        The rest, :meth:`cosines`, is never negative. Needs favorites and dislikes. The chat's
        pairs come from dense (chat's movies × pool) rows of zeros, so a pair outside the
        pattern counts 0 in every mean and max, as in :meth:`DislikeStats.features`.
        """
        m, n_fav = self.columns.size, favorites.size
        w = WEIGHTS
        if self.dense is not None and self.row_of is not None and self.row_index is not None:
            # every row the chat needs in one lookup and one gather: the means' rows (block 1
            # for the favorites, 2 for the dislikes) and the prior's, then the maxima's rows
            # (block 0 for the favorites, 3 for the dislikes)
            n_dis = disliked.size
            chat = np.concatenate((favorites, disliked, _PRIOR_SLOT, favorites, disliked))
            chat += _row_offsets(n_fav, n_dis, self.row_of.shape[1])
            rows = self.dense[self.row_index[chat]]
            means = n_fav + n_dis + 1
            # the means and the prior: one (coefficients × rows) product
            out: np.ndarray = _coefficients(n_fav, n_dis) @ rows[:means]
            # the weighted maxima: a weight below 0 turns the max into a min of weighted values
            out += _extreme(w["knn_favorite_max"], rows[means : means + n_fav])
            out += _extreme(w["knn_disliked_max"], rows[means + n_fav :])
            return out
        rows = np.concatenate([favorites, disliked])
        spans = [(int(self.indptr[r]), int(self.indptr[r + 1])) for r in rows.tolist()]
        lin = np.zeros((2, m), dtype=np.float64)
        knn = np.zeros((rows.size, m), dtype=np.float32)
        for i, (lo, hi) in enumerate(spans):
            at = self.indices[lo:hi]
            lin[int(i >= n_fav), at] += self.lin[int(i >= n_fav), lo:hi]
            knn[i, at] = self.knn[lo:hi]
        out = self.prior + self.cosine_bound
        out += (lin[0] / n_fav + lin[1] / disliked.size).astype(np.float32)
        out += np.float32(w["knn_favorite_max"]) * knn[:n_fav].max(axis=0)
        out += np.float32(w["knn_disliked_max"]) * knn[n_fav:].max(axis=0)
        return out

    def cosines(
        self,
        favorites: np.ndarray,
        disliked: np.ndarray,
        unit_factors: np.ndarray,
        positions: np.ndarray,
    ) -> np.ndarray:
        """The factor cosines' part of the signal at ``positions`` minus its floor (≥ 0)."""
        chat = self.chat_units(favorites, disliked, unit_factors)
        out: np.ndarray = self.cosines_of(chat, favorites.size, positions)
        return out

    @staticmethod
    def chat_units(
        favorites: np.ndarray, disliked: np.ndarray, unit_factors: np.ndarray
    ) -> np.ndarray:
        """The chat's unit factors times their cosine weights (what :meth:`cosines_of` takes)."""
        chat: np.ndarray = unit_factors[np.concatenate([favorites, disliked])]
        chat *= _cosine_weights(favorites.size, disliked.size)
        return chat

    def cosines_of(self, chat: np.ndarray, n_fav: int, positions: np.ndarray) -> np.ndarray:
        """:meth:`cosines` from :meth:`chat_units` (computed once for a request's passes)."""
        both = chat @ self.units[positions].T  # weighted cosines straight from the product
        out: np.ndarray = _extreme(WEIGHTS["cos_favorite"], both[:n_fav])
        out += _extreme(WEIGHTS["cos_disliked"], both[n_fav:])
        out -= self.cosine_bound[positions]
        return out


def _extreme(weight: float, weighted: np.ndarray) -> np.ndarray:
    """``weight · max(values)`` over the rows, from the rows of ``weight · values``."""
    out: np.ndarray = weighted.min(axis=0) if weight < 0 else weighted.max(axis=0)
    return out


@lru_cache(maxsize=256)
def _cosine_weights(n_fav: int, n_dis: int) -> np.ndarray:
    """The cosine weight of each of the chat's movies, as a column."""
    out = np.empty((n_fav + n_dis, 1), dtype=np.float32)
    out[:n_fav] = WEIGHTS["cos_favorite"]
    out[n_fav:] = WEIGHTS["cos_disliked"]
    out.flags.writeable = False
    return out


_PRIOR_SLOT = np.zeros(1, dtype=np.int64)  # PoolSignal.pairs: where the prior's row goes


@lru_cache(maxsize=256)
def _row_offsets(n_fav: int, n_dis: int, n_items: int) -> np.ndarray:
    """Offsets into ``PoolSignal.row_index`` of a chat's rows, in :meth:`PoolSignal.pairs` order.

    (favorites, dislikes, prior, favorites, dislikes): blocks 1, 2, the prior's slot (past the
    four blocks), 0 and 3.
    """
    out = np.concatenate(
        [
            np.full(n_fav, 1 * n_items),
            np.full(n_dis, 2 * n_items),
            [4 * n_items],
            np.zeros(n_fav, dtype=np.int64),
            np.full(n_dis, 3 * n_items),
        ]
    ).astype(np.int64)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=256)
def _coefficients(n_fav: int, n_dis: int) -> np.ndarray:
    """``1/n_fav`` for each favorite row, ``1/n_dis`` for each dislike row, 1 for the prior."""
    out = np.empty(n_fav + n_dis + 1, dtype=np.float32)
    out[:n_fav] = 1 / n_fav
    out[n_fav:-1] = 1 / n_dis
    out[-1] = 1
    out.flags.writeable = False
    return out


def _cosine_range(unit_factors: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate column, the least and greatest cosine to any other model movie.

    (A chat's movies are never the candidate itself: they are excluded from the ranking.) In
    blocks of rows; on a catalog too large for that at load, the trivial range [-1, 1].
    """
    n, m = unit_factors.shape[0], columns.size
    if n * m > COSINE_RANGE_MAX:
        return np.full(m, -1.0), np.full(m, 1.0)
    lo, hi = np.full(m, np.inf, dtype=np.float32), np.full(m, -np.inf, dtype=np.float32)
    units_t = np.ascontiguousarray(unit_factors[columns].T, dtype=np.float32)
    own = np.arange(m)
    for start in range(0, n, _CHUNK):
        block = unit_factors[start : start + _CHUNK] @ units_t  # (block × candidates)
        inside = (columns >= start) & (columns < start + block.shape[0])
        itself = (columns[inside] - start, own[inside])  # the candidate itself: left out
        block[itself] = np.inf
        np.minimum(lo, block.min(axis=0), out=lo)
        block[itself] = -np.inf
        np.maximum(hi, block.max(axis=0), out=hi)
    return np.minimum(lo, 1.0), np.maximum(hi, -1.0)


def _logit(p: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.log(p) - np.log1p(-p)
    return out


def fit_dislike_stats(
    ratings: pd.DataFrame,
    items: ItemIndex,
    like_threshold: float,
    candidates: np.ndarray,
    *,
    min_corated: int = MIN_CORATED,
) -> DislikeStats:
    """Compute :class:`DislikeStats` from training ``ratings`` (user_id, movie_id, rating).

    ``candidates``: boolean mask over the model columns of the movies that can be recommended
    (the pair statistics are kept for them only). Ratings of movies the model has no column
    for are ignored.
    """
    n = len(items)
    cols = items.columns(ratings["movie_id"].to_numpy(np.int64))
    keep = cols >= 0
    cols = cols[keep]
    users = ratings["user_id"].to_numpy()[keep]
    values = ratings["rating"].to_numpy(np.float64)[keep]
    _, rows = np.unique(users, return_inverse=True)
    n_users = int(rows.max()) + 1 if rows.size else 0

    def matrix(data: np.ndarray, mask: np.ndarray | None = None) -> csr_matrix:
        r, c, d = (rows, cols, data) if mask is None else (rows[mask], cols[mask], data[mask])
        m = csr_matrix((d, (r, c)), shape=(n_users, n), dtype=np.float64)
        m.sum_duplicates()
        return m

    ones = np.ones(values.size)
    rated = matrix(ones)
    rated.data[:] = 1
    disliked_mask = values <= DISLIKE_MAX
    disliked = matrix(ones, disliked_mask)
    disliked.data[:] = 1
    liked = matrix(ones, values >= like_threshold)
    liked.data[:] = 1
    mean = np.bincount(rows, values, minlength=n_users) / np.maximum(
        np.bincount(rows, minlength=n_users), 1
    )
    centred = matrix(values - mean[rows])
    n_rated = np.asarray(rated.sum(axis=0)).ravel()
    n_disliked = np.asarray(disliked.sum(axis=0)).ravel()
    p0 = float(n_disliked.sum() / n_rated.sum()) if n_rated.sum() else 0.0
    p0 = min(max(p0, 1e-4), 1 - 1e-4)
    base = (n_disliked + PRIOR_SHRINK * p0) / (n_rated + PRIOR_SHRINK)
    prior = (_logit(base) - _logit(np.asarray(p0))).astype(np.float32)
    norms = np.sqrt(np.asarray(centred.multiply(centred).sum(axis=0)).ravel())
    norms = np.where(norms > 0, norms, 1.0)

    target = np.flatnonzero(candidates)
    base_t = base[target]
    rated_t, disliked_t, centred_t = rated[:, target], disliked[:, target], centred[:, target]
    rated_c, disliked_c, liked_c, centred_c = (m.tocsc() for m in (rated, disliked, liked, centred))
    indptr = [0]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("indices", "knn", "codis", "favdis")}
    for start in range(0, n, _CHUNK):
        block = slice(start, min(start + _CHUNK, n))
        co = (rated_c[:, block].T @ rated_t).toarray()
        keep_pairs = co >= min_corated
        keep_pairs &= target[None, :] != np.arange(block.start, block.stop)[:, None]
        knn = (centred_c[:, block].T @ centred_t).toarray()
        knn /= norms[block][:, None] * norms[target][None, :]
        knn *= co / (co + KNN_SHRINK)
        dd = (disliked_c[:, block].T @ disliked_t).toarray()
        dr = (disliked_c[:, block].T @ rated_t).toarray()
        ld = (liked_c[:, block].T @ disliked_t).toarray()
        lr = (liked_c[:, block].T @ rated_t).toarray()
        lift_base = _logit(base_t)[None, :]
        codis = _logit((dd + PRIOR_SHRINK * base_t) / (dr + PRIOR_SHRINK)) - lift_base
        favdis = _logit((ld + PRIOR_SHRINK * base_t) / (lr + PRIOR_SHRINK)) - lift_base
        r_idx, c_idx = np.nonzero(keep_pairs)
        counts = np.bincount(r_idx, minlength=co.shape[0])
        indptr.extend((indptr[-1] + np.cumsum(counts)).tolist())
        parts["indices"].append(target[c_idx].astype(np.int32))
        parts["knn"].append(knn[r_idx, c_idx].astype(np.float32))
        parts["codis"].append(codis[r_idx, c_idx].astype(np.float32))
        parts["favdis"].append(favdis[r_idx, c_idx].astype(np.float32))

    def joined(name: str, dtype: type) -> np.ndarray:
        chunks = parts[name]
        return np.concatenate(chunks).astype(dtype) if chunks else np.zeros(0, dtype=dtype)

    return DislikeStats(
        prior=prior,
        indptr=np.asarray(indptr, dtype=np.int64),
        indices=joined("indices", np.int32),
        knn=joined("knn", np.float16),
        codis=joined("codis", np.float16),
        favdis=joined("favdis", np.float16),
    )
