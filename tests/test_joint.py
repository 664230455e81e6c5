"""The joint like/dislike model (recsys.joint), on a synthetic release where the answer is known.

The release of tests/test_dislike_training.py: 10 users (X) liked F and C and disliked A and B;
10 users (Y) liked F, A and B and disliked C; 6 users (Z) liked F and B. A chat that liked C
and disliked B is an X: of the films it has not rated, A is the one its kind dislikes, F the
one everybody likes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.als import AlsParams, AlsScorer
from recsys.artifact import ArtifactError, load_artifact, save_artifact
from recsys.defaults import SERVING_FIELDS, TrainConfig, default_config
from recsys.engine import Recommender, fit_model, make_artifact
from recsys.joint import JointSignal, fit_joint_factors
from recsys.matrix import ItemIndex
from recsys.movielens import get_release
from tests.test_dislike_training import _ratings  # the same synthetic release

A, B, C, F = 1, 2, 3, 4
RELEASE = get_release("ml-latest-small")  # a like is ≥ 3.5, a dislike ≤ 2
PARAMS = AlsParams(factors=4, regularization=0.1, alpha=5.0, iterations=15, seed=0)


def _catalog() -> pd.DataFrame:
    ids = [A, B, C, F]
    return pd.DataFrame(
        {
            "title": [f"Movie {m} (2000)" for m in ids],
            "name": [f"Movie {m}" for m in ids],
            "year": pd.array([2000] * 4, dtype="Int32"),
            "genres": ["Drama"] * 4,
            "imdb_id": pd.array([None] * 4, dtype="Int64"),
            "tmdb_id": pd.array([None] * 4, dtype="Int64"),
            "imdb_search": [None] * 4,
            "likes": [10] * 4,
        },
        index=pd.Index(ids, name="movie_id"),
    )


def _signal() -> tuple[JointSignal, ItemIndex]:
    items = ItemIndex(np.array([A, B, C, F]))
    factors = fit_joint_factors(_ratings(), items, RELEASE.like_threshold, PARAMS, num_threads=1)
    assert factors.shape == (8, 4)  # "liked" rows, then "disliked" rows
    return JointSignal(factors, PARAMS, np.arange(4)), items


def test_a_chat_like_the_dislikers_gets_the_films_they_disliked_flagged() -> None:
    joint, items = _signal()
    x_chat = joint.user(items.columns([C]), items.columns([B]))
    term = joint.diff @ x_chat  # per column: resembles its dislikers more than its likers
    a, f = items.columns([A, F])
    assert term[a] > term[f]
    assert term[a] > 0 > term[f]
    y_chat = joint.user(items.columns([A]), items.columns([C]))
    assert (joint.diff @ y_chat)[items.column(B)] < term[items.column(B)]
    np.testing.assert_allclose(joint.pool_diff, joint.diff)  # the pool: every column here


def test_the_joint_model_is_trained_stored_and_served(tmp_path: Path) -> None:
    config = TrainConfig(
        factors=4,
        regularization=0.1,
        alpha=2.0,
        iterations=10,
        candidate_min_support=1,
        dislike_min_corated=1,
        dislike_signal=0.25,
        dislike_joint_factors=4,
        dislike_joint_regularization=0.1,
        dislike_joint_alpha=5.0,
        dislike_joint_weight=1.0,
    )
    trained = fit_model(_ratings(), RELEASE, config, num_threads=1)
    assert trained.joint_factors is not None
    assert trained.joint_factors.shape == (8, 4)
    catalog = _catalog()
    path = save_artifact(make_artifact(trained, catalog, RELEASE), tmp_path / "model")
    loaded = load_artifact(path)
    assert loaded.joint_factors is not None
    np.testing.assert_array_equal(loaded.joint_factors, trained.joint_factors)
    rec = Recommender(loaded)
    assert rec._joint is not None
    steer = rec._steering(rec.items.columns([C]), rec.items.columns([B]))
    assert steer is not None
    assert steer.joint_user is not None
    # the joint term is added to the statistics' signal, for any candidates
    columns = rec.items.columns([A, F])
    scores = np.array([1.0, 1.0], dtype=np.float32)
    with_joint = steer.apply(columns, scores)
    off = Recommender(
        make_artifact(
            replace(trained, config=config.with_(dislike_joint_weight=0.0)),
            catalog,
            RELEASE,
        )
    )
    assert off._joint is None
    without = off._steering(off.items.columns([C]), off.items.columns([B]))
    assert without is not None
    plain = without.apply(columns, scores)
    # A (what X users disliked) loses more with the joint term, F (liked by all) less
    assert with_joint[0] - plain[0] < 0 < with_joint[1] - plain[1]


def test_a_joint_model_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    config = TrainConfig(factors=4, iterations=5, dislike_joint_factors=4)
    trained = fit_model(_ratings(), RELEASE, config, num_threads=1)
    artifact = make_artifact(trained, _catalog(), RELEASE)
    assert artifact.joint_factors is not None
    bad = replace(artifact, joint_factors=artifact.joint_factors[:5])
    path = save_artifact(bad, tmp_path / "model")
    with pytest.raises(ArtifactError, match="joint_factors"):
        load_artifact(path)


def test_the_joint_fields_and_their_defaults() -> None:
    assert "dislike_joint_weight" in SERVING_FIELDS
    assert "dislike_joint_factors" not in SERVING_FIELDS  # changes what is trained
    assert TrainConfig().dislike_joint_factors == 0
    assert default_config("ml-32m").dislike_joint_factors == 0  # untuned: no statistics either


def test_the_linear_fold_in_at_confidence_one_is_the_fold_in() -> None:
    items = ItemIndex(np.array([A, B, C, F]))
    params = AlsParams(factors=4, regularization=5.0, alpha=1.0, iterations=15, seed=0)
    factors = fit_joint_factors(_ratings(), items, RELEASE.like_threshold, params, num_threads=1)
    joint = JointSignal(factors, params, np.arange(4))
    assert joint._linear is not None
    fav, dis = items.columns([C, F]), items.columns([B])
    exact = AlsScorer(factors, params).fold_in(
        np.array([*fav, *(dis + 4)]), np.ones(3, dtype=np.float32)
    )
    np.testing.assert_allclose(joint.user(fav, dis), exact.user, rtol=1e-4, atol=1e-6)
