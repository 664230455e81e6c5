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
import math
import operator
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from recsys.als import AlsParams, AlsScorer, FoldIn, fit_item_factors
from recsys.artifact import ArtifactError, ModelArtifact, load_artifact, save_artifact
from recsys.defaults import TrainConfig, default_config
from recsys.dislike import DISLIKE_MAX, DislikeStats, PoolSignal, fit_dislike_stats
from recsys.ease import EaseScorer, fit_ease
from recsys.ease import check_size as check_ease_size
from recsys.joint import JointSignal, fit_joint_factors
from recsys.matrix import (
    Interactions,
    ItemIndex,
    Weighting,
    build_interactions,
    sorted_positions,
)
from recsys.movielens import (
    DataPaths,
    Release,
    get_release,
    load_catalog,
    load_ratings,
    load_tags,
    release_checksums,
)
from recsys.rerank import (
    AvoidDisliked,
    Calibrate,
    Context,
    GemQuota,
    ItemFeatures,
    Ranking,
    SeriesCap,
    Step,
    genre_distribution,
)
from recsys.rerank import rerank as apply_steps
from recsys.scorer import ALGORITHMS, Scorer
from recsys.series import series_keys
from recsys.similar import SimilarIndex, series_codes, tag_vectors

logger = logging.getLogger(__name__)

MAX_BECAUSE = 3
HEAD_SHARE = 0.2  # discover mode's "most-liked movies": the top 20% of the model's movies
RECENT_QUANTILE = 0.9  # Filters.recent: the newest 10% of the model's movies (by year)
NO_GENRES = "(no genres listed)"
MIN_YEAR, MAX_YEAR = 1800, 2200
MAX_CACHED_FILTERS = 256
_DICT_LOOKUP_MAX = 256  # Recommender._columns: up to this many ids, one dict lookup each
_SORT_ALL = 256  # _best: up to this many scores, one lexsort of them all beats argpartition
STEER_DEPTH = 100  # candidates whose dislike signal a request computes first (_Steering)
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
    not in the catalog at all). ``contradictory``: movies given both as favorites and as dislikes;
    the dislike wins (see :meth:`Recommender.recommend`).
    """

    items: tuple[Recommendation, ...]
    fallback: bool
    ignored: tuple[int, ...]
    contradictory: tuple[int, ...] = ()


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
    ease_weights: np.ndarray | None = None  # config.algorithm == "ease"
    dislike: DislikeStats | None = None  # config.dislike_min_corated > 0 and ratings given
    joint_factors: np.ndarray | None = None  # config.dislike_joint_factors > 0 (recsys.joint)


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


def joint_params(config: TrainConfig) -> AlsParams:
    """ALS hyperparameters of the joint like/dislike model (:mod:`recsys.joint`)."""
    return replace(
        als_params(config),
        factors=config.dislike_joint_factors,
        regularization=config.dislike_joint_regularization,
        alpha=config.dislike_joint_alpha,
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
        interactions,
        config,
        progress=progress,
        num_threads=num_threads,
        started=start,
        dislike=dislike_stats(ratings, interactions, config),
        disliked=training_dislikes(ratings, interactions, config),
        joint_factors=joint_factors(ratings, interactions, config, num_threads=num_threads),
    )


def training_dislikes(
    ratings: pd.DataFrame, interactions: Interactions, config: TrainConfig
) -> csr_matrix | None:
    """The training users' dislikes as a binary matrix shaped like the like matrix.

    A dislike is a rating of at most :data:`recsys.dislike.DISLIKE_MAX` (a pair that is also a
    like is not one). Users without a like and movies without a column have no row or column
    in the like matrix and are left out. None when ``dislike_train_weight`` is off (≤ 1: a
    confidence of 1 or less does nothing in ALS).
    """
    if config.dislike_train_weight <= 1:
        return None
    shape = interactions.matrix.shape
    known = interactions.user_ids
    bad = (ratings["rating"] <= DISLIKE_MAX).to_numpy()
    users = ratings["user_id"].to_numpy()[bad].astype(np.int64)
    cols = interactions.items.columns(ratings["movie_id"].to_numpy()[bad].astype(np.int64))
    rows = sorted_positions(known, users)
    keep = (cols >= 0) & (rows >= 0)
    data = np.ones(int(keep.sum()), dtype=np.float32)
    out = csr_matrix((data, (rows[keep], cols[keep])), shape=shape)
    out.sum_duplicates()
    out.data[:] = 1.0
    out = out - out.multiply(interactions.matrix)  # a pair rated both ways counts as a like
    out.eliminate_zeros()
    return csr_matrix(out, dtype=np.float32)


def dislike_stats(
    ratings: pd.DataFrame, interactions: Interactions, config: TrainConfig
) -> DislikeStats | None:
    """The dislike statistics of :mod:`recsys.dislike` (None when ``dislike_min_corated`` is 0).

    Pairs are kept for the movies of the recommendation pool (``candidate_min_support``).
    """
    if config.dislike_min_corated <= 0:
        return None
    return fit_dislike_stats(
        ratings,
        interactions.items,
        interactions.threshold,
        interactions.support >= config.candidate_min_support,
        min_corated=config.dislike_min_corated,
    )


def joint_factors(
    ratings: pd.DataFrame, interactions: Interactions, config: TrainConfig, *, num_threads: int = 0
) -> np.ndarray | None:
    """The joint like/dislike model's factors (None when ``dislike_joint_factors`` is 0)."""
    if config.dislike_joint_factors <= 0:
        return None
    return fit_joint_factors(
        ratings,
        interactions.items,
        interactions.threshold,
        joint_params(config),
        num_threads=num_threads,
    )


def fit_interactions(
    interactions: Interactions,
    config: TrainConfig,
    *,
    progress: bool = False,
    num_threads: int = 0,
    started: float | None = None,
    dislike: DislikeStats | None = None,
    disliked: csr_matrix | None = None,
    joint_factors: np.ndarray | None = None,
) -> TrainedModel:
    """Weighting → ALS on an already built like matrix (see :func:`fit_model`).

    ``dislike``: the dislike statistics computed from the ratings (:func:`dislike_stats`).
    ``disliked``: the training users' dislikes (:func:`training_dislikes`); with
    ``dislike_train_weight`` > 1 they enter the recommendation model's matrix as negative
    entries, preference 0 with confidence ``dislike_train_weight`` (the similar-movies model
    keeps the likes only). ``joint_factors``: the joint like/dislike model
    (:func:`joint_factors`), kept as given.
    """
    start = time.perf_counter() if started is None else started
    if config.algorithm not in ALGORITHMS:
        raise ValueError(
            f"unknown algorithm {config.algorithm!r}; choose one of {', '.join(ALGORITHMS)}"
        )
    if config.algorithm == "ease":
        check_ease_size(interactions.matrix.shape[1])  # before the ALS fit, not after
    weighting = Weighting.fit(interactions.matrix, config.scheme, k1=config.k1, b=config.b)
    weighted = weighting.apply(interactions.matrix)
    training = weighted
    if disliked is not None and config.dislike_train_weight > 1:
        if disliked.shape != weighted.shape:
            raise ValueError(f"dislikes of shape {disliked.shape}, likes {weighted.shape}")
        # implicit multiplies by alpha; a negative entry is preference 0, confidence |value|
        negative = disliked.astype(np.float32) * np.float32(
            config.dislike_train_weight / config.alpha
        )
        training = csr_matrix(weighted - negative, dtype=np.float32)
    factors = fit_item_factors(
        training, als_params(config), progress=progress, num_threads=num_threads
    )
    similar = None
    if config.similar_factors > 0:
        similar = fit_item_factors(
            weighted, similar_params(config), progress=progress, num_threads=num_threads
        )
    ease = None
    if config.algorithm == "ease":
        ease = fit_ease(interactions.matrix, config.ease_regularization)
    return TrainedModel(
        interactions=interactions,
        weighting=weighting,
        item_factors=factors,
        config=config,
        seconds=time.perf_counter() - start,
        similar_factors=similar,
        ease_weights=ease,
        dislike=dislike,
        joint_factors=joint_factors,
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
        "algorithm": trained.config.algorithm,
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
        ease_weights=trained.ease_weights,
        dislike=trained.dislike,
        joint_factors=trained.joint_factors,
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
    dislike = dislike_stats(ratings, interactions, config)
    disliked = training_dislikes(ratings, interactions, config)
    joint = joint_factors(ratings, interactions, config)
    del ratings  # the largest object of all; the fit needs only the like matrix
    trained = fit_interactions(
        interactions,
        config,
        progress=progress,
        started=start,
        dislike=dislike,
        disliked=disliked,
        joint_factors=joint,
    )
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
    if type(values) is list and {*map(type, values)} <= {int}:  # the usual call (no bool)
        return list(dict.fromkeys(values))
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
        self.weighting = Weighting.from_params(meta.get("weighting"), artifact.idf)
        if self.weighting.scheme == "bm25" and artifact.idf is None:
            raise ArtifactError(
                "The model uses BM25 weighting but stores no idf; train it again "
                "with `moviebot train`."
            )
        self._init_serving(artifact)
        self.scorer = AlsScorer(
            artifact.item_factors,
            serving_params(self.config),
            candidates=self.support >= self.config.candidate_min_support,
        )
        # an EASE artifact ranks recommendations with its item-item weights; the ALS factors
        # still serve similar movies and the dislike resemblance
        self._ease = None if artifact.ease_weights is None else EaseScorer(artifact.ease_weights)
        self.ranker: Scorer = self.scorer if self._ease is None else self._ease
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
        # the dislike statistics re-indexed for the pool (what a request with dislikes reads)
        self._pool_signal = (
            None
            if self._dislike is None
            else PoolSignal.build(self._dislike, self._pool.columns, self._similar.unit_factors)
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
        if len(ids) <= _DICT_LOOKUP_MAX:  # a request's few ids: a dict beats a binary search
            get = self._column_of.get
            return np.array([get(i, -1) for i in ids], dtype=np.int64)
        try:
            return self.items.columns(np.asarray(ids, dtype=np.int64))
        except OverflowError:  # some id beyond int64: look up the others
            pass
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

    def fold_in_rows(self, column_lists: Iterable[np.ndarray]) -> csr_matrix:
        """Weighted csr rows (one per list of known columns), weighted as training rows were."""
        return self.weighting.rows(column_lists, self.n_items)

    # ----------------------------------------------------------------------------------------
    # Serving structures (built once at load)

    def _init_serving(self, artifact: ModelArtifact) -> None:
        """Candidate pools, item features for filters and re-ranking, re-ranking steps."""
        config = self.config
        ids = self.items.item_ids
        n_items = ids.size
        factors = np.ascontiguousarray(artifact.item_factors, dtype=np.float32)
        cat = self.catalog.reindex(ids)
        genre_text = (
            cat["genres"].fillna("").astype(str)
            if "genres" in cat
            else pd.Series("", index=cat.index)
        )
        names = sorted({g for value in genre_text.unique() for g in str(value).split("|") if g})
        self._genre_names: tuple[str, ...] = tuple(names)
        self._genre_lookup = {g.casefold(): g for g in names}
        code_of = {g: i for i, g in enumerate(names)}
        codes, uniques = pd.factorize(genre_text)
        bits = np.zeros(len(uniques), dtype=np.int64)
        weights = np.zeros((len(uniques), len(names)), dtype=np.float32)
        for u, value in enumerate(uniques):
            gs = [g for g in str(value).split("|") if g]
            for g in gs:
                bits[u] |= np.int64(1) << code_of[g]
            real = [g for g in gs if g != NO_GENRES]
            for g in real:
                weights[u, code_of[g]] = 1.0 / len(real)
        codes = np.asarray(codes, dtype=np.int64)
        self._genre_bits = np.where(codes >= 0, bits[np.maximum(codes, 0)], 0)
        genre_weights = np.where(
            (codes >= 0)[:, None], weights[np.maximum(codes, 0)], np.float32(0)
        ).astype(np.float32)
        years = cat["year"] if "year" in cat else pd.Series(np.nan, index=cat.index)
        self._years = pd.to_numeric(years, errors="coerce").astype("float64").to_numpy()
        known_years = self._years[~np.isnan(self._years)]
        self._recent_from = (
            float(np.quantile(known_years, RECENT_QUANTILE)) if known_years.size else None
        )
        name_text = (
            cat["name"] if "name" in cat else cat.get("title", pd.Series("", index=cat.index))
        )
        series = artifact.series  # stored by training (recsys.similar.series_codes)
        if series is None:  # an older artifact: read the series of the rankable movies only
            # (series_keys reads every title; on an ml-32m-sized catalog that is seconds)
            ranked = np.flatnonzero(
                self.support >= min(config.candidate_min_support, config.discover_min_support)
            )
            keys = series_keys(name_text.iloc[ranked].fillna("").astype(str).tolist())
            series = np.full(n_items, -1, dtype=np.int64)
            series[ranked], _ = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
        popular = np.lexsort((ids, -self.support))
        tail = np.ones(n_items, dtype=bool)
        tail[popular[: round(HEAD_SHARE * n_items)]] = False
        self.features = ItemFeatures(
            genres=genre_weights,
            series=np.asarray(series, dtype=np.int64),
            tail=tail,
            similarity=self._resemblance,
        )
        gems = tail & (self.support < self._head_likes())
        self.features = replace(self.features, gems=gems)
        self._factors = factors
        self._norms = _row_norms(factors)
        self._pool = _Pool.build(factors, self.support >= config.candidate_min_support)
        self._discover_pool = _Pool.build(
            factors,
            self._discoverable(),
            divisor=np.power(np.maximum(self.support, 1), config.discover_popularity),
        )
        self._discover_blend: tuple[AlsScorer, _Pool, float] | None = None
        weight = float(config.discover_similar_weight)
        similar = artifact.similar_factors
        if (
            similar is not None
            and weight > 0
            and similar.ndim == 2
            and similar.shape == (n_items, config.similar_factors)  # ALS factors of that model
        ):
            similar = np.ascontiguousarray(similar, dtype=np.float32)
            self._discover_blend = (
                AlsScorer(similar, similar_params(config)),
                _Pool.build(similar, self._discoverable()),
                min(weight, 1.0),
            )
        avoid = AvoidDisliked(
            config.dislike_avoid,
            config.dislike_avoid_threshold,
            relative=config.dislike_avoid_kind.startswith("relative"),
        )
        self.steps: tuple[Step, ...] = (
            avoid,
            Calibrate(config.calibration),
            SeriesCap(config.series_cap),
        )
        self.discover_steps: tuple[Step, ...] = (
            avoid,
            Calibrate(config.discover_calibration),
            SeriesCap(config.series_cap),
            GemQuota(config.discover_gem_share),
        )
        # per validated Filters value: the mask over columns (check_filters, _allowed) and,
        # per pool, the positions it blocks; bounded, cleared when full
        self._checked_filters: dict[Filters, Filters] = {}
        self._filter_masks: dict[Filters, np.ndarray | None] = {}
        self._blocked: dict[tuple[Filters, int], np.ndarray] = {}
        self._column_of = dict(zip(ids.tolist(), range(n_items), strict=True))
        self._dislike = artifact.dislike if config.dislike_signal > 0 else None
        if self._dislike is not None and self._dislike.n_items != n_items:
            self._dislike = None
        self._joint: JointSignal | None = None
        joint = artifact.joint_factors
        if (
            self._dislike is not None
            and config.dislike_joint_weight > 0
            and joint is not None
            and joint.shape == (2 * n_items, config.dislike_joint_factors)
        ):
            self._joint = JointSignal(joint, joint_params(config), self._pool.columns)

    def _head_likes(self) -> int:
        """Likes of the training movie at the 20% mark (the most-liked fifth of issue 13).

        A movie with fewer likes is outside the most-liked fifth however ties at the mark are
        broken. (The fifth is counted over the movies the model knows, as the evaluation does;
        counted over a whole catalog, movies nobody liked included, the mark is lower, and a
        quota of films below it cost a quarter of the tail recall on the tuning seeds.)
        """
        likes = np.sort(self.support)[::-1]
        k = int(np.ceil(HEAD_SHARE * likes.size))
        return int(likes[k - 1]) if 0 < k <= likes.size else 0

    def _discoverable(self) -> np.ndarray:
        """Discover mode's candidates: outside the 20% most-liked, with enough likes to judge."""
        return self.features.tail & (self.support >= max(self.config.discover_min_support, 1))

    def _resemblance(self, column: int, columns: np.ndarray) -> np.ndarray:
        """Similarity of one movie to others for :class:`AvoidDisliked` (see its config)."""
        kind = self.config.dislike_avoid_kind
        if kind == "blend":
            return self._similar.scores(column, columns)
        if kind == "relative-model":  # the recommendation factors' cosine
            norms = np.maximum(self._norms[columns], np.float32(1e-9))
            one = self._factors[column] / max(float(self._norms[column]), 1e-9)
            cosine: np.ndarray = (self._factors[columns] @ one) / norms
            return cosine
        unit = self._similar.unit_factors
        out: np.ndarray = unit[columns] @ unit[column]
        return out

    @property
    def genres(self) -> tuple[str, ...]:
        """The catalog's genre names (MovieLens spelling, e.g. ``Sci-Fi``), sorted."""
        return self._genre_names

    def check_filters(self, filters: Filters | None) -> Filters | None:
        """``filters`` validated against this catalog; raises :class:`FilterError` saying why.

        Genre names match case-insensitively and come back in the catalog's spelling.
        """
        if filters is None:
            return None
        key = _cache_key(filters)
        # validated before? (a chat's filters repeat, request after request)
        known = None if key is None else self._checked_filters.get(key)
        if known is not None:
            return known
        if not isinstance(filters, Filters):
            raise FilterError("Filters must be a recsys.engine.Filters.")
        wanted = self._genre_set(filters.genres)
        excluded = self._genre_set(filters.exclude_genres)
        both = sorted(wanted & excluded)
        if both:
            raise FilterError(f"Genre {', '.join(both)} is both wanted and excluded.")
        lo, hi = filters.year_min, filters.year_max
        for year in (lo, hi):
            if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
                raise FilterError(f"A year must be a whole number, not {year!r}.")
            if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
                raise FilterError(f"The year {year} is out of range ({MIN_YEAR}-{MAX_YEAR}).")
        if lo is not None and hi is not None and lo > hi:
            raise FilterError(
                f"The year range {lo}-{hi} is empty (the first year is after the last)."
            )
        checked = replace(
            filters, genres=wanted, exclude_genres=excluded, recent=bool(filters.recent)
        )
        if key is not None:
            if len(self._checked_filters) >= MAX_CACHED_FILTERS:
                self._checked_filters.clear()
            self._checked_filters[key] = checked
        return checked

    def _genre_set(self, names: Iterable[str]) -> frozenset[str]:
        if isinstance(names, str):
            names = [names]
        out: set[str] = set()
        unknown: list[str] = []
        for name in names:
            found = self._genre_lookup.get(str(name).strip().casefold())
            if found is None:
                unknown.append(str(name))
            else:
                out.add(found)
        if unknown:
            raise FilterError(
                f"Unknown genre {', '.join(sorted(unknown))}; known genres: "
                f"{', '.join(self.genres)}."
            )
        return frozenset(out)

    def _allowed(self, filters: Filters | None) -> np.ndarray | None:
        """Boolean mask over columns of the movies that pass ``filters`` (None: all pass)."""
        if filters is None:
            return None
        try:  # (not ``in`` then ``[]``: another thread may clear the cache in between)
            return self._filter_masks[filters]
        except KeyError:
            pass
        if filters == Filters():
            self._filter_masks[filters] = None
            return None
        ok = np.ones(self.n_items, dtype=bool)
        if filters.genres:
            ok &= (self._genre_bits & self._bits(filters.genres)) != 0
        if filters.exclude_genres:
            ok &= (self._genre_bits & self._bits(filters.exclude_genres)) == 0
        years = self._years
        with np.errstate(invalid="ignore"):
            if filters.recent:
                ok &= years >= (self._recent_from if self._recent_from is not None else np.inf)
            if filters.year_min is not None:
                ok &= years >= filters.year_min
            if filters.year_max is not None:
                ok &= years <= filters.year_max
        if len(self._filter_masks) >= MAX_CACHED_FILTERS:
            self._filter_masks.clear()
        self._filter_masks[filters] = ok
        return ok

    def _blocked_in(self, pool: _Pool, filters: Filters | None) -> np.ndarray | None:
        """Positions in ``pool`` of the movies that fail validated ``filters`` (cached)."""
        allowed = self._allowed(filters)
        if filters is None or allowed is None:
            return None
        key = (filters, id(pool))  # the pools live as long as the recommender
        blocked = self._blocked.get(key)
        if blocked is None:
            blocked = np.flatnonzero(~allowed[pool.columns])
            if len(self._blocked) >= MAX_CACHED_FILTERS:
                self._blocked.clear()
            self._blocked[key] = blocked
        return blocked

    def _bits(self, genres: frozenset[str]) -> np.int64:
        index = {g: i for i, g in enumerate(self._genre_names)}
        out = np.int64(0)
        for g in genres:
            out |= np.int64(1) << index[g]
        return out

    # ----------------------------------------------------------------------------------------
    # Recommendations

    def recommend(
        self,
        favorites: Iterable[int],
        n: int = 10,
        *,
        dislikes: Iterable[int] = (),
        seen: Iterable[int] = (),
        filters: Filters | None = None,
        discover: bool = False,
        rerank: bool = True,
    ) -> RecommendResult:
        """Top ``n`` movies for a set of favorite movieIds, never a favorite itself.

        * ``dislikes`` ("not for me") are never recommended and steer the ranking: each enters
          the fold-in as preference 0 with confidence ``dislike_confidence``, and, when the
          model has dislike statistics (:mod:`recsys.dislike`) and ``dislike_signal`` > 0, each
          candidate's score loses the penalty of :class:`_Steering` before the ranking (the
          items still show the fold-in's score, the one ``why`` explains);
        * ``seen`` (seen, or hidden) are never recommended;
        * a movie given both as a favorite and as a dislike counts as a dislike only (the
          explicit "not for me" wins) and is listed in ``contradictory``;
        * ``filters`` restrict the candidates before ranking (raises :class:`FilterError` when
          invalid): the list is full whenever enough movies pass;
        * ``discover`` ranks hidden gems: its candidates are the movies outside the 20% most-liked
          with at least ``discover_min_support`` likes, scores divided by
          ``likes ** discover_popularity`` (when a filter leaves too few of them, every movie
          that passes competes);
        * ``rerank=False`` skips the re-ranking steps (calibration, series cap).
        """
        filters = self.check_filters(filters)
        fav_ids = _as_ids(favorites)
        dislike_ids = _as_ids(dislikes)
        disliked = set(dislike_ids)
        contradictory = tuple([i for i in fav_ids if i in disliked])
        if contradictory:
            fav_ids = [i for i in fav_ids if i not in disliked]
        seen_ids = _as_ids(seen)
        # columns by dict lookups in plain Python: for a request's few ids, cheaper than numpy
        get = self._column_of.get
        fav_known = [get(i, -1) for i in fav_ids]
        ignored = tuple([i for i, c in zip(fav_ids, fav_known, strict=True) if c < 0])
        if ignored:
            fav_known = [c for c in fav_known if c >= 0]
        dis_known = [c for i in dislike_ids if (c := get(i, -1)) >= 0]
        seen_known = [c for i in seen_ids if (c := get(i, -1)) >= 0]
        fav_cols = np.array(fav_known, dtype=np.int64)
        dis_cols = np.array(dis_known, dtype=np.int64)
        hidden = np.array(fav_known + dis_known + seen_known, dtype=np.int64)
        allowed = self._allowed(filters)
        n = max(0, min(int(n), self.n_items))
        if fav_cols.size == 0:
            items = self._fallback(hidden, allowed, n, discover)
            return RecommendResult(items, True, ignored, contradictory)
        if n == 0:
            return RecommendResult((), False, ignored, contradictory)
        pool = self._discover_pool if discover else self._pool
        depth = max(n, self.config.calibration_depth) if rerank else n
        fold: FoldIn | None = None
        steer: _Steering | None = None
        if self._ease is not None:
            ranking = self._ease_top(self._ease, fav_cols, depth, n, hidden, allowed, discover)
        else:
            fold = self._fold_in(fav_cols, dis_cols)
            penalty = self._penalty(fold.user, dis_cols)
            steer = None if discover else self._steering(fav_cols, dis_cols)
            if discover and self._discover_blend is not None:
                ranking = self._blended(fold.user, fav_cols, dis_cols, depth, hidden, allowed)
            else:
                gems = self._gem_quota() if discover else None
                blocked = self._blocked_in(pool, filters)
                ranking = pool.top(fold.user, depth, hidden, allowed, penalty, gems, steer, blocked)
            if len(ranking) < n and allowed is not None:  # too few pass in the pool: every movie
                ranking = self._top_allowed(fold.user, depth, hidden, allowed, pool, penalty, steer)
        if rerank:
            target = genre_distribution(self.features.genres[fav_cols])
            steps = self.discover_steps if discover else self.steps
            context = Context(self.features, target, disliked=dis_cols, favorites=fav_cols)
            ranking = apply_steps(ranking, steps, context, n)
        else:
            ranking = ranking.take(np.arange(min(n, len(ranking))))
        if steer is not None and fold is not None:  # shown: the fold-in's score, as `why` says
            ranking = Ranking(ranking.columns, self._factors[ranking.columns] @ fold.user)
        because = self._because(fold, fav_cols, ranking.columns)
        items = tuple(
            map(  # positional: movie_id, title, score, because (Python ints, strs and floats)
                Recommendation,
                self.items.item_ids[ranking.columns].tolist(),
                self._titles[ranking.columns].tolist(),
                ranking.scores.tolist(),
                because,
            )
        )
        return RecommendResult(items, False, ignored, contradictory)

    def _fold_in(
        self, fav_cols: np.ndarray, dis_cols: np.ndarray, scorer: AlsScorer | None = None
    ) -> FoldIn:
        """The chat's factors: favorites weighted as training rows, dislikes as confidence.

        (With ``dislike_interest`` > 0, dislikes as weak likes instead: an exploration, off.)

        Both column arrays hold distinct columns and do not overlap.
        """
        scorer = scorer or self.scorer
        weights = self.weighting.row_weights(fav_cols, self.n_items)
        confidence = float(self.config.dislike_confidence)
        interest = float(self.config.dislike_interest)
        if interest > 0 and dis_cols.size:
            positive = np.full(dis_cols.size, interest * float(weights.mean()), dtype=np.float32)
            fav_cols = np.concatenate([fav_cols, dis_cols])
            weights = np.concatenate([weights, positive])
        elif confidence > 0 and dis_cols.size:
            alpha = float(scorer.params.alpha)
            negative = np.full(dis_cols.size, -confidence / alpha, dtype=np.float32)
            fav_cols = np.concatenate([fav_cols, dis_cols])
            weights = np.concatenate([weights, negative])
        return scorer.fold_in(fav_cols, weights)

    def _blended(
        self,
        user: np.ndarray,
        fav_cols: np.ndarray,
        dis_cols: np.ndarray,
        n: int,
        hidden: np.ndarray,
        allowed: np.ndarray | None,
    ) -> Ranking:
        """Discover mode's ranking: the recommendation and similar-movies models' scores blended.

        The lightly regularised similar-movies model keeps more of what sets a rarely liked movie
        apart; each score is divided by the mean of its ten best before the blend.
        """
        assert self._discover_blend is not None
        scorer, second, weight = self._discover_blend
        pool = self._discover_pool
        other = self._fold_in(fav_cols, dis_cols, scorer).user
        a = pool.factors @ user
        b = second.factors @ other
        scores = np.float32(1 - weight) * (a / _top_mean(a)) + np.float32(weight) * (
            b / _top_mean(b)
        )
        if pool.divisor is not None:
            scores /= pool.divisor
        content = float(self.config.discover_gem_content)
        gems = self._gem_quota()
        if content > 0 and gems is not None and fav_cols.size:
            # gems have few likes, so noisy factors: what the catalog says of them (genres,
            # tags, years, as similar movies blend them) is added, averaged over the favorites
            at = np.flatnonzero(gems[pool.columns])
            cols = pool.columns[at]
            like = np.zeros(at.size, dtype=np.float32)
            for f in fav_cols.tolist():
                like += self._similar.scores(int(f), cols)
            like /= np.float32(fav_cols.size)
            scores[at] += np.float32(content) * like / _top_mean(like)
        if allowed is not None:
            scores[~allowed[pool.columns]] = -np.inf
        pos = pool.position[hidden]
        scores[pos[pos >= 0]] = -np.inf
        return _best(pool.columns, scores, n, self._gem_quota())

    def _ease_top(
        self,
        ease: EaseScorer,
        fav_cols: np.ndarray,
        depth: int,
        n: int,
        hidden: np.ndarray,
        allowed: np.ndarray | None,
        discover: bool,
    ) -> Ranking:
        """An EASE artifact's ranking: ``x B`` over the same pools, exclusions and filters.

        Dislikes are excluded (and the re-rank steps move down what resembles them); they do not
        enter the scores, as EASE has no fold-in to steer.
        """
        scores = ease.scores(fav_cols)
        pool = self._discover_pool if discover else self._pool
        ranked = scores[pool.columns]
        if pool.divisor is not None:
            ranked /= pool.divisor
        if allowed is not None:
            ranked[~allowed[pool.columns]] = -np.inf
        pos = pool.position[hidden]
        ranked[pos[pos >= 0]] = -np.inf
        ranking = _best(pool.columns, ranked, depth, self._gem_quota() if discover else None)
        if len(ranking) < n and allowed is not None:  # too few pass in the pool: every movie
            ok = allowed.copy()
            ok[hidden] = False
            cols = np.flatnonzero(ok)
            every = scores[cols]
            if pool.divisor_all is not None:
                every = every / pool.divisor_all[cols]
            ranking = _best(cols, every, depth)
        return ranking

    def _steering(self, fav_cols: np.ndarray, dis_cols: np.ndarray) -> _Steering | None:
        """The dislike statistics' penalty of a request with dislikes (None: off or none)."""
        stats = self._dislike
        if stats is None or dis_cols.size == 0 or fav_cols.size == 0:
            return None
        joint = self._joint
        return _Steering(
            stats=stats,
            unit=self._similar.unit_factors,
            favorites=fav_cols,
            disliked=dis_cols,
            weight=float(self.config.dislike_signal),
            pool=self._pool_signal,
            joint=joint,
            joint_user=None
            if joint is None
            else joint.user(fav_cols, dis_cols) * np.float32(self.config.dislike_joint_weight),
        )

    def _gem_quota(self) -> np.ndarray | None:
        """The gems mask when discover mode has a gem quota (None: no quota)."""
        return self.features.gems if self.config.discover_gem_share > 0 else None

    def _penalty(self, user: np.ndarray, dis_cols: np.ndarray) -> _Penalty | None:
        """The dislike penalty of a request (see :func:`_score`); None when off."""
        gamma = float(self.config.dislike_penalty)
        if gamma <= 0 or dis_cols.size == 0:
            return None
        norms = self._norms[dis_cols]
        scale = gamma * float(np.linalg.norm(user))
        unit = self._factors[dis_cols] / np.where(norms > 0, norms, 1)[:, None]
        tau = min(max(float(self.config.dislike_threshold), 0.0), 0.99)
        return _Penalty(
            vectors=np.ascontiguousarray(unit.T * np.float32(scale), dtype=np.float32),
            offset=scale * tau,
            threshold=tau,
        )

    def _top_allowed(
        self,
        user: np.ndarray,
        n: int,
        hidden: np.ndarray,
        allowed: np.ndarray,
        pool: _Pool,
        penalty: _Penalty | None,
        steer: _Steering | None = None,
    ) -> Ranking:
        """The best ``n`` of every movie that passes the filters (not only the pool's)."""
        ok = allowed.copy()
        ok[hidden] = False
        cols = np.flatnonzero(ok)
        scores = _score(self._factors[cols], self._norms[cols], user, penalty)
        if pool.divisor_all is not None:
            scores = scores / pool.divisor_all[cols]
        if steer is not None:
            scores = steer.apply(cols, scores)
        return _best(cols, scores, n)

    def _fallback(
        self, hidden: np.ndarray, allowed: np.ndarray | None, n: int, discover: bool
    ) -> tuple[Recommendation, ...]:
        """No known favorite: the most-liked movies that pass (discover: among the tail)."""
        ok = np.ones(self.n_items, dtype=bool) if allowed is None else allowed.copy()
        ok[hidden] = False
        if discover:  # gems first: the most-liked of the tail sit at the 20% mark
            ok &= self._discoverable()
            assert self.features.gems is not None
            if np.any(ok & self.features.gems):
                ok &= self.features.gems
        cols = self._popular[ok[self._popular]][:n]
        return tuple(
            Recommendation(
                movie_id=int(self.items.item_ids[c]),
                title=self._titles[c],
                score=float(self.support[c]),
                because=(),
            )
            for c in cols.tolist()
        )

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
            cols, _ = self.ranker.recommend(rows, n)
            ids = np.where(cols >= 0, self.items.item_ids[np.maximum(cols, 0)], -1)
            out[live] = ids
        for i in np.flatnonzero(fallback):
            popular = self._popular_items({int(x) for x in np.asarray(favorites[i]).tolist()}, n)
            out[i, : len(popular)] = [p.movie_id for p in popular]
        return out, fallback

    def _shares(
        self, fold: FoldIn | None, fav_cols: np.ndarray, rec_cols: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(liked, shares)``: ``shares[j, k]`` is liked ``j``'s part of ``rec_cols[k]``'s score.

        ALS explain with a fold-in, else EASE's ``B[j, k]``.
        """
        if fold is not None:
            return fold.liked, fold.contributions(rec_cols)
        assert self._ease is not None
        return fav_cols, self._ease.contributions(fav_cols, rec_cols)

    def _because(
        self, fold: FoldIn | None, fav_cols: np.ndarray, rec_cols: np.ndarray
    ) -> list[tuple[int, ...]]:
        if rec_cols.size == 0:
            return []
        liked, contributions = self._shares(fold, fav_cols, rec_cols)
        names: list[int] = self.items.item_ids[liked].tolist()
        rank = range(len(names))
        # one recommended movie: each liked one's share, largest first (sorted is stable: ties
        # in the favorites' order), the first MAX_BECAUSE with a positive share (plain Python:
        # on 10 × 5 shares it beats numpy's argsort and gathers)
        return [
            tuple([names[j] for j in top if shares[j] > 0])
            for shares in contributions.T.tolist()
            for top in (sorted(rank, key=shares.__getitem__, reverse=True)[:MAX_BECAUSE],)
        ]

    def _popular_items(self, exclude: set[int], n: int) -> tuple[Recommendation, ...]:
        hidden = self._columns(list(exclude))
        return self._fallback(hidden[hidden >= 0], None, n, False)

    def warm_up(self) -> None:
        """Compute what the first ``similar`` call would (see :meth:`SimilarIndex.warm_up`).

        The bot calls it in a background thread after loading, so that load stays as quick and
        no user waits for it.
        """
        self._similar.warm_up()

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
        """Explain the score of ``movie_id`` for favorites (ALS ``explain``; EASE: ``B[j, i]``).

        Dislikes are folded in as in :meth:`recommend` (a movie both liked and disliked counts
        as disliked); ``rank`` counts the movies that are neither favorites nor dislikes.
        """
        disliked = _as_ids(dislikes)
        fav_ids = [i for i in _as_ids(favorites) if i not in set(disliked)]
        _, cols, ignored = self._split(fav_ids)
        dis_cols = self._columns(disliked)
        dis_cols = dis_cols[dis_cols >= 0]
        target = _as_ids([movie_id])
        target_id = target[0] if target else -1
        col = self._column(movie_id)
        if col is None or cols.size == 0:
            return Explanation(
                movie_id=target_id,
                known=col is not None,
                rank=None,
                n_items=self.n_items,
                score=None,
                contributions=(),
                ignored=ignored,
            )
        if self._ease is not None:
            liked, both = self._shares(None, cols, np.array([col]))
            scores = self._ease.scores(cols)
        else:
            fold = self._fold_in(cols, dis_cols)
            liked, both = self._shares(fold, cols, np.array([col]))
            scores = self._factors @ fold.user
        shares = both[:, 0]
        order = np.argsort(-shares, kind="stable")
        rank: int | None = None
        excluded = np.concatenate([cols, dis_cols])
        if col not in set(excluded.tolist()):
            others = np.ones(self.n_items, dtype=bool)
            others[excluded] = False
            ranked = scores
            steer = None if self._ease is not None else self._steering(cols, dis_cols)
            if steer is not None:  # recommend ranks by the steered scores
                ranked = np.full(self.n_items, -np.inf, dtype=np.float32)
                ranked[others] = steer.apply(np.flatnonzero(others), scores[others])
            rank = 1 + int(np.count_nonzero(ranked[others] > ranked[col]))
        contributions = tuple(
            (int(self.items.item_ids[liked[j]]), float(shares[j])) for j in order.tolist()
        )
        return Explanation(
            movie_id=target_id,
            known=True,
            rank=rank,
            n_items=self.n_items,
            score=float(scores[col]),
            contributions=contributions,
            ignored=ignored,
        )


@dataclass(frozen=True)
class _Pool:
    """Candidate movies of one ranking: their columns and a contiguous copy of their factors.

    On a large catalog the item-factor product is bound by memory bandwidth, so scoring reads
    only this block. ``divisor``: scores are divided by it (discover mode's popularity damping).
    """

    columns: np.ndarray
    factors: np.ndarray
    norms: np.ndarray
    position: np.ndarray
    divisor: np.ndarray | None
    divisor_all: np.ndarray | None

    @classmethod
    def build(
        cls, factors: np.ndarray, mask: np.ndarray, divisor: np.ndarray | None = None
    ) -> _Pool:
        columns = np.flatnonzero(mask).astype(np.int64)
        block = np.ascontiguousarray(factors[columns])
        position = np.full(factors.shape[0], -1, dtype=np.int64)
        position[columns] = np.arange(columns.size)
        return cls(
            columns=columns,
            factors=block,
            norms=_row_norms(block),
            position=position,
            divisor=None if divisor is None else divisor[columns].astype(np.float32),
            divisor_all=None if divisor is None else divisor.astype(np.float32),
        )

    def top(
        self,
        user: np.ndarray,
        n: int,
        hidden: np.ndarray,
        allowed: np.ndarray | None,
        penalty: _Penalty | None = None,
        gems: np.ndarray | None = None,
        steer: _Steering | None = None,
        blocked: np.ndarray | None = None,
    ) -> Ranking:
        """The best ``n`` pool movies for a user vector, none hidden, all allowed.

        With ``gems`` (a mask over all columns), the best ``n`` gems are added as well; with
        ``steer``, scores lose the dislike statistics' penalty. ``blocked``: the positions in
        this pool that ``allowed`` rules out, when the caller has them (cached per filter).
        """
        scores = _score(self.factors, self.norms, user, penalty)
        if self.divisor is not None:
            scores /= self.divisor
        if blocked is not None:
            scores[blocked] = -np.inf
        elif allowed is not None:
            scores[~allowed[self.columns]] = -np.inf
        pos = self.position[hidden]
        scores[pos[pos >= 0]] = -np.inf
        if steer is not None:
            if gems is None and steer.pool is not None and steer.pool.columns is self.columns:
                at, steered = steer.pool_best(scores, n)
                return _best(self.columns[at], steered, n)
            scores = steer.apply(self.columns, scores)
        return _best(self.columns, scores, n, gems)


@dataclass(slots=True)  # built once per request: plain slots cost less than frozen fields
class _Steering:
    """The dislike statistics' penalty of one request (:mod:`recsys.dislike`).

    A candidate's score loses ``weight · s̄ · signal``, ``s̄`` the mean of the ten best scores
    (so the weight means the same for every chat), ``signal`` how much more likely the
    candidate is a dislike than a like given the chat's favorites and dislikes: the statistics'
    signal plus, with a joint like/dislike model (:mod:`recsys.joint`), its term times
    ``joint_weight`` (``joint_user``: the chat's factors there, times that weight).
    """

    stats: DislikeStats
    unit: np.ndarray
    favorites: np.ndarray
    disliked: np.ndarray
    weight: float
    pool: PoolSignal | None = None  # the statistics re-indexed for the recommendation pool
    joint: JointSignal | None = None
    joint_user: np.ndarray | None = None

    def _pairs(self, pool: PoolSignal) -> np.ndarray:
        """The pool's pair part of the signal, the joint model's term added."""
        pairs = pool.pairs(self.favorites, self.disliked)
        if self.joint is not None and self.joint_user is not None:
            pairs = pairs + self.joint.pool_diff @ self.joint_user
        return pairs

    def apply(self, columns: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """``scores`` of ``columns`` (-inf: excluded) minus the penalty."""
        finite = np.isfinite(scores)
        n_finite = int(np.count_nonzero(finite))
        if self.weight <= 0 or n_finite == 0:
            return scores
        if self.pool is not None and columns is self.pool.columns:  # every pool column
            # -inf minus a finite penalty stays -inf: no masking needed
            signal = self.pool.signal(self.favorites, self.disliked, self.unit)
            if self.joint is not None and self.joint_user is not None:
                signal += self.joint.pool_diff @ self.joint_user
            best = _top_mean(scores) if n_finite >= 10 else _top_mean(scores[finite])
            out: np.ndarray = scores - np.float32(self.weight) * best * signal
            return out
        signal = self.stats.signal(self.favorites, self.disliked, self.unit, columns[finite])
        if self.joint is not None and self.joint_user is not None:
            signal += self.joint.diff[columns[finite]] @ self.joint_user
        out = scores.astype(np.float32, copy=True)
        scale = np.float32(self.weight) * _top_mean(out[finite])
        out[finite] -= scale * signal
        return out

    def pool_best(self, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(positions, steered scores)`` of pool candidates among which are the best ``n``.

        The same best ``n`` (ties included) as :meth:`apply` over the whole pool gives, but the
        costly part of the signal is computed for a few candidates only. A steered score is
        ``s - scale · (pairs + cosines)`` (:class:`recsys.dislike.PoolSignal`), ``scale`` the
        weight times the mean of the ten best scores (> 0). ``pairs`` (which holds the cosines'
        floor) is computed for the whole pool, one pass over the chat's rows; ``cosines``, a
        (chat's movies × candidates) product, is never negative, so a steered score is at most
        ``reach = s - scale · pairs``. The cosines are computed for the ``STEER_DEPTH`` (at
        least ``n``) candidates of highest ``reach``; ``t`` is the ``n``-th best of their
        steered scores; then for every other candidate whose ``reach`` is at least ``t`` (``t``
        can only rise with more candidates, so one more pass settles it). The others cannot
        reach ``t``, so cannot be among the best ``n``.
        """
        pool = self.pool
        assert pool is not None
        m = scores.size
        top = np.partition(scores, m - 10)[-10:] if m > 10 else scores
        if m <= 10 or top[0] == -np.inf:  # top[0]: the least of the ten
            top = top[top > -np.inf]
        best = float(top.sum()) / top.size if top.size else 1.0
        scale = np.float32(self.weight) * np.float32(best if best > 0 else 1.0)
        reach = scores - scale * self._pairs(pool)
        k = min(max(n, STEER_DEPTH), m)
        first = np.argpartition(reach, m - k)[m - k :] if k < m else np.arange(m)
        chat = pool.chat_units(self.favorites, self.disliked, self.unit)
        n_fav = self.favorites.size
        steered = reach[first] - scale * pool.cosines_of(chat, n_fav, first)
        if k == m or n > k:
            return first, steered
        t = np.partition(steered, k - n)[k - n]
        if t == -np.inf:  # fewer than n candidates at all: every one is in ``first``
            return first, steered
        reach[first] = -np.inf
        more = (reach >= t).nonzero()[0]
        if more.size == 0:
            return first, steered
        extra = reach[more] - scale * pool.cosines_of(chat, n_fav, more)
        return np.concatenate([first, more]), np.concatenate([steered, extra])


@dataclass(frozen=True)
class _Penalty:
    """The dislike penalty of one request (see :func:`_score`)."""

    vectors: np.ndarray  # (factors × dislikes): γ · |user| · unit factors of each disliked movie
    offset: float  # γ · |user| · τ
    threshold: float  # τ


def _score(
    factors: np.ndarray, norms: np.ndarray, user: np.ndarray, penalty: _Penalty | None
) -> np.ndarray:
    """``factors @ user`` minus the dislike penalty of the nearest disliked movie.

    The penalty is ``γ · |user| · |y_i| · max(0, cos(y_i, y_d) - τ) / (1 - τ)``: the score's own
    scale, only for movies closer than τ to a disliked one. One product reads the factors once
    (on a large catalog that read is the cost).
    """
    if penalty is None:
        scores: np.ndarray = factors @ user
        return scores
    both = factors @ np.column_stack([user, penalty.vectors])
    near = both[:, 1:].max(axis=1) - np.float32(penalty.offset) * norms
    np.maximum(near, 0, out=near)
    near /= np.float32(1 - penalty.threshold)
    return np.asarray(both[:, 0] - near)


def _cache_key(filters: object) -> Filters | None:
    """``filters`` itself when it can key the validation cache, else None.

    Only plain values: an equal but differently typed field (``1990.0`` for ``1990``, a list
    of genres) must be validated, and rejected, on its own.
    """
    if type(filters) is not Filters:
        return None
    if any(y is not None and type(y) is not int for y in (filters.year_min, filters.year_max)):
        return None
    if type(filters.recent) is not bool:
        return None
    for names in (filters.genres, filters.exclude_genres):
        if type(names) is not frozenset or any(type(g) is not str for g in names):
            return None
    return filters


def _row_norms(factors: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row, float32 (no temporary the size of the factors)."""
    norms: np.ndarray = np.sqrt(np.einsum("ij,ij->i", factors, factors)).astype(np.float32)
    return norms


def _top_mean(scores: np.ndarray, k: int = 10) -> np.float32:
    """The mean of the ``k`` best scores (1 when it is not positive): a per-list scale."""
    if scores.size == 0:
        return np.float32(1)
    k = min(k, scores.size)
    top = float(np.partition(scores, scores.size - k)[scores.size - k :].mean())
    return np.float32(top if top > 0 else 1.0)


def _best(
    columns: np.ndarray, scores: np.ndarray, n: int, also: np.ndarray | None = None
) -> Ranking:
    """The ``n`` best finite scores, best first (ties: lower column first).

    ``also`` (a mask over all columns): the best ``n`` of the columns it marks are added, in
    score order among the others (so that a quota step has enough of them to choose from).
    """
    if also is not None:
        marked = also[columns]
        if marked.any() and not marked.all():
            extra = np.where(marked, scores, -np.inf).astype(scores.dtype)
            chosen = np.union1d(_best(columns, scores, n).columns, _best(columns, extra, n).columns)
            ranks = np.searchsorted(columns, chosen) if _is_sorted(columns) else None
            if ranks is not None:
                return _best(chosen, scores[ranks], chosen.size)
    k = min(n, scores.size)
    if k <= 0:
        return Ranking(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    negated = -scores
    if scores.size <= _SORT_ALL:  # a few candidates (the steered pool's): sorting all is cheaper
        part = np.lexsort((columns, negated))[:k]
    else:
        part = np.argpartition(negated, k - 1)[:k]
        part = part[np.lexsort((columns[part], negated[part]))]
    # sorted, so the first and the last tell whether any is infinite (or NaN: sorted last)
    if not (math.isfinite(float(scores[part[0]])) and math.isfinite(float(scores[part[-1]]))):
        part = part[np.isfinite(scores[part])]
    return Ranking(columns[part], scores[part].astype(np.float32, copy=False))


def _is_sorted(values: np.ndarray) -> bool:
    return bool(values.size < 2 or np.all(values[1:] > values[:-1]))


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
