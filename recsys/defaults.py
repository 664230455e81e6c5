"""Hyperparameters of the engine, tuned per release (see docs/engine.md for how and why)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a trained model besides the data.

    Attributes:
        threshold: a rating at or above this is a like in the training matrix (None: the
            release's own like threshold).
        algorithm: ``"als"`` or ``"ease"`` (:mod:`recsys.ease`: its item-item weights rank
            recommendations; ALS factors are still fitted for similar movies).
        ease_regularization: EASE's λ.
        scheme: confidence weighting, ``"bm25"`` or ``"plain"`` (see
            :class:`recsys.matrix.Weighting`).
        k1: BM25 K1.
        b: BM25 B.
        factors: ALS latent factors.
        regularization: ALS L2 regularization.
        alpha: ALS confidence scale (multiplies the weights).
        iterations: ALS iterations.
        seed: random seed of the factor initialisation (an int: deterministic).
        fold_in_regularization: L2 regularization of a new user's factors at fold-in (None: the
            training ``regularization``); stronger keeps a chat with few favorites near the
            consensus of its favorites' neighbours.
        similar_factors: 0 → similar movies use the recommendation factors; otherwise a second,
            lighter ALS model with this many factors is trained for them (strong regularization
            wins Recall@20 but makes every neighbour list lean towards blockbusters).
        similar_regularization: L2 regularization of that second model.
        similar_alpha: confidence scale of that second model.
        min_support: similar movies only lists movies with at least this many likes.
        shrink: similar-movie cosine is multiplied by ``likes / (likes + shrink)``.
        candidate_min_support: recommendations come only from movies with at least this many
            likes (0: every movie). On a large catalog most movies have a handful of likes and
            noise for factors, and scoring only the others is what keeps a fold-in recommend
            within a few milliseconds (the item-factor product is bound by memory bandwidth).
        dislike_confidence: a disliked movie enters the fold-in as preference 0 with this
            confidence (the ALS ``c``; 1 or less has no effect, 0 turns steering off).
        dislike_penalty: a candidate's score loses this share of ``|user| · |y| · cos`` to its
            nearest disliked movie (0: off).
        dislike_threshold: only a cosine above this is penalised (rescaled to 0-1 above it).
        dislike_avoid: weight of the re-rank step that moves down films resembling a disliked
            movie (:class:`recsys.rerank.AvoidDisliked`; 0: off).
        dislike_avoid_threshold: only a resemblance above this counts.
        dislike_avoid_kind: the resemblance: ``"factors"`` (cosine of the similar-movies
            factors) or ``"blend"`` (the similar-movies blend of factors, genres, tags, years);
            a film of a disliked film's series always resembles it fully.
        dislike_min_corated: > 0: compute the dislike statistics of :mod:`recsys.dislike` from
            the training ratings at training time (stored in the artifact), keeping the
            movie-pair statistics of pairs rated together by at least this many training users
            (the others count 0; this sets the artifact's size). 0: none (untuned releases: their
            size and cost on larger releases are unmeasured).
        dislike_train_weight: > 1: the training users' dislikes (rating ≤ 2) enter the
            recommendation model's training matrix as preference 0 with this confidence (the
            ALS ``c``, as ``dislike_confidence`` at fold-in); 0: only likes (1 or less would
            have no effect). Changes the trained factors.
        dislike_interest: > 0: a disliked movie enters the fold-in as a like weighted this
            share of the favorites' mean weight (the chat chose to watch it), instead of the
            negative confidence (sixth round, measured and off: the steering then needs a
            stronger ``dislike_signal`` for the same hidden dislikes; docs/engine.md).
        dislike_joint_factors: > 0: train the joint like/dislike model of :mod:`recsys.joint`
            (the training users' likes and dislikes as separate columns) with this many
            factors, stored in the artifact; 0: none.
        dislike_joint_regularization: its L2 regularization.
        dislike_joint_alpha: its confidence scale (also of a chat's columns at fold-in).
        dislike_joint_weight: the joint model's term (how much more the chat resembles those
            who disliked a candidate than those who liked it) enters the dislike signal with
            this weight (0: off; needs ``dislike_joint_factors`` and the dislike statistics).
        dislike_signal: weight of the dislike statistics' penalty when a chat gave dislikes:
            a candidate's score loses this share of the mean of the ten best scores times how
            much more likely it is a dislike than a like (0: off; needs ``dislike_min_corated``).
        calibration: Steck's λ of the genre-calibration re-rank (0: off).
        calibration_depth: how many of the best-scored candidates the re-rank chooses from.
        series_cap: at most this many films of one series in every ten places (0: no cap).
        discover_min_support: discover mode's candidates are the movies outside the 20%
            most-liked with at least this many likes.
        discover_gem_share: at least this share of discover mode's list are "gems": movies
            with fewer likes than the model's movie at the 20% mark, i.e. outside the most-liked
            fifth however ties at the mark are broken (0: no quota).
        discover_gem_content: the gems' discover scores gain this weight times their mean
            similar-movies blend (factors, genres, tags, years) to the favorites (0: off).
        discover_popularity: discover mode divides a score by ``likes ** discover_popularity``.
        discover_calibration: the calibration λ of discover mode.
        discover_similar_weight: discover mode blends the similar-movies model's fold-in scores
            in with this weight (0: the recommendation model alone; needs ``similar_factors``).
    """

    threshold: float | None = None
    algorithm: str = "als"
    ease_regularization: float = 300.0
    scheme: str = "bm25"
    k1: float = 100.0
    b: float = 0.8
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 1.0
    iterations: int = 15
    seed: int = 0
    fold_in_regularization: float | None = None
    similar_factors: int = 0
    similar_regularization: float = 1.0
    similar_alpha: float = 1.0
    min_support: int = 10
    shrink: float = 0.0
    candidate_min_support: int = 10
    dislike_confidence: float = 20.0
    dislike_penalty: float = 0.0
    dislike_threshold: float = 0.0
    dislike_avoid: float = 0.0
    dislike_avoid_threshold: float = 0.5
    dislike_avoid_kind: str = "factors"
    dislike_min_corated: int = 0
    dislike_train_weight: float = 0.0
    dislike_interest: float = 0.0
    dislike_joint_factors: int = 0
    dislike_joint_regularization: float = 5.0
    dislike_joint_alpha: float = 5.0
    dislike_joint_weight: float = 0.0
    dislike_signal: float = 0.0
    calibration: float = 0.35
    calibration_depth: int = 30
    series_cap: int = 3
    discover_min_support: int = 2
    discover_gem_share: float = 0.5
    discover_gem_content: float = 0.0
    discover_popularity: float = 0.0
    discover_calibration: float = 0.35
    discover_similar_weight: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, for JSON metadata."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`, ignoring unknown keys."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def training_key(self) -> tuple[Any, ...]:
        """The fields that decide the trained factors (the others only change serving)."""
        return tuple(v for k, v in asdict(self).items() if k not in SERVING_FIELDS)

    def with_(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


SERVING_FIELDS = frozenset(
    {
        "fold_in_regularization",
        "min_support",
        "shrink",
        "candidate_min_support",
        "dislike_confidence",
        "dislike_penalty",
        "dislike_threshold",
        "dislike_avoid",
        "dislike_avoid_threshold",
        "dislike_avoid_kind",
        "dislike_signal",
        "dislike_interest",
        "dislike_joint_weight",
        "discover_gem_share",
        "discover_gem_content",
        "calibration",
        "calibration_depth",
        "series_cap",
        "discover_min_support",
        "discover_popularity",
        "discover_calibration",
        "discover_similar_weight",
    }
)

_GENERIC = TrainConfig()

# Tuned with bench/tune.py on seeds 100-104 (ml-latest-small: tie settled on 100-109), never on
# the reporting seeds 0-4; the dislike steering (confidence) on seeds 100-114 (fourth round), its
# joint like/dislike model and signal on seeds 100-129 (sixth round); the grids, the choice and
# the figures are in docs/engine.md.
TUNED: dict[str, TrainConfig] = {
    "ml-latest-small": TrainConfig(
        factors=128,
        regularization=20.0,
        alpha=1.0,
        iterations=15,
        similar_factors=64,
        similar_regularization=0.1,
        min_support=10,
        discover_similar_weight=0.3,
        discover_calibration=0.2,
        ease_regularization=100.0,
        dislike_confidence=20.0,
        dislike_signal=0.33,
        dislike_min_corated=20,
        dislike_joint_factors=64,
        dislike_joint_regularization=5.0,
        dislike_joint_alpha=1.0,
        dislike_joint_weight=4.0,
    ),
    "ml-100k": TrainConfig(
        factors=128,
        regularization=50.0,
        alpha=5.0,
        k1=1.2,
        iterations=15,
        similar_factors=32,
        similar_regularization=0.1,
        min_support=10,
        discover_similar_weight=0.3,
        discover_calibration=0.2,
        dislike_confidence=10.0,
        dislike_signal=0.34,
        dislike_min_corated=20,
        dislike_joint_factors=64,
        dislike_joint_regularization=5.0,
        dislike_joint_alpha=1.0,
        dislike_joint_weight=8.0,
    ),
}


# ml-25m and ml-32m have 160-200k users and 60-88k movies; no ratings of theirs are at hand to
# tune on. Recommendations come from movies liked by at least 50 of those users (0.025%): that
# leaves about a fifth of ml-32m-sized catalogs to score, which is what keeps a fold-in recommend
# at a few milliseconds on one core (docs/benchmarks.md); the rest are, by their likes, obscure.
# Discover mode's pool likewise: movies outside the 20% most-liked with at least 20 likes.
_LARGE = replace(_GENERIC, candidate_min_support=50, discover_min_support=20)
UNTUNED: dict[str, TrainConfig] = {"ml-25m": _LARGE, "ml-32m": _LARGE}


def default_config(release: str) -> TrainConfig:
    """The tuned configuration of ``release`` (a generic one for untuned releases)."""
    return TUNED.get(release) or UNTUNED.get(release, _GENERIC)
