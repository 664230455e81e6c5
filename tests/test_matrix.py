"""The like matrix, its id maps and the confidence weighting."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from implicit.nearest_neighbours import bm25_weight
from scipy.sparse import csr_matrix

from recsys.defaults import TrainConfig
from recsys.matrix import ItemIndex, Weighting, build_interactions, rows_from_columns
from recsys.movielens import get_release, load_ratings


def test_matrix_shape_and_mapping_match_the_ratings_file(movielens_dir: Path) -> None:
    folder = movielens_dir / "ml-latest-small"
    per_movie: Counter[int] = Counter()
    per_user: Counter[int] = Counter()
    with (folder / "ratings.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if float(row["rating"]) >= 3.5:
                per_movie[int(row["movieId"])] += 1
                per_user[int(row["userId"])] += 1
    inter = build_interactions(load_ratings(folder, "ml-latest-small"), 3.5)
    assert inter.matrix.shape == (len(per_user), len(per_movie))
    assert inter.matrix.nnz == sum(per_movie.values())
    assert set(inter.matrix.data.tolist()) == {1.0}
    col_sums = np.asarray(inter.matrix.sum(axis=0)).ravel()
    cols = inter.items.columns(list(per_movie))
    assert (cols >= 0).all()
    assert col_sums[cols].tolist() == list(per_movie.values())
    row_sums = np.asarray(inter.matrix.sum(axis=1)).ravel()
    rows = np.searchsorted(inter.user_ids, list(per_user))
    assert row_sums[rows].tolist() == list(per_user.values())
    # Toy Story: 1 is the smallest movieId with a like, so column 0.
    assert inter.items.column(1) == 0
    assert inter.support[0] == per_movie[1]


def test_duplicate_ratings_count_once_and_threshold_is_inclusive() -> None:
    ratings = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3],
            "movie_id": [10, 10, 10, 20, 30],
            "rating": [4.0, 5.0, 3.5, 3.0, 1.0],
            "timestamp": 0,
        }
    )
    inter = build_interactions(ratings, 3.5)
    assert inter.matrix.shape == (2, 1)  # user 3 and movies 20, 30 have no likes
    assert inter.matrix.toarray().tolist() == [[1.0], [1.0]]
    assert inter.user_ids.tolist() == [1, 2]
    assert inter.items.item_ids.tolist() == [10]


def test_item_index_maps_unknown_ids_to_minus_one() -> None:
    index = ItemIndex(np.array([3, 7, 42]))
    assert index.columns([42, 3, 5, -1, 10**12, 7]).tolist() == [2, 0, -1, -1, -1, 1]
    assert index.column(8) is None
    assert index.movie_ids([1, 2]).tolist() == [7, 42]
    assert ItemIndex(np.array([], dtype=np.int64)).columns([1]).tolist() == [-1]
    with pytest.raises(ValueError, match="increasing"):
        ItemIndex(np.array([3, 3]))


def test_bm25_matches_implicit_on_training_rows(movielens_dir: Path) -> None:
    release = get_release("ml-100k")
    inter = build_interactions(load_ratings(movielens_dir / "ml-100k", release), 4.0)
    weighting = Weighting.fit(inter.matrix, "bm25", k1=100, b=0.8)
    ours = weighting.apply(inter.matrix)
    theirs = csr_matrix(bm25_weight(inter.matrix, K1=100, B=0.8))
    # implicit has no floor on idf; no ml-100k movie is liked by nearly everyone
    np.testing.assert_allclose(ours.toarray(), theirs.toarray(), rtol=1e-5, atol=1e-6)


def test_a_single_row_is_weighted_exactly_as_in_training() -> None:
    rng = np.random.default_rng(0)
    dense = (rng.random((40, 25)) < 0.3).astype(np.float32)
    matrix = csr_matrix(dense)
    weighting = Weighting.fit(matrix, "bm25", k1=1.2, b=0.75)
    whole = weighting.apply(matrix).toarray()
    for i in (0, 7, 39):
        single = weighting.apply(csr_matrix(dense[i : i + 1])).toarray()
        np.testing.assert_allclose(single[0], whole[i], rtol=1e-6)
        assert (single[single != 0] > 0).all()  # never "disliked"
    # what implicit's bm25_weight does to a lone row: a negative idf
    lone = csr_matrix(bm25_weight(csr_matrix(dense[:1]), K1=1.2, B=0.75))
    assert (lone.data < 0).all()


def test_plain_weighting_and_unknown_scheme() -> None:
    matrix = csr_matrix(np.array([[1, 0, 1]], dtype=np.float32))
    assert (Weighting.fit(matrix, "plain").apply(matrix) != matrix).nnz == 0
    with pytest.raises(ValueError, match="unknown weighting"):
        Weighting.fit(matrix, "tfidf")


def test_idf_of_an_item_everyone_likes_stays_positive() -> None:
    matrix = csr_matrix(np.ones((5, 2), dtype=np.float32))
    weighting = Weighting.fit(matrix, "bm25")
    assert weighting.idf is not None
    assert (weighting.idf > 0).all()


def test_rows_from_columns() -> None:
    rows = rows_from_columns([[2, 0, 2], [], [1]], 3)
    assert rows.toarray().tolist() == [[1, 0, 1], [0, 0, 0], [0, 1, 0]]
    with pytest.raises(ValueError, match="out of range"):
        rows_from_columns([[3]], 3)
    with pytest.raises(ValueError, match="out of range"):
        rows_from_columns([[-1]], 3)


def test_row_weights_equal_the_rows_weighting() -> None:
    rng = np.random.default_rng(4)
    matrix = csr_matrix((rng.random((30, 12)) < 0.3).astype(np.float32))
    for scheme in ("bm25", "plain"):
        weighting = Weighting.fit(matrix, scheme, k1=1.2, b=0.75)
        for columns in ([0, 3, 7], [5], list(range(12)), []):
            expected = weighting.rows([columns], 12).data
            got = weighting.row_weights(np.array(columns, dtype=np.int64), 12)
            np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_weighting_params_round_trip_and_default_to_the_config() -> None:
    matrix = rows_from_columns([[0, 1], [1, 2, 3], [3]], 4)
    fitted = Weighting.fit(matrix, "bm25", k1=1.2, b=0.5)
    again = Weighting.from_params(fitted.params(), fitted.idf)
    rows = [np.array([0, 3]), np.array([1])]
    np.testing.assert_array_equal(again.rows(rows, 4).data, fitted.rows(rows, 4).data)
    bare = Weighting.from_params({"scheme": "bm25"}, fitted.idf)  # an older artifact's metadata
    assert (bare.k1, bare.b) == (TrainConfig().k1, TrainConfig().b)
    assert Weighting.from_params(None, None).scheme == "plain"
