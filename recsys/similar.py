"""Similar movies: the same series first, then neighbours that share the movie's character.

A film fan asked for films like *The Matrix* expects *The Matrix Reloaded* and *Revolutions*
first, then films of the same kind. :class:`SimilarIndex` ranks candidates by a blend of

* the cosine of the similar-movies factors (who likes one likes the other),
* the genres (cosine of idf-weighted genre vectors: a shared *Animation* or *Documentary* says
  more than a shared *Drama*),
* the user tags of ``tags.csv`` where the release has them (cosine of TF-IDF tag vectors, computed
  at training time by :func:`tag_vectors`: "Studio Ghibli", "Coen Brothers", "Disney"),
* the makers (cosine of idf-weighted vectors of the directors, studios and other makers each
  movie is listed under in ``recsys/data/makers.tsv``, :func:`maker_vectors`: Kubrick, Pixar,
  the Coen brothers; what MovieLens does not say and a fan judges by), matched to the catalog's
  titles at the first call,
* the release years (``exp(-|Δyear| / 40)``: the same era),

and puts the films of the movie's series (:func:`recsys.series.series_keys`) before all others.
Weights were chosen on the labelled anchors of ``tests/data/similar_anchors.tsv`` (docs/similar.md).

Candidates are the movies with at least ``min_support`` likes in the training data (barely-liked
movies have noisy factors), series films too unless ``SimilarWeights.series_min_likes`` says
otherwise (3 lets "Rocky V", 7 likes on ml-latest-small, follow "Rocky" at a 1.7% low-support
share; the serving contract keeps every neighbour at ``min_support``), and a series film also needs
a fiftieth of the movie's own likes, so that a namesake nobody watched never leads the list.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from recsys.series import name_keys, series_keys

NO_SERIES = -1


@dataclass(frozen=True)
class SimilarWeights:
    """How the signals are blended (tuned on the anchors' tuning batch, see docs/similar.md)."""

    factors: float = 1.0
    genres: float = 0.3
    tags: float = 0.5
    makers: float = 0.6
    year: float = 0.3
    year_scale: float = 40.0  # years for the year similarity to fall to 1/e
    # a series film needs at least this many likes (None: the index's ``min_support``) ...
    series_min_likes: int | None = None
    series_share: float = 0.02  # ... and this share of the movie's own likes


def tag_vectors(tags: pd.DataFrame, item_ids: np.ndarray) -> csr_matrix:
    """Unit TF-IDF rows (one per item, in ``item_ids`` order) of the user tags of each movie.

    ``tags`` has columns ``movie_id`` and ``tag`` (one row per application, as in ``tags.csv``).
    Tags are compared case- and punctuation-insensitively; a tag counts once per movie however
    many users applied it (a few enthusiastic taggers should not outweigh the rest); the idf is
    over the items. Movies without tags get an empty row.
    """
    item_ids = np.asarray(item_ids, dtype=np.int64)
    n = item_ids.size
    if tags.empty or n == 0:
        return csr_matrix((n, 0), dtype=np.float32)
    words = tags["tag"].astype(str).str.lower().map(lambda t: re.sub(r"[^\w]+", " ", t).strip())
    movie_ids = tags["movie_id"].to_numpy(np.int64)
    rows = np.searchsorted(item_ids, movie_ids)
    rows = np.minimum(rows, n - 1)
    keep = (item_ids[rows] == movie_ids) & (words != "").to_numpy()
    if not keep.any():
        return csr_matrix((n, 0), dtype=np.float32)
    codes, vocabulary = pd.factorize(words[keep])
    pairs = np.unique(np.stack([rows[keep], codes.astype(np.int64)]), axis=1)
    matrix = csr_matrix(
        (np.ones(pairs.shape[1], dtype=np.float32), (pairs[0], pairs[1])),
        shape=(n, len(vocabulary)),
    )
    df = np.bincount(pairs[1], minlength=len(vocabulary))
    idf = np.log(n / (1.0 + df)).astype(np.float32)
    matrix = csr_matrix(matrix.multiply(idf[None, :]), dtype=np.float32)
    return _unit_rows(matrix)


def _unit_rows(matrix: csr_matrix) -> csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    scaled = csr_matrix(matrix.multiply(1.0 / norms[:, None]), dtype=np.float32)
    scaled.sort_indices()
    return scaled


# a maker and its films, each as (title key, year or None)
Makers = tuple[tuple[str, tuple[tuple[str, int | None], ...]], ...]

_FOREIGN_ARTICLES = ("la ", "le ", "les ", "il ", "el ", "los ", "las ", "der ", "die ", "das ")


@cache
def makers_table() -> Makers:
    """``recsys/data/makers.tsv``: (maker, ((title key, year or None), ...)) per line."""
    text = resources.files("recsys").joinpath("data/makers.tsv").read_text("utf-8")
    return parse_makers(text)


def parse_makers(text: str) -> Makers:
    """The makers of lines ``maker<TAB>film; film; ...``; a film: ``Title (1999)`` or ``Title``."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        maker, _, films = line.partition("\t")
        entries = []
        for film in films.split(";"):
            film = film.strip()
            m = re.match(r"^(?P<name>.+?)\s*\((?P<year>\d{4})\)$", film)
            name, year = (m["name"], int(m["year"])) if m else (film, None)
            keys = name_keys(name)
            if keys:
                entries.append((keys[0], year))
        if entries:
            out.append((maker.strip(), tuple(entries)))
    return tuple(out)


def maker_vectors(
    catalog: pd.DataFrame,
    item_ids: np.ndarray,
    support: np.ndarray,
    *,
    min_support: int = 0,
    table: Makers | None = None,
) -> csr_matrix:
    """Unit idf-weighted rows (items x makers) of the makers each movie is listed under.

    A film of the table is the catalog movie whose title (or an alternative title) has the same
    key, of that year (one year either way) when the table gives one, the most-liked such movie
    otherwise. Only movies with at least ``min_support`` likes are looked at (the others are
    never listed). A maker's idf is over the movies found, so that sharing a small maker (a
    director of ten films) counts more than sharing a big one (a studio of fifty).
    """
    item_ids = np.asarray(item_ids)
    n = item_ids.size
    table = makers_table() if table is None else table
    if not table or n == 0 or "name" not in catalog:
        return csr_matrix((n, 0), dtype=np.float32)
    eligible = np.flatnonzero(np.asarray(support) >= min_support)
    cat = catalog.reindex(item_ids[eligible])
    names = cat["name"].fillna("").astype(str).tolist()
    years = cat["year"].tolist() if "year" in cat else [None] * len(names)
    where: dict[str, list[int]] = {}
    for row, name in enumerate(names):
        for key in dict.fromkeys(name_keys(name)):
            where.setdefault(key, []).append(row)
    likes = np.asarray(support)[eligible]
    rows, cols = [], []
    for col, (_, films) in enumerate(table):
        for key, year in films:
            found = where.get(key)
            if not found and key.startswith(_FOREIGN_ARTICLES):
                found = where.get(key.split(" ", 1)[1])
            if not found:
                continue
            if year is not None:
                found = [r for r in found if _near(years[r], year)]
            if found:
                rows.append(int(eligible[max(found, key=lambda r: likes[r])]))
                cols.append(col)
    if not rows:
        return csr_matrix((n, 0), dtype=np.float32)
    pairs = np.unique(np.array([rows, cols], dtype=np.int64), axis=1)
    matrix = csr_matrix(
        (np.ones(pairs.shape[1], dtype=np.float32), (pairs[0], pairs[1])),
        shape=(n, len(table)),
    )
    df = np.bincount(pairs[1], minlength=len(table))
    idf = np.log(1.0 + pairs.shape[1] / np.maximum(df, 1)).astype(np.float32)
    return _unit_rows(csr_matrix(matrix.multiply(idf[None, :]), dtype=np.float32))


def _near(value: object, year: int) -> bool:
    """Whether a catalog year (maybe missing) is within one year of ``year``."""
    try:
        known = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return bool(abs(known - year) <= 1)


def series_codes(catalog: pd.DataFrame, item_ids: np.ndarray) -> np.ndarray:
    """Series of each item as an int code (``NO_SERIES`` when none), from the catalog's titles."""
    n = len(item_ids)
    if "name" not in catalog or n == 0:
        return np.full(n, NO_SERIES, dtype=np.int32)
    cat = catalog.reindex(np.asarray(item_ids))
    years = cat["year"].tolist() if "year" in cat else None
    keys = series_keys(cat["name"].fillna("").astype(str).tolist(), years=years)
    codes, _ = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
    return np.where(codes < 0, NO_SERIES, codes).astype(np.int32)


def _genre_vectors(catalog: pd.DataFrame, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a genre-combination code per item, unit idf-weighted vectors of the combinations).

    A catalog has a few thousand distinct genre strings at most, so similarity is computed
    between combinations and gathered per item. Without genres: one all-zero combination.
    """
    n = len(item_ids)
    if "genres" not in catalog or n == 0:
        return np.zeros(n, dtype=np.int32), np.zeros((1, 0), dtype=np.float32)
    codes, combos = pd.factorize(
        catalog["genres"].reindex(np.asarray(item_ids)).fillna("").astype(str)
    )
    lists = [str(c).split("|") for c in combos]
    names = sorted({g for gs in lists for g in gs if g and not g.startswith("(")})
    index = {g: i for i, g in enumerate(names)}
    distinct = np.zeros((len(combos), len(names)), dtype=np.float32)
    for row, genres in enumerate(lists):
        for g in genres:
            col = index.get(g)
            if col is not None:
                distinct[row, col] = 1.0
    counts = np.bincount(codes, minlength=len(combos)).astype(np.float32)
    idf = np.log(n / (1.0 + counts @ distinct)).astype(np.float32)
    distinct *= np.maximum(idf, 0.0)
    norms = np.linalg.norm(distinct, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return codes.astype(np.int32), np.ascontiguousarray(distinct / norms, dtype=np.float32)


def _year_similarity(
    catalog: pd.DataFrame, item_ids: np.ndarray, weight: float, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """(a code per item, table[code_a, code_b] = weight * exp(-|year_a - year_b| / scale)).

    The last code stands for "year unknown", whose row and column are zero.
    """
    n = len(item_ids)
    if "year" in catalog and n:
        years = catalog["year"].reindex(np.asarray(item_ids)).astype("float64").to_numpy()
    else:
        years = np.full(n, np.nan)
    known = ~np.isnan(years)
    distinct, codes = np.unique(years[known], return_inverse=True)
    out = np.full(n, distinct.size, dtype=np.int32)
    out[known] = codes
    table = np.zeros((distinct.size + 1, distinct.size + 1), dtype=np.float32)
    if distinct.size and weight:
        gap = np.abs(distinct[:, None] - distinct[None, :])
        table[:-1, :-1] = weight * np.exp(-gap / scale)
    return out, table


def _unit(factors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(factors, axis=1, keepdims=True)
    norms[norms == 0] = 1e-10
    return np.ascontiguousarray(factors / norms, dtype=np.float32)


class _Sparse:
    """A sparse signal of the blend (tag or maker vectors): weighted cosine of unit rows."""

    def __init__(self, rows: csr_matrix, pool: np.ndarray, weight: float):
        self.rows = csr_matrix(rows, dtype=np.float32)
        self.weight = weight
        # per feature, the pool rows that carry it (an inverted index: a query reads a few)
        self.pool = csr_matrix(self.rows[pool] * weight, dtype=np.float32).tocsc()

    def scores(self, column: int, candidates: np.ndarray | None, pool_size: int) -> np.ndarray:
        """Weighted cosine of ``column`` against the pool (or the candidate columns)."""
        rows = self.rows
        lo, hi = rows.indptr[column], rows.indptr[column + 1]
        size = pool_size if candidates is None else candidates.size
        if lo == hi:
            return np.zeros(size, dtype=np.float32)
        if candidates is not None:
            block = rows[candidates] @ rows[column].T * self.weight
            return np.asarray(block.todense(), dtype=np.float32).ravel()
        pool = self.pool
        hits, weights = [], []
        for feature, value in zip(rows.indices[lo:hi], rows.data[lo:hi], strict=True):
            a, b = pool.indptr[feature], pool.indptr[feature + 1]
            hits.append(pool.indices[a:b])
            weights.append(pool.data[a:b] * value)
        out: np.ndarray = np.bincount(
            np.concatenate(hits), weights=np.concatenate(weights), minlength=size
        ).astype(np.float32)
        return out


class SimilarIndex:
    """Nearest movies by series, factors, genres, tags and years (see the module docstring).

    Built once when a model is loaded; :meth:`top` only reads it, so concurrent calls are safe.
    """

    def __init__(
        self,
        factors: np.ndarray,
        support: np.ndarray,
        *,
        catalog: pd.DataFrame | None = None,
        item_ids: np.ndarray | None = None,
        min_support: int = 10,
        shrink: float = 0.0,
        tags: csr_matrix | None = None,
        series: np.ndarray | None = None,
        weights: SimilarWeights | None = None,
        makers: csr_matrix | None = None,
    ):
        """Precompute the candidates' blocks.

        Args:
            factors: item factors (n_items x k), the similar-movies model's.
            support: likes per item in the training data.
            catalog: the catalog (genres, year and names are read); None: factors only.
            item_ids: movieId per item (needed with ``catalog``).
            min_support: candidates need at least this many likes.
            shrink: the factor cosine is multiplied by ``likes / (likes + shrink)`` (0: off).
            tags: :func:`tag_vectors` of the items (None: no tags).
            series: :func:`series_codes` of the items (None: computed from ``catalog``).
            weights: the blend (None: :class:`SimilarWeights` defaults).
            makers: :func:`maker_vectors` of the items (None: computed from ``catalog`` when
                ``weights.makers`` is on).
        """
        self.weights = weights = weights or SimilarWeights()
        support = np.asarray(support, dtype=np.int64)
        n = support.size
        if factors.shape[0] != n:
            raise ValueError(f"{factors.shape[0]} factor rows for {n} items")
        self._catalog = catalog if catalog is not None else pd.DataFrame()
        self._ids = np.arange(n) if item_ids is None else np.asarray(item_ids)
        self._support = support
        self._series_min_likes = (
            min_support if weights.series_min_likes is None else weights.series_min_likes
        )
        self._pool = np.flatnonzero(support >= min_support).astype(np.int64)
        self._position = np.full(n, -1, dtype=np.int64)
        self._position[self._pool] = np.arange(self._pool.size)
        # scores are divided by the sum of the weights, so that they lie in [-1, 1]
        self._scale = np.float32(
            1.0
            / max(
                1e-9,
                weights.factors + weights.genres + weights.tags + weights.makers + weights.year,
            )
        )
        # the factor cosine is one product with the candidates' block (weight and scale folded
        # in); genres and years are lookups in small tables by a code per movie
        self._unit = _unit(np.asarray(factors, dtype=np.float32))
        pool_unit = self._unit[self._pool] * np.float32(weights.factors * self._scale)
        if shrink > 0:
            pool_unit *= (support[self._pool] / (support[self._pool] + shrink))[:, None]
        self._pool_unit = np.ascontiguousarray(pool_unit, dtype=np.float32)
        self._genre_code, genre_vectors = _genre_vectors(self._catalog, self._ids)
        self._genre_vectors = genre_vectors * np.float32(weights.genres * self._scale)
        self._genre_unit = genre_vectors
        self._pool_genre_code = self._genre_code[self._pool]
        self._year_code, self._year_table = _year_similarity(
            self._catalog, self._ids, weights.year * float(self._scale), weights.year_scale
        )
        self._pool_year_code = self._year_code[self._pool]
        # sparse signals (tags, makers): unit rows; per feature, the pool rows that carry it
        self._sparse: list[_Sparse] = []
        if tags is not None and tags.shape[0] == n and tags.nnz and weights.tags:
            self._sparse.append(_Sparse(tags, self._pool, weights.tags * float(self._scale)))
        # makers: given, or read from the catalog's titles at the first call (load stays cheap:
        # matching the titles of ml-32m's 48k candidates takes about a second)
        self._min_support = min_support
        self._makers_pending = bool(
            weights.makers and makers is None and item_ids is not None and "name" in self._catalog
        )
        self._makers_lock = threading.Lock()
        if makers is not None:
            self._add_makers(makers)
        if series is not None and np.asarray(series).shape != (n,):
            raise ValueError(f"{np.asarray(series).shape} series codes for {n} items")
        self._series: np.ndarray | None = None
        self._series_members: list[np.ndarray] = []
        self._series_lock = threading.Lock()
        if series is not None:
            self._set_series(np.asarray(series, dtype=np.int32))

    def _add_makers(self, makers: csr_matrix) -> None:
        if makers.shape[0] == self.n_items and makers.nnz and self.weights.makers:
            weight = self.weights.makers * float(self._scale)
            self._sparse = [*self._sparse, _Sparse(makers, self._pool, weight)]

    def _ensure_makers(self) -> None:
        """The maker vectors, read from the catalog at the first call that needs them."""
        if self._makers_pending:
            with self._makers_lock:
                if self._makers_pending:
                    self._add_makers(
                        maker_vectors(
                            self._catalog, self._ids, self._support, min_support=self._min_support
                        )
                    )
                    self._makers_pending = False

    def warm_up(self) -> None:
        """Compute now what the first call would otherwise: makers' vectors, old series codes.

        The makers are read from the catalog's titles (about a second on an ml-32m-sized
        catalog), and an artifact saved before series codes were stored gets them. Safe
        alongside calls from other threads (each is computed once, under its lock).
        """
        self._ensure_makers()
        _ = self.series

    def _set_series(self, codes: np.ndarray) -> None:
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(int(codes.max(initial=-1)) + 2))
        self._series_members = [order[bounds[i] : bounds[i + 1]] for i in range(bounds.size - 1)]
        self._series = codes

    @property
    def series(self) -> np.ndarray:
        """Series code per item (``NO_SERIES``: none).

        An artifact saved before series codes were stored gets them from the catalog's titles on
        first use, only for the movies that may be listed (a few seconds on ml-32m's catalog;
        load time stays as it was).
        """
        if self._series is None:
            with self._series_lock:
                if self._series is None:
                    eligible = np.flatnonzero(
                        self._support >= min(self._series_min_likes, self._pool_min())
                    )
                    codes = np.full(self.n_items, NO_SERIES, dtype=np.int32)
                    codes[eligible] = series_codes(self._catalog, self._ids[eligible])
                    self._set_series(codes)
        assert self._series is not None
        return self._series

    def _pool_min(self) -> int:
        return int(self._support[self._pool].min()) if self._pool.size else 0

    @property
    def n_items(self) -> int:
        """Number of items (columns)."""
        return int(self._support.size)

    @property
    def unit_factors(self) -> np.ndarray:
        """The items' factor vectors scaled to unit length (read-only use)."""
        return self._unit

    def scores(self, column: int, candidates: np.ndarray) -> np.ndarray:
        """The blend score of ``column`` against each of the ``candidates`` columns."""
        return self._scores(column, candidates)

    def _scores(self, column: int, candidates: np.ndarray | None) -> np.ndarray:
        """Blend scores of ``column`` against the pool (or the given candidate columns)."""
        self._ensure_makers()
        if candidates is None:
            scores = self._pool_unit @ self._unit[column]
            genre_codes, year_codes = self._pool_genre_code, self._pool_year_code
        else:
            weight = np.float32(self.weights.factors * self._scale)
            scores = (self._unit[candidates] @ self._unit[column]) * weight
            genre_codes, year_codes = self._genre_code[candidates], self._year_code[candidates]
        genres = self._genre_vectors @ self._genre_unit[self._genre_code[column]]
        scores += genres[genre_codes]
        scores += self._year_table[self._year_code[column]][year_codes]
        for signal in self._sparse:
            scores += signal.scores(column, candidates, self._pool.size)
        out: np.ndarray = scores.astype(np.float32, copy=False)
        return out

    def _series_films(self, column: int) -> np.ndarray:
        code = int(self.series[column])
        if code == NO_SERIES:
            return np.zeros(0, dtype=np.int64)
        members = self._series_members[code]
        needed = max(self._series_min_likes, self.weights.series_share * self._support[column])
        keep = (members != column) & (self._support[members] >= needed)
        films: np.ndarray = members[keep].astype(np.int64)
        return films

    def top(self, column: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` columns most similar to ``column`` (itself excluded), best first.

        Scores are the blend divided by the sum of the weights (in [-1, 1]). Films of its series
        come first, the best ``n`` by the blend in release order, each scoring at least as much as
        the films after it.
        """
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if not 0 <= column < self.n_items or n <= 0:
            return empty
        series = self._series_films(column)
        first_cols = np.zeros(0, dtype=np.int64)
        first_scores = np.zeros(0, dtype=np.float32)
        if series.size:
            s = self._scores(column, series)
            best = np.argsort(-s, kind="stable")[:n]
            # the chosen series films in release order (unknown years last, then by movieId: the
            # order MovieLens added them), as a fan reads them
            chosen = series[best]
            best = best[np.lexsort((self._ids[chosen], self._year_code[chosen]))]
            first_cols = series[best]
            # each scores at least as much as the ones after it: the list stays in score order
            first_scores = np.maximum.accumulate(s[best][::-1])[::-1].astype(np.float32)
        rest = n - first_cols.size
        if rest <= 0 or self._pool.size == 0:
            return first_cols, first_scores
        scores = self._scores(column, None)
        taken = self._position[np.append(first_cols, column)]
        scores[taken[taken >= 0]] = -np.inf
        k = min(rest, self._pool.size)
        part = np.argpartition(-scores, k - 1)[:k]
        part = part[np.argsort(-scores[part], kind="stable")]
        part = part[np.isfinite(scores[part])]
        if part.size and first_scores.size:
            first_scores = np.maximum(first_scores, scores[part[0]])
        return (
            np.concatenate([first_cols, self._pool[part]]),
            np.concatenate([first_scores, scores[part]]).astype(np.float32),
        )
