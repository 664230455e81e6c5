"""The serving API the bot calls: recommendations by fold-in, similar movies and explanations.

A :class:`Recommender` is built from a saved artifact (:mod:`recsys.artifact`) and never changes:
a chat's favorites are folded in per call (``recalculate_user``: nothing is refit or stored), so
every method is synchronous, CPU-bound and safe to call from several threads at once.

Input is never trusted: favorites may be unknown to the catalog, unknown to the model (nobody liked
them in the training data), duplicated, or cover every movie the model knows; each case gives a
normal result, never an exception.
"""

from __future__ import annotations

import logging
import operator
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.als import AlsParams, AlsScorer, fit_item_factors
from recsys.artifact import ArtifactError, ModelArtifact, load_artifact, save_artifact
from recsys.defaults import TrainConfig, default_config
from recsys.matrix import Interactions, ItemIndex, Weighting, build_interactions
from recsys.movielens import (
    DataPaths,
    Release,
    get_release,
    load_catalog,
    load_ratings,
    load_tags,
    release_checksums,
)
from recsys.similar import SimilarIndex, series_codes, tag_vectors

logger = logging.getLogger(__name__)

MAX_BECAUSE = 3
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class FilterError(ValueError):
    """A filter this catalog cannot apply; the message says why and what is known."""


@dataclass(frozen=True)
class Filters:
    """Candidate restrictions of a recommendation list (applied inside the ranking).

    A movie passes ``genres`` when any of its genres is among them, and fails ``exclude_genres``
    when any is; years are inclusive; ``recent`` keeps the newest part of the catalog.
    Genre names are the catalog's (``Recommender.genres``).
    """

    genres: frozenset[str] = frozenset()
    exclude_genres: frozenset[str] = frozenset()
    year_min: int | None = None
    year_max: int | None = None
    recent: bool = False


@dataclass(frozen=True)
class Recommendation:
    """One recommended movie and the favorites that contributed most to it (strongest first)."""

    movie_id: int
    title: str
    score: float
    because: tuple[int, ...]


@dataclass(frozen=True)
class RecommendResult:
    """Recommendations; ``fallback``: no usable favorites, so these are the most popular movies.

    ``ignored``: favorites the model does not know (nobody liked them in its training data, or
    not in the catalog at all).
    """

    items: tuple[Recommendation, ...]
    fallback: bool
    ignored: tuple[int, ...]


@dataclass(frozen=True)
class SimilarMovie:
    """A movie similar to another one (cosine of their factors, shrunk by support)."""

    movie_id: int
    title: str
    score: float


@dataclass(frozen=True)
class Explanation:
    """Why ``movie_id`` would be recommended for a set of favorites.

    ``known=False``: the model has no factors for this movie. ``rank`` is its 1-based position
    among all movies that are not favorites (None when it is a favorite itself or nothing could be
    folded in); ``contributions`` are (favorite movieId, share of the score), largest first.
    """

    movie_id: int
    known: bool
    rank: int | None
    n_items: int
    score: float | None
    contributions: tuple[tuple[int, float], ...]
    ignored: tuple[int, ...]


# --------------------------------------------------------------------------------------------
# Training


@dataclass(frozen=True)
class TrainedModel:
    """The result of :func:`fit_model`: factors plus the maps and weighting they belong to."""

    interactions: Interactions
    weighting: Weighting
    item_factors: np.ndarray
    config: TrainConfig
    seconds: float
    similar_factors: np.ndarray | None = None


def als_params(config: TrainConfig) -> AlsParams:
    """The ALS part of a configuration."""
    return AlsParams(
        factors=config.factors,
        regularization=config.regularization,
        alpha=config.alpha,
        iterations=config.iterations,
        seed=config.seed,
    )


def similar_params(config: TrainConfig) -> AlsParams:
    """The ALS parameters of the similar-movies model (see ``TrainConfig.similar_factors``)."""
    return AlsParams(
        factors=config.similar_factors,
        regularization=config.similar_regularization,
        alpha=config.similar_alpha,
        iterations=config.iterations,
        seed=config.seed,
    )


def serving_params(config: TrainConfig) -> AlsParams:
    """The ALS parameters of fold-in and explain (the fold-in regularization may differ)."""
    params = als_params(config)
    if config.fold_in_regularization is None:
        return params
    return replace(params, regularization=float(config.fold_in_regularization))


def like_threshold(release: Release, config: TrainConfig) -> float:
    """The rating at or above which a rating is a like: the config's, else the release's."""
    return release.like_threshold if config.threshold is None else config.threshold


def fit_model(
    ratings: pd.DataFrame,
    release: Release,
    config: TrainConfig,
    *,
    progress: bool = False,
    num_threads: int = 0,
) -> TrainedModel:
    """Like rule → matrix → weighting → ALS on ``ratings`` (deterministic for ``config.seed``)."""
    threshold = like_threshold(release, config)
    start = time.perf_counter()
    interactions = build_interactions(ratings, threshold)
    return fit_interactions(
        interactions, config, progress=progress, num_threads=num_threads, started=start
    )


def fit_interactions(
    interactions: Interactions,
    config: TrainConfig,
    *,
    progress: bool = False,
    num_threads: int = 0,
    started: float | None = None,
) -> TrainedModel:
    """Weighting → ALS on an already built like matrix (see :func:`fit_model`)."""
    start = time.perf_counter() if started is None else started
    weighting = Weighting.fit(interactions.matrix, config.scheme, k1=config.k1, b=config.b)
    weighted = weighting.apply(interactions.matrix)
    factors = fit_item_factors(
        weighted, als_params(config), progress=progress, num_threads=num_threads
    )
    similar = None
    if config.similar_factors > 0:
        similar = fit_item_factors(
            weighted, similar_params(config), progress=progress, num_threads=num_threads
        )
    return TrainedModel(
        interactions=interactions,
        weighting=weighting,
        item_factors=factors,
        config=config,
        seconds=time.perf_counter() - start,
        similar_factors=similar,
    )


def make_artifact(
    trained: TrainedModel,
    catalog: pd.DataFrame,
    release: Release,
    *,
    checksums: dict[str, str] | None = None,
    evaluation: dict[str, Any] | None = None,
    tags: pd.DataFrame | None = None,
) -> ModelArtifact:
    """Bundle a trained model with its catalog and metadata.

    ``tags`` (``movie_id``, ``tag``: the release's user tags) become the similar-movies tag
    vectors; the series of each movie is read from the catalog's titles.
    """
    item_ids = trained.interactions.items.item_ids
    weighting = trained.weighting
    meta: dict[str, Any] = {
        "release": release.name,
        "like_threshold": trained.interactions.threshold,
        "checksums": checksums or {},
        "config": trained.config.to_dict(),
        "weighting": weighting.params(),
        "training": {
            "users": int(trained.interactions.matrix.shape[0]),
            "items": int(trained.interactions.matrix.shape[1]),
            "likes": int(trained.interactions.matrix.nnz),
            "seconds": round(trained.seconds, 3),
        },
        "evaluation": evaluation,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return ModelArtifact(
        item_factors=trained.item_factors,
        item_ids=trained.interactions.items.item_ids,
        support=trained.interactions.support,
        idf=weighting.idf,
        catalog=catalog,
        metadata=meta,
        similar_factors=trained.similar_factors,
        series=series_codes(catalog, item_ids),
        tag_vectors=None if tags is None else tag_vectors(tags, item_ids),
    )


def train(
    paths: DataPaths,
    dataset: str,
    *,
    config: TrainConfig | None = None,
    progress: bool = True,
    evaluation: dict[str, Any] | None = None,
) -> ModelArtifact:
    """Read a release (downloading it if needed) and train a model artifact on all its ratings."""
    release = get_release(dataset)
    config = config or default_config(release.name)
    folder = paths.release_folder(release.name, progress=progress)
    ratings = load_ratings(folder, release)
    catalog = load_catalog(folder, release, ratings)
    tags = load_tags(folder, release)
    logger.info("Training on %s: %d ratings, config %s", release.name, len(ratings), config)
    start = time.perf_counter()
    threshold = like_threshold(release, config)
    interactions = build_interactions(ratings, threshold)
    del ratings  # the largest object of all; the fit needs only the like matrix
    trained = fit_interactions(interactions, config, progress=progress, started=start)
    return make_artifact(
        trained,
        catalog,
        release,
        checksums=release_checksums(folder, release),
        evaluation=evaluation,
        tags=tags,
    )


# --------------------------------------------------------------------------------------------
# Serving


def _as_ids(values: Iterable[Any]) -> list[int]:
    """Distinct integer ids in first-seen order; anything that is not an integer is dropped."""
    out: dict[int, None] = {}
    try:
        iterator = iter(values)
    except TypeError:
        return []
    for value in iterator:
        if isinstance(value, bool):
            continue
        try:
            out[operator.index(value)] = None
        except TypeError:
            continue
    return list(out)


class Recommender:
    """Recommendations, similar movies and explanations from a trained model artifact."""

    catalog: pd.DataFrame

    def __init__(self, artifact: ModelArtifact):
        """Build the serving structures (caches are filled here, never lazily)."""
        meta = artifact.metadata
        self.metadata = meta
        self.config = TrainConfig.from_dict(meta.get("config") or {})
        self.catalog = artifact.catalog
        self.items = ItemIndex(artifact.item_ids)
        self.support = np.asarray(artifact.support, dtype=np.int64)
        w = meta.get("weighting") or {"scheme": "plain"}
        self.weighting = Weighting(
            scheme=str(w.get("scheme", "plain")),
            k1=float(w.get("k1", 100.0)),
            b=float(w.get("b", 0.8)),
            idf=artifact.idf,
            avg_length=float(w.get("avg_length", 1.0)),
        )
        if self.weighting.scheme == "bm25" and artifact.idf is None:
            raise ArtifactError(
                "The model uses BM25 weighting but stores no idf; train it again "
                "with `moviebot train`."
            )
        self.scorer = AlsScorer(
            artifact.item_factors,
            serving_params(self.config),
            candidates=self.support >= self.config.candidate_min_support,
        )
        titles = self.catalog["title"].reindex(self.items.item_ids)
        self._titles = titles.fillna("").astype(str).to_numpy(dtype=object)
        self._popular = np.lexsort((self.items.item_ids, -self.support))
        self._similar = SimilarIndex(
            artifact.item_factors if artifact.similar_factors is None else artifact.similar_factors,
            self.support,
            catalog=self.catalog,
            item_ids=self.items.item_ids,
            min_support=self.config.min_support,
            shrink=self.config.shrink,
            tags=artifact.tag_vectors,
            series=artifact.series,
        )

    @classmethod
    def from_trained(
        cls, trained: TrainedModel, release: Release, catalog: pd.DataFrame | None = None
    ) -> Recommender:
        """A recommender straight from :func:`fit_model` (no artifact on disk; for evaluation)."""
        if catalog is None:
            catalog = pd.DataFrame(
                {"title": pd.Series(dtype=str)}, index=pd.Index([], dtype=np.int64, name="movie_id")
            )
        return cls(make_artifact(trained, catalog, release))

    @classmethod
    def load(cls, path: Path) -> Recommender:
        """Load an artifact folder; raises :class:`ArtifactError` saying what to do."""
        return cls(load_artifact(Path(path)))

    @property
    def n_items(self) -> int:
        """Number of movies the model has factors for."""
        return len(self.items)

    def knows(self, movie_id: int) -> bool:
        """Whether the model has factors for ``movie_id``."""
        return self._column(movie_id) is not None

    def title(self, movie_id: int) -> str:
        """The catalog title of a movie (empty if it is not in the catalog)."""
        ids = _as_ids([movie_id])
        if not ids or ids[0] not in self.catalog.index:
            return ""
        return str(self.catalog.at[ids[0], "title"])

    def _columns(self, ids: list[int]) -> np.ndarray:
        """Columns of movieIds, -1 where unknown (including ids beyond int64)."""
        cols = np.full(len(ids), -1, dtype=np.int64)
        fits = [i for i, x in enumerate(ids) if _INT64_MIN <= x <= _INT64_MAX]
        if fits:
            cols[fits] = self.items.columns([ids[i] for i in fits])
        return cols

    def _column(self, movie_id: Any) -> int | None:
        """Column of one movieId, None if unknown or not an integer."""
        ids = _as_ids([movie_id])
        if not ids:
            return None
        col = int(self._columns(ids)[0])
        return None if col < 0 else col

    def _split(self, favorites: Iterable[int]) -> tuple[list[int], np.ndarray, tuple[int, ...]]:
        """(distinct favorites, their known columns, ignored movieIds)."""
        ids = _as_ids(favorites)
        cols = self._columns(ids)
        ignored = tuple(i for i, c in zip(ids, cols, strict=True) if c < 0)
        return ids, cols[cols >= 0], ignored

    def fold_in_rows(self, column_lists: Iterable[np.ndarray]) -> Any:
        """Weighted csr rows (one per list of known columns), weighted as training rows were."""
        return self.weighting.rows(column_lists, self.n_items)

    @property
    def genres(self) -> tuple[str, ...]:
        """The catalog's genre names (MovieLens spelling, e.g. ``Sci-Fi``), sorted."""
        names = {g for value in self.catalog.get("genres", ()) for g in str(value).split("|") if g}
        return tuple(sorted(names))

    def check_filters(self, filters: Filters | None) -> Filters | None:
        """``filters`` validated against this catalog; raises :class:`FilterError` saying why."""
        if filters is None:
            return None
        known = set(self.genres)
        unknown = sorted((filters.genres | filters.exclude_genres) - known)
        if unknown:
            raise FilterError(
                f"Unknown genre {', '.join(unknown)}; known genres: {', '.join(self.genres)}."
            )
        lo, hi = filters.year_min, filters.year_max
        if lo is not None and hi is not None and lo > hi:
            raise FilterError(
                f"The year range {lo}-{hi} is empty (the first year is after the last)."
            )
        return filters

    def _allowed(self, filters: Filters | None) -> np.ndarray | None:
        """Boolean mask over columns of the movies that pass ``filters`` (None: all pass)."""
        if filters is None or filters == Filters():
            return None
        cat = self.catalog.reindex(self.items.item_ids)
        genres = cat["genres"].fillna("").astype(str).str.split("|")
        ok = np.ones(self.n_items, dtype=bool)
        if filters.genres:
            ok &= genres.map(lambda gs: bool(filters.genres.intersection(gs))).to_numpy(bool)
        if filters.exclude_genres:
            ok &= ~genres.map(lambda gs: bool(filters.exclude_genres.intersection(gs))).to_numpy(
                bool
            )
        years = cat["year"].astype("float64").to_numpy()
        if filters.recent:
            known_years = years[~np.isnan(years)]
            if known_years.size:
                ok &= years >= np.quantile(known_years, 0.9)
        if filters.year_min is not None:
            ok &= years >= filters.year_min
        if filters.year_max is not None:
            ok &= years <= filters.year_max
        return ok

    def recommend(
        self,
        favorites: Iterable[int],
        n: int = 10,
        *,
        dislikes: Iterable[int] = (),
        seen: Iterable[int] = (),
        filters: Filters | None = None,
        discover: bool = False,
    ) -> RecommendResult:
        """Top ``n`` movies for a set of favorite movieIds, never a favorite itself.

        ``dislikes`` ("not for me") and ``seen`` (seen, or hidden) are never recommended;
        ``filters`` restrict the candidates (raises :class:`FilterError` when invalid);
        ``discover`` leans to lesser-known movies.
        """
        # Interface stub (Engine II fills in the steering, calibration and discover ranking).
        filters = self.check_filters(filters)
        ids, cols, ignored = self._split(favorites)
        hidden = set(_as_ids(dislikes)) | set(_as_ids(seen)) | set(ids)
        allowed = self._allowed(filters)
        n = max(0, min(int(n), self.n_items))
        if cols.size == 0:
            popular = self._popular_items(hidden, self.n_items if allowed is not None else n)
            if allowed is not None:
                popular = tuple(
                    p for p in popular if allowed[int(self.items.columns([p.movie_id])[0])]
                )[:n]
            return RecommendResult(items=popular, fallback=True, ignored=ignored)
        if n == 0:
            return RecommendResult(items=(), fallback=False, ignored=ignored)
        row = self.fold_in_rows([cols])
        wanted = self.n_items if allowed is not None or hidden else n
        rec_cols, scores = self.scorer.recommend(row, wanted)
        keep = rec_cols[0] >= 0
        rec_cols, scores = rec_cols[0][keep], scores[0][keep]
        ok = np.array([int(self.items.item_ids[c]) not in hidden for c in rec_cols], dtype=bool)
        if allowed is not None:
            ok &= allowed[rec_cols]
        rec_cols, scores = rec_cols[ok][:n], scores[ok][:n]
        because = self._because(row, rec_cols)
        items = tuple(
            Recommendation(
                movie_id=int(self.items.item_ids[c]),
                title=self._titles[c],
                score=float(s),
                because=b,
            )
            for c, s, b in zip(rec_cols, scores, because, strict=True)
        )
        return RecommendResult(items=items, fallback=False, ignored=ignored)

    def recommend_batch(self, favorites: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` movieIds for many favorite lists at once (one batched fold-in).

        The same rules as :meth:`recommend` without explanations: unknown favorites are ignored,
        a list with no known favorite gets the most popular movies. Returns ``(movie_ids,
        fallback)``: an (rows × n) array padded with ``-1``, and a boolean mask of fallback rows.
        """
        n = max(0, min(int(n), self.n_items))
        out = np.full((len(favorites), n), -1, dtype=np.int64)
        col_lists = [
            self.items.columns(np.unique(np.asarray(f, dtype=np.int64))) for f in favorites
        ]
        col_lists = [c[c >= 0] for c in col_lists]
        fallback = np.array([c.size == 0 for c in col_lists], dtype=bool)
        live = np.flatnonzero(~fallback)
        if live.size and n:
            rows = self.fold_in_rows([col_lists[i] for i in live])
            cols, _ = self.scorer.recommend(rows, n)
            ids = np.where(cols >= 0, self.items.item_ids[np.maximum(cols, 0)], -1)
            out[live] = ids
        for i in np.flatnonzero(fallback):
            popular = self._popular_items({int(x) for x in np.asarray(favorites[i]).tolist()}, n)
            out[i, : len(popular)] = [p.movie_id for p in popular]
        return out, fallback

    def _because(self, row: Any, rec_cols: np.ndarray) -> list[tuple[int, ...]]:
        if rec_cols.size == 0:
            return []
        liked, contributions = self.scorer.explain_many(row, rec_cols)
        top = np.argsort(-contributions, axis=0, kind="stable")[:MAX_BECAUSE]  # per column
        positive = np.take_along_axis(contributions, top, axis=0) > 0
        movie_ids = self.items.item_ids[liked][top].T.tolist()
        return [
            tuple(m for m, ok in zip(ids, oks, strict=True) if ok)
            for ids, oks in zip(movie_ids, positive.T.tolist(), strict=True)
        ]

    def _popular_items(self, exclude: set[int], n: int) -> tuple[Recommendation, ...]:
        items: list[Recommendation] = []
        for col in self._popular:
            if len(items) >= n:
                break
            movie_id = int(self.items.item_ids[col])
            if movie_id in exclude:
                continue
            items.append(
                Recommendation(
                    movie_id=movie_id,
                    title=self._titles[col],
                    score=float(self.support[col]),
                    because=(),
                )
            )
        return tuple(items)

    def similar(self, movie_id: int, n: int = 10) -> tuple[SimilarMovie, ...]:
        """Movies most like ``movie_id``; () if the model does not know it.

        Its series first, then the blend of factors, genres, tags and years of
        :mod:`recsys.similar`. Only movies with at least ``min_support`` likes are candidates,
        series films too: barely-liked movies have noisy directions.
        """
        col = self._column(movie_id)
        if col is None or int(n) <= 0:
            return ()
        cols, scores = self._similar.top(col, int(n))
        return tuple(
            SimilarMovie(
                movie_id=int(self.items.item_ids[c]), title=self._titles[c], score=float(s)
            )
            for c, s in zip(cols, scores, strict=True)
        )

    def why(
        self, movie_id: int, favorites: Iterable[int], *, dislikes: Iterable[int] = ()
    ) -> Explanation:
        """Explain the score of ``movie_id`` for a set of favorites (ALS ``explain``)."""
        _, cols, ignored = self._split(favorites)
        target = _as_ids([movie_id])
        target_id = target[0] if target else -1
        col = self._column(movie_id)
        if col is None:
            return Explanation(
                movie_id=target_id,
                known=False,
                rank=None,
                n_items=self.n_items,
                score=None,
                contributions=(),
                ignored=ignored,
            )
        if cols.size == 0:
            return Explanation(
                movie_id=target_id,
                known=True,
                rank=None,
                n_items=self.n_items,
                score=None,
                contributions=(),
                ignored=ignored,
            )
        row = self.fold_in_rows([cols])
        _, top = self.scorer.explain(row, col, n=int(cols.size))
        user = self.scorer.user_factors(row)[0]
        scores = self.scorer.item_factors @ user
        rank: int | None = None
        if col not in set(cols.tolist()):
            others = np.ones(self.n_items, dtype=bool)
            others[cols] = False
            rank = 1 + int(np.count_nonzero(scores[others] > scores[col]))
        contributions = tuple((int(self.items.item_ids[c]), s) for c, s in top)
        return Explanation(
            movie_id=target_id,
            known=True,
            rank=rank,
            n_items=self.n_items,
            score=float(scores[col]),
            contributions=contributions,
            ignored=ignored,
        )


def load_or_train(
    paths: DataPaths, dataset: str, model_path: Path, *, progress: bool = True
) -> Recommender:
    """Load the model at ``model_path``; train and save it first if it is missing or unusable.

    An artifact of another release, or one this version cannot read, is replaced.
    """
    model_path = Path(model_path)
    try:
        rec = Recommender.load(model_path)
    except ArtifactError as exc:
        if model_path.exists():
            logger.warning("Retraining: %s", exc)
        else:
            logger.info("No model at %s yet: training %s", model_path, dataset)
    else:
        if rec.metadata.get("release") == dataset:
            return rec
        logger.warning(
            "%s holds a %s model, %s is configured: retraining",
            model_path,
            rec.metadata.get("release"),
            dataset,
        )
    artifact = train(paths, dataset, progress=progress)
    save_artifact(artifact, model_path)
    return Recommender.load(model_path)
