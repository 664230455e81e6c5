"""Training with the training users' dislikes (``TrainConfig.dislike_train_weight``).

The synthetic release: 10 users (X) liked F and C and disliked A and B; 10 users (Y) liked F, A
and B and disliked C; 6 users (Z) liked F and B; user 30 only disliked things (no like: no row);
movie 9 was only disliked (no like: no column).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix

from recsys.als import fit_item_factors
from recsys.artifact import save_artifact
from recsys.defaults import SERVING_FIELDS, TrainConfig, default_config
from recsys.dislike import WEIGHTS
from recsys.engine import (
    Recommender,
    als_params,
    fit_model,
    similar_params,
    train,
    training_dislikes,
)
from recsys.evaluate import dislike_figures, split_users
from recsys.matrix import Weighting, build_interactions
from recsys.movielens import DataPaths, get_release, load_catalog, load_ratings

A, B, C, F, NOBODY_LIKED = 1, 2, 3, 4, 9
RELEASE = get_release("ml-latest-small")  # half stars: a like is ≥ 3.5, a dislike ≤ 2


def _ratings() -> pd.DataFrame:
    rows: list[tuple[int, int, float]] = []
    for u in range(10):  # X
        rows += [(u, F, 5.0), (u, C, 4.5), (u, A, 1.0), (u, B, 2.0)]
    for u in range(10, 20):  # Y
        rows += [(u, F, 5.0), (u, A, 4.0), (u, B, 4.5), (u, C, 0.5)]
    for u in range(20, 26):  # Z
        rows += [(u, F, 4.0), (u, B, 5.0), (u, C, 3.0)]  # 3: neither a like nor a dislike
    rows += [(30, A, 1.0), (30, B, 1.0), (0, NOBODY_LIKED, 1.0)]
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "rating"])


def _config(**changes: object) -> TrainConfig:
    base = TrainConfig(factors=4, regularization=0.1, alpha=2.0, iterations=10, similar_factors=3)
    return base.with_(**changes)


def test_the_dislike_matrix_is_aligned_with_the_like_matrix() -> None:
    ratings = _ratings()
    interactions = build_interactions(ratings, RELEASE.like_threshold)
    assert training_dislikes(ratings, interactions, _config()) is None  # off by default
    assert training_dislikes(ratings, interactions, _config(dislike_train_weight=1.0)) is None
    disliked = training_dislikes(ratings, interactions, _config(dislike_train_weight=5.0))
    assert disliked is not None
    assert disliked.shape == interactions.matrix.shape
    rows, cols = disliked.nonzero()
    got = {
        (int(interactions.user_ids[r]), int(interactions.items.item_ids[c]))
        for r, c in zip(rows, cols, strict=True)
    }
    expected = {(u, m) for u in range(10) for m in (A, B)} | {(u, C) for u in range(10, 20)}
    assert got == expected  # user 30 (no like) and movie 9 (no like) have no place
    assert set(disliked.data.tolist()) == {1.0}


def test_dislikes_enter_the_fit_as_negative_confidence() -> None:
    """The factors are implicit's on the like weights minus weight / alpha at each dislike."""
    ratings = _ratings()
    config = _config(dislike_train_weight=5.0)
    trained = fit_model(ratings, RELEASE, config)
    interactions = build_interactions(ratings, RELEASE.like_threshold)
    weighted = Weighting.fit(interactions.matrix, config.scheme, k1=config.k1, b=config.b).apply(
        interactions.matrix
    )
    disliked = training_dislikes(ratings, interactions, config)
    assert disliked is not None
    # alpha multiplies every entry in implicit: -5 / 2 · 2 = confidence 5
    expected = csr_matrix(weighted - disliked * (5.0 / 2.0), dtype=np.float32)
    assert (expected.data < 0).sum() == 30
    direct = fit_item_factors(expected, als_params(config), num_threads=1)
    np.testing.assert_array_equal(trained.item_factors, direct)
    plain = fit_model(ratings, RELEASE, _config())
    assert not np.allclose(trained.item_factors, plain.item_factors)
    # the similar-movies model keeps the likes only
    assert trained.similar_factors is not None
    assert plain.similar_factors is not None
    np.testing.assert_array_equal(trained.similar_factors, plain.similar_factors)
    same = fit_item_factors(weighted, similar_params(config), num_threads=1)
    np.testing.assert_array_equal(trained.similar_factors, same)


def test_a_chat_like_the_dislikers_sees_what_they_disliked_lower() -> None:
    ratings = _ratings()
    plain = Recommender.from_trained(fit_model(ratings, RELEASE, _config()), RELEASE)
    taught = Recommender.from_trained(
        fit_model(ratings, RELEASE, _config(dislike_train_weight=10.0)), RELEASE
    )

    def share(rec: Recommender) -> float:
        """A's score over F's for a chat that liked C (as X did)."""
        scores = {i.movie_id: i.score for i in rec.recommend([C], n=3, rerank=False).items}
        return scores[A] / scores[F]

    assert share(taught) < share(plain)


def test_the_weight_is_a_training_field_and_off_by_default() -> None:
    assert "dislike_train_weight" not in SERVING_FIELDS
    assert _config().training_key() != _config(dislike_train_weight=3.0).training_key()
    assert TrainConfig().dislike_train_weight == pytest.approx(0.0)
    for release in ("ml-latest-small", "ml-100k", "ml-32m"):  # docs/engine.md, fifth round
        assert default_config(release).dislike_train_weight == pytest.approx(0.0)


@pytest.mark.slow
def test_the_search_replica_ranks_as_the_engine(movielens_dir: Path) -> None:
    """bench/dislike_search.py judges weights on cached candidates as recommend ranks them.

    ml-100k, tuning seed 100, the release's weights: the replica's hidden dislikes and recall
    equal :func:`recsys.evaluate.dislike_figures`' (a float-rounding tie may move one film).
    """
    from bench.dislike_search import NAMES, cache_seed, judge

    release = get_release("ml-100k")
    ratings = load_ratings(movielens_dir / release.name, release)
    catalog = load_catalog(movielens_dir / release.name, release, ratings)
    config = default_config(release.name)
    split = split_users(ratings, release, 100)
    rec = Recommender.from_trained(
        fit_model(split.train, release, config, num_threads=1), release, catalog
    )
    engine = dislike_figures(rec, split.dislike)
    cache = cache_seed(rec, split, 100, depth=100)
    weights = np.array([WEIGHTS[n] for n in NAMES])
    replica = judge([cache], weights, config.dislike_signal)
    assert engine["dislike_hits"] < 0.9 * engine["dislike_hits_plain"]  # the steering works
    for key in ("dislike_hits", "dislike_hits_plain", "dislike_recall_plain"):
        assert replica[key] == pytest.approx(engine[key], abs=1e-9)
    assert replica["dislike_recall"] == pytest.approx(engine["dislike_recall"], abs=2e-3)
    # without steering the replica is the fold-in's ranking alone: fewer hits avoided
    assert judge([cache], weights, 0.0)["dislike_hits"] > replica["dislike_hits"]


@pytest.mark.slow
def test_train_fits_with_the_dislikes_and_the_artifact_says_so(
    movielens_dir: Path, tmp_path: Path
) -> None:
    """``train`` (all ratings of ml-100k) passes the dislikes as ``fit_model`` does."""
    release = get_release("ml-100k")
    config = _config(dislike_train_weight=5.0, iterations=3)
    paths = DataPaths(data_dir=tmp_path / "data", movielens_dir=movielens_dir)
    artifact = train(paths, release.name, config=config, progress=False)
    ratings = load_ratings(movielens_dir / release.name, release)
    direct = fit_model(ratings, release, config, num_threads=1)
    np.testing.assert_allclose(artifact.item_factors, direct.item_factors, rtol=1e-4, atol=1e-6)
    without = fit_model(ratings, release, config.with_(dislike_train_weight=0.0), num_threads=1)
    assert not np.allclose(artifact.item_factors, without.item_factors, atol=1e-3)
    saved = save_artifact(artifact, tmp_path / "model")
    loaded = Recommender.load(saved)
    assert loaded.config.dislike_train_weight == pytest.approx(5.0)
    # metadata written before the field existed reads as "likes only"
    old = {k: v for k, v in config.to_dict().items() if k != "dislike_train_weight"}
    assert TrainConfig.from_dict(old).dislike_train_weight == pytest.approx(0.0)


def test_dislike_interest_folds_the_dislikes_in_as_weak_likes() -> None:
    """The sixth round's variant (off by default): a dislike as a like at a share of the weight."""
    ratings = _ratings()
    trained = fit_model(ratings, RELEASE, _config(dislike_confidence=20.0))
    steered = Recommender.from_trained(trained, RELEASE)
    interested = Recommender.from_trained(
        dataclasses.replace(trained, config=trained.config.with_(dislike_interest=0.5)), RELEASE
    )
    fav, dis = steered.items.columns([F, C]), steered.items.columns([A])
    weights = interested.weighting.row_weights(fav, interested.n_items)
    expected = interested.scorer.fold_in(
        np.concatenate([fav, dis]), np.append(weights, np.float32(0.5 * weights.mean()))
    ).user
    np.testing.assert_allclose(interested._fold_in(fav, dis).user, expected, rtol=1e-6)
    # against the default, negative confidence: A's fans (Y) liked B, so B rises
    b = steered.items.columns([B])
    assert (interested._factors[b] @ interested._fold_in(fav, dis).user)[0] > (
        steered._factors[b] @ steered._fold_in(fav, dis).user
    )[0]
    assert "dislike_interest" in SERVING_FIELDS
    for release in ("ml-latest-small", "ml-100k", "ml-32m"):  # docs/engine.md, sixth round
        assert default_config(release).dislike_interest == pytest.approx(0.0)
