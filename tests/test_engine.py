"""The serving API on the real ml-latest-small model and on tiny synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recsys.artifact import ArtifactError
from recsys.engine import Recommender, load_or_train
from recsys.movielens import DataPaths

TOY_STORY, TOY_STORY_2, TOY_STORY_3 = 1, 3114, 78499
MONSTERS_INC, FINDING_NEMO, INCREDIBLES, UP = 4886, 6377, 8961, 68954
LION_KING, ALADDIN, BEAUTY_BEAST = 364, 588, 595


def test_recommend_never_returns_a_favorite(recommender: Recommender) -> None:
    favorites = [TOY_STORY, TOY_STORY_2, LION_KING, ALADDIN, BEAUTY_BEAST]
    result = recommender.recommend(favorites, n=50)
    assert not result.fallback
    assert result.ignored == ()
    assert len(result.items) == 50
    assert not {r.movie_id for r in result.items} & set(favorites)
    scores = [r.score for r in result.items]
    assert scores == sorted(scores, reverse=True)


def test_recommend_for_pixar_fans_gives_animation(recommender: Recommender) -> None:
    result = recommender.recommend([TOY_STORY, TOY_STORY_2, MONSTERS_INC], n=10)
    genres = [recommender.catalog.at[r.movie_id, "genres"] for r in result.items]
    assert sum("Animation" in g for g in genres) >= 5
    for item in result.items:
        assert item.title == recommender.catalog.at[item.movie_id, "title"]
        assert 1 <= len(item.because) <= 3
        assert set(item.because) <= {TOY_STORY, TOY_STORY_2, MONSTERS_INC}


def test_unknown_and_duplicate_favorites(recommender: Recommender) -> None:
    result = recommender.recommend([TOY_STORY, -5, TOY_STORY, 10**12, TOY_STORY], n=5)
    assert not result.fallback
    assert result.ignored == (-5, 10**12)
    assert TOY_STORY not in {r.movie_id for r in result.items}


def test_no_usable_favorites_is_a_flagged_popular_fallback(recommender: Recommender) -> None:
    for favorites in ([], [-1, 10**15]):
        result = recommender.recommend(favorites, n=5)
        assert result.fallback
        assert len(result.items) == 5
        likes = [recommender.catalog.at[r.movie_id, "likes"] for r in result.items]
        assert likes == sorted(likes, reverse=True)
        assert likes[0] == recommender.catalog["likes"].max()


def test_similar_toy_story(recommender: Recommender) -> None:
    similar = [s.movie_id for s in recommender.similar(TOY_STORY, 10)]
    assert TOY_STORY not in similar
    assert TOY_STORY_2 in similar[:3]
    assert recommender.similar(10**12) == ()


def test_missing_artifact_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="moviebot train"):
        Recommender.load(tmp_path / "nothing")


def test_load_or_train_loads_an_existing_model(trained_model_path: Path,
                                               movielens_dir: Path, tmp_path: Path) -> None:
    paths = DataPaths(data_dir=tmp_path, movielens_dir=movielens_dir)
    rec = load_or_train(paths, "ml-latest-small", trained_model_path, progress=False)
    assert rec.knows(TOY_STORY)
    assert np.isfinite(rec.scorer.item_factors).all()
