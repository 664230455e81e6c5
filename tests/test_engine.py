"""The serving API on the real ml-latest-small model and on tiny synthetic data."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recsys.artifact import ArtifactError, save_artifact
from recsys.defaults import TrainConfig, default_config
from recsys.engine import Recommender, RecommendResult, fit_model, load_or_train, make_artifact
from recsys.movielens import DataPaths, get_release, load_catalog, load_ratings

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


def test_load_or_train_loads_an_existing_model(
    trained_model_path: Path, movielens_dir: Path, tmp_path: Path
) -> None:
    paths = DataPaths(data_dir=tmp_path, movielens_dir=movielens_dir)
    rec = load_or_train(paths, "ml-latest-small", trained_model_path, progress=False)
    assert rec.knows(TOY_STORY)
    assert np.isfinite(rec.scorer.item_factors).all()


# --------------------------------------------------------------------------------------------
# Tiny synthetic data where the answer is known: two blocks of users and movies.

BLOCK = 10  # movies 1..10 are liked by group A, 101..110 by group B


def _block_ratings() -> pd.DataFrame:
    rows = []
    rng = np.random.default_rng(1)
    for user in range(40):
        movies = range(1, BLOCK + 1) if user < 20 else range(101, 101 + BLOCK)
        for movie in movies:
            if rng.random() < 0.8:
                rows.append((user, movie, 5.0))
            else:
                rows.append((user, movie, 1.0))  # rated but not liked
    rows.append((99, 500, 5.0))  # one like of an isolated movie
    frame = pd.DataFrame(rows, columns=["user_id", "movie_id", "rating"])
    frame["timestamp"] = 0
    return frame.astype({"user_id": np.int32, "movie_id": np.int32, "rating": np.float32})


def _block_catalog(ratings: pd.DataFrame) -> pd.DataFrame:
    ids = [*range(1, BLOCK + 1), *range(101, 101 + BLOCK), 500, 900]
    likes = ratings[ratings.rating >= 4].movie_id.value_counts()
    return pd.DataFrame(
        {
            "title": [f"Movie {i} (2000)" for i in ids],
            "name": [f"Movie {i}" for i in ids],
            "year": pd.array([2000] * len(ids), dtype="Int32"),
            "genres": "Drama",
            "imdb_id": pd.array([pd.NA] * len(ids), dtype="Int64"),
            "tmdb_id": pd.array([pd.NA] * len(ids), dtype="Int64"),
            "imdb_search": None,
            "likes": [int(likes.get(i, 0)) for i in ids],
        },
        index=pd.Index(ids, name="movie_id", dtype=np.int32),
    )


@pytest.fixture(scope="module")
def block_recommender() -> Recommender:
    ratings = _block_ratings()
    release = get_release("ml-100k")  # whole stars: like = rating >= 4
    config = TrainConfig(
        factors=4, regularization=0.1, iterations=20, min_support=3, candidate_min_support=0
    )
    trained = fit_model(ratings, release, config, num_threads=1)
    return Recommender.from_trained(trained, release, _block_catalog(ratings))


def test_candidate_pool_recommends_only_supported_movies_in_full_order() -> None:
    ratings = _block_ratings()
    release = get_release("ml-100k")
    config = TrainConfig(factors=4, regularization=0.1, iterations=20, min_support=3)
    trained = fit_model(ratings, release, config, num_threads=1)
    catalog = _block_catalog(ratings)
    everything = Recommender.from_trained(trained, release, catalog)
    pooled = Recommender.from_trained(
        replace(trained, config=replace(config, candidate_min_support=3)), release, catalog
    )
    supported = set(catalog.index[catalog["likes"] >= 3])
    assert 500 not in supported  # the isolated movie has one like
    for favorites in ([1, 2, 3], [105, 500], [500]):
        full = [r.movie_id for r in everything.recommend(favorites, n=everything.n_items).items]
        got = [r.movie_id for r in pooled.recommend(favorites, n=everything.n_items).items]
        # the same ranking, restricted to the pool, never a favorite
        assert got == [m for m in full if m in supported]
        assert not set(got) & set(favorites)
        batch, _ = pooled.recommend_batch([np.array(favorites)], n=len(got))
        assert batch[0].tolist() == got


def test_block_recommendations_stay_in_the_block(block_recommender: Recommender) -> None:
    result = block_recommender.recommend([1, 2, 3], n=7)
    assert {r.movie_id for r in result.items} == set(range(4, BLOCK + 1))
    result = block_recommender.recommend([105], n=3)
    assert {r.movie_id for r in result.items} <= set(range(101, 101 + BLOCK))


def test_block_similar_stays_in_the_block_and_skips_low_support(
    block_recommender: Recommender,
) -> None:
    nearest = block_recommender.similar(1, n=BLOCK - 1)
    assert {s.movie_id for s in nearest} == set(range(2, BLOCK + 1))
    similar = block_recommender.similar(1, n=50)
    assert len(similar) == 2 * BLOCK - 1  # every supported movie but itself; never 500 (1 like)
    assert [s.score for s in similar] == sorted((s.score for s in similar), reverse=True)
    assert all(-1.0 <= s.score <= 1.0 + 1e-6 for s in similar)
    assert block_recommender.similar(1, n=0) == ()
    assert [s.movie_id for s in block_recommender.similar(500, n=3)]  # asking about it is fine


def test_every_known_movie_liked_gives_an_empty_result(block_recommender: Recommender) -> None:
    everything = block_recommender.items.item_ids.tolist()
    result = block_recommender.recommend([*everything, 900], n=10)
    assert result == RecommendResult(items=(), fallback=False, ignored=(900,))


def test_out_of_catalog_and_unliked_ids_are_ignored(block_recommender: Recommender) -> None:
    # 900 is in the catalog but nobody liked it; 7777 is nowhere
    result = block_recommender.recommend([900, 7777], n=3)
    assert result.fallback
    assert result.ignored == (900, 7777)
    assert not block_recommender.knows(900)
    assert block_recommender.knows(1)
    assert not block_recommender.knows("1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "favorites", [[], [1, 1, 1], ["x", None, 2.5, True], (i for i in [3]), [np.int64(3)], [2**70]]
)
def test_odd_input_never_raises(block_recommender: Recommender, favorites: Any) -> None:
    result = block_recommender.recommend(favorites, n=5)
    assert isinstance(result, RecommendResult)
    for n in (-1, 0, 10**9):
        block_recommender.recommend([1], n=n)
    block_recommender.why(2, favorites)


def test_n_is_clamped(block_recommender: Recommender) -> None:
    assert block_recommender.recommend([1], n=0).items == ()
    assert block_recommender.recommend([1], n=-3).items == ()
    assert len(block_recommender.recommend([1], n=10**9).items) == block_recommender.n_items - 1
    assert len(block_recommender.recommend([], n=10**9).items) == block_recommender.n_items


def test_because_matches_implicit_explain(block_recommender: Recommender) -> None:
    rec = block_recommender
    favorites = [1, 2, 3, 101]
    result = rec.recommend(favorites, n=5)
    row = rec.fold_in_rows([rec.items.columns(favorites)])
    for item in result.items:
        score, top = rec.scorer.explain(row, rec.items.column(item.movie_id), n=3)
        expected = tuple(int(rec.items.item_ids[c]) for c, s in top if s > 0)
        assert item.because == expected
        assert score == pytest.approx(item.score, rel=1e-3, abs=1e-5)


def test_why(block_recommender: Recommender) -> None:
    rec = block_recommender
    top = rec.recommend([1, 2, 3], n=1).items[0]
    why = rec.why(top.movie_id, [1, 2, 3, 7777])
    assert why.known
    assert why.rank == 1
    assert why.score == pytest.approx(top.score, rel=1e-4)
    assert why.ignored == (7777,)
    assert why.contributions[0][0] == top.because[0]
    shares = [s for _, s in why.contributions]
    assert shares == sorted(shares, reverse=True)
    assert sum(shares) == pytest.approx(top.score, rel=1e-3)
    assert rec.why(1, [1, 2]).rank is None  # a favorite has no rank
    assert rec.why(900, [1]).known is False
    unknown_favs = rec.why(1, [7777])
    assert unknown_favs.known
    assert unknown_favs.score is None
    assert unknown_favs.ignored == (7777,)


def test_training_is_deterministic() -> None:
    ratings = _block_ratings()
    release = get_release("ml-100k")
    config = TrainConfig(factors=4, iterations=5, seed=7)
    a = fit_model(ratings, release, config, num_threads=1).item_factors
    b = fit_model(ratings, release, config, num_threads=1).item_factors
    np.testing.assert_array_equal(a, b)
    c = fit_model(ratings, release, config.with_(seed=8), num_threads=1).item_factors
    assert not np.array_equal(a, c)


# --------------------------------------------------------------------------------------------
# The real model


def test_similar_movies_make_sense(recommender: Recommender) -> None:
    toy_story = [s.movie_id for s in recommender.similar(TOY_STORY, 10)]
    pixar_disney = {
        TOY_STORY_2,
        TOY_STORY_3,
        MONSTERS_INC,
        FINDING_NEMO,
        INCREDIBLES,
        UP,
        LION_KING,
        ALADDIN,
        BEAUTY_BEAST,
        1907,
        2081,
        2355,
        1022,
        1029,
        594,
        2078,
    }
    assert len(set(toy_story) & pixar_disney) >= 4
    # well-known pairs: the sequel or the franchise is among the 5 nearest
    pairs = {
        260: {1196, 1210},  # Star Wars IV -> V, VI
        1196: {260, 1210},
        4993: {5952, 7153},  # Lord of the Rings I -> II, III
        858: {1221},  # The Godfather -> Part II
        4896: {5816, 8368, 40815},  # Harry Potter 1 -> 2, 3, 4
        4306: {8360, 4886, 6377},  # Shrek -> Shrek 2, Monsters Inc., Finding Nemo
    }
    for movie, expected in pairs.items():
        near = {s.movie_id for s in recommender.similar(movie, 5)}
        assert near & expected, (movie, near)
    matrix = recommender.similar(2571, 5)  # The Matrix: science fiction and action
    genres = [recommender.catalog.at[s.movie_id, "genres"] for s in matrix]
    assert sum("Sci-Fi" in g or "Action" in g for g in genres) >= 3, matrix


def test_similar_movies_have_support(recommender: Recommender) -> None:
    likes = recommender.catalog["likes"]
    top = likes.sort_values(ascending=False).index[:50]
    min_support = recommender.config.min_support
    for movie in top:
        for s in recommender.similar(int(movie), 10):
            assert likes[s.movie_id] >= min_support


def test_concurrent_calls_give_identical_results(recommender: Recommender) -> None:
    favorites = [[TOY_STORY, 260, 2571], [318, 356], [LION_KING], [4993, 5952, 7153, 1]]
    expected = [recommender.recommend(f, 10) for f in favorites] * 10
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda f: recommender.recommend(f, 10), favorites * 10))
    assert got == expected


def test_fold_in_regularization_is_used_at_serving_only() -> None:
    ratings = _block_ratings()
    release = get_release("ml-100k")
    config = TrainConfig(factors=4, iterations=5, regularization=0.1)
    trained = fit_model(ratings, release, config, num_threads=1)
    stiff = replace(trained, config=config.with_(fold_in_regularization=1000.0))
    plain_rec = Recommender.from_trained(trained, release, _block_catalog(ratings))
    stiff_rec = Recommender.from_trained(stiff, release, _block_catalog(ratings))
    assert plain_rec.scorer.params.regularization == 0.1
    assert stiff_rec.scorer.params.regularization == 1000.0
    np.testing.assert_array_equal(plain_rec.scorer.item_factors, stiff_rec.scorer.item_factors)
    a = plain_rec.recommend([1, 2], n=3).items[0].score
    b = stiff_rec.recommend([1, 2], n=3).items[0].score
    assert b < a  # a stiffer user vector has a smaller norm


def test_title(recommender: Recommender) -> None:
    assert recommender.title(TOY_STORY) == "Toy Story (1995)"
    assert recommender.title(10**12) == ""
    assert recommender.title(2**70) == ""
    assert recommender.title("1") == ""  # type: ignore[arg-type]


def test_similar_movies_can_have_their_own_factors(tmp_path: Path) -> None:
    ratings = _block_ratings()
    release = get_release("ml-100k")
    config = TrainConfig(
        factors=4, iterations=10, min_support=3, similar_factors=3, similar_regularization=0.01
    )
    trained = fit_model(ratings, release, config, num_threads=1)
    assert trained.similar_factors is not None
    assert trained.similar_factors.shape == (trained.item_factors.shape[0], 3)
    rec = Recommender.from_trained(trained, release, _block_catalog(ratings))
    assert {s.movie_id for s in rec.similar(101, BLOCK - 1)} == set(range(102, 101 + BLOCK))
    saved = save_artifact(make_artifact(trained, _block_catalog(ratings), release), tmp_path / "m")
    loaded = Recommender.load(saved)
    assert loaded.similar(101, 5) == rec.similar(101, 5)
    assert loaded.recommend([1, 2], 3) == rec.recommend([1, 2], 3)


@pytest.mark.slow
def test_ml_100k_similar_movies_make_sense(movielens_dir: Path) -> None:
    release = get_release("ml-100k")
    folder = movielens_dir / "ml-100k"
    ratings = load_ratings(folder, release)
    trained = fit_model(ratings, release, default_config("ml-100k"))
    rec = Recommender.from_trained(trained, release, load_catalog(folder, release, ratings))
    toy_story = {s.movie_id for s in rec.similar(1, 10)}
    assert len(toy_story & {71, 95, 588, 432, 501, 99, 8, 1066}) >= 3  # animated and family films
    assert {172, 181} <= {s.movie_id for s in rec.similar(50, 5)}  # Star Wars -> V, VI
    assert 187 in {s.movie_id for s in rec.similar(127, 3)}  # The Godfather -> Part II
