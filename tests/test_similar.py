"""Similar movies: tags and the blend on tiny data, and what a film fan expects on MovieLens."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench.bench_similar import ANCHORS, accepted_share, read_anchors
from recsys.als import CosineIndex
from recsys.artifact import load_artifact
from recsys.engine import Recommender
from recsys.similar import NO_SERIES, SimilarIndex, SimilarWeights, series_codes, tag_vectors
from recsys.titles import TitleIndex

# --------------------------------------------------------------------------------------------
# Tag vectors


def test_tag_vectors_are_unit_tfidf_rows_counting_a_tag_once_per_movie() -> None:
    tags = pd.DataFrame(
        {
            "movie_id": [10, 10, 10, 20, 20, 30, 99],
            "tag": ["Pixar", "pixar!", "funny", "Pixar", "sad", "sad", "unknown movie"],
        }
    )
    vectors = tag_vectors(tags, np.array([10, 20, 30, 40]))
    assert vectors.shape[0] == 4
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, [1, 1, 1, 0], atol=1e-6)  # 40 has no tags
    sims = (vectors @ vectors.T).toarray()
    # 10 and 20 share "pixar" (two spellings, one tag); 20 and 30 share "sad"; 10 and 30 nothing
    assert sims[0, 1] > 0
    assert sims[1, 2] > 0
    assert sims[0, 2] == 0
    # "pixar" twice on movie 10 counts once: 10 is {pixar, funny}, not pixar-heavy
    weights = dict(zip(vectors[0].indices.tolist(), vectors[0].data.tolist(), strict=True))
    assert len(weights) == 2
    assert tag_vectors(tags.iloc[:0], np.array([1, 2])).shape == (2, 0)


# --------------------------------------------------------------------------------------------
# The blend on a tiny catalog with known answers


def _tiny() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Six movies. Factors: 0 is equally close to 1 and 2; 3 is far; 4 is barely liked."""
    catalog = pd.DataFrame(
        {
            "title": [f"t{i}" for i in range(6)],
            "name": ["Robo", "Space Cats", "Space Dogs", "Robo 2", "Robo 3", "Quiet Drama"],
            "year": pd.array([1990, 1991, 1991, 1995, 1999, 1990], dtype="Int32"),
            "genres": [
                "Animation|Sci-Fi",
                "Animation|Sci-Fi",
                "Drama",
                "Animation|Sci-Fi",
                "Animation",
                "Drama",
            ],
        },
        index=pd.Index([100, 101, 102, 103, 104, 105], name="movie_id"),
    )
    factors = np.array(
        [[1, 0], [0.8, 0.6], [0.8, 0.6], [-1, 0.1], [1, 0], [0, 1]], dtype=np.float32
    )
    support = np.array([50, 40, 40, 30, 2, 20])
    item_ids = catalog.index.to_numpy()
    return catalog, factors, support, item_ids


def test_series_first_then_genres_break_a_factor_tie() -> None:
    catalog, factors, support, item_ids = _tiny()
    index = SimilarIndex(factors, support, catalog=catalog, item_ids=item_ids, min_support=10)
    cols, scores = index.top(0, 10)
    # Robo 2 (same series, far in factor space) first; Robo 3 has 2 likes: never listed;
    # Space Cats (shares the genres) before Space Dogs (same factors, other genre)
    assert cols.tolist() == [3, 1, 2, 5]
    assert np.all(np.diff(scores) <= 0)
    assert np.all((scores >= -1) & (scores <= 1))
    assert index.series[0] == index.series[3] != NO_SERIES
    assert index.series[1] == index.series[4] == NO_SERIES  # 4 could never be listed
    # with a lower bar for series films Robo 3 follows Robo (2 likes >= 2)
    lower = SimilarIndex(
        factors,
        support,
        catalog=catalog,
        item_ids=item_ids,
        min_support=10,
        weights=SimilarWeights(series_min_likes=2),
    )
    assert lower.top(0, 3)[0].tolist()[:2] in ([3, 4], [4, 3])
    assert lower.series[4] == lower.series[0]


def test_factors_only_without_a_catalog_and_edge_cases() -> None:
    _, factors, support, _ = _tiny()
    index = SimilarIndex(factors, support, min_support=10)
    before = CosineIndex(factors, candidates=support >= 10)
    # no catalog: no genres, years or series; the order is the factor cosine's
    assert index.top(0, 10)[0].tolist() == before.top(0, 10)[0].tolist()
    assert index.top(4, 2)[0].size == 2  # a barely-liked movie may still be asked about
    for column, n in ((-1, 3), (6, 3), (0, 0), (0, -5)):
        cols, scores = index.top(column, n)
        assert cols.size == scores.size == 0
    with pytest.raises(ValueError, match="factor rows"):
        SimilarIndex(factors[:3], support)


def test_series_codes_follow_titles_and_missing_movies() -> None:
    catalog, _, _, item_ids = _tiny()
    codes = series_codes(catalog, np.append(item_ids, 999))  # 999 is not in the catalog
    assert codes[0] == codes[3] == codes[4] != NO_SERIES
    assert codes[-1] == NO_SERIES
    assert (series_codes(catalog.drop(columns="name"), item_ids) == NO_SERIES).all()


# --------------------------------------------------------------------------------------------
# What a film fan expects on ml-latest-small


def _titles(rec: Recommender, movie_id: int) -> list[str]:
    return [s.title for s in rec.similar(movie_id, 10)]


@pytest.mark.parametrize(
    ("movie_id", "first"),
    [
        (2571, ["Matrix Reloaded, The (2003)", "Matrix Revolutions, The (2003)"]),
        (858, ["Godfather: Part II, The (1974)", "Godfather: Part III, The (1990)"]),
        (1, ["Toy Story 2 (1999)", "Toy Story 3 (2010)"]),
        (1214, ["Aliens (1986)", "Alien³ (a.k.a. Alien 3) (1992)", "Alien: Resurrection (1997)"]),
    ],
)
def test_sequels_come_first_in_release_order(
    recommender: Recommender, movie_id: int, first: list[str]
) -> None:
    similar = recommender.similar(movie_id, 10)
    assert [s.title for s in similar[: len(first)]] == first
    scores = [s.score for s in similar]
    assert scores == sorted(scores, reverse=True)


def test_neighbours_share_the_movies_character(recommender: Recommender) -> None:
    ghibli = {
        "My Neighbor Totoro (Tonari no Totoro) (1988)",
        "Princess Mononoke (Mononoke-hime) (1997)",
        "Howl's Moving Castle (Hauru no ugoku shiro) (2004)",
        "Kiki's Delivery Service (Majo no takkyûbin) (1989)",
        "Laputa: Castle in the Sky (Tenkû no shiro Rapyuta) (1986)",
        "Nausicaä of the Valley of the Wind (Kaze no tani no Naushika) (1984)",
        "Porco Rosso (Crimson Pig) (Kurenai no buta) (1992)",
    }
    assert len(set(_titles(recommender, 5618)) & ghibli) >= 5  # Spirited Away
    samurai = _titles(recommender, 2019)  # Seven Samurai
    assert "Rashomon (Rashômon) (1950)" in samurai
    assert "Beverly Hills Cop (1984)" not in samurai
    aladdin = recommender.similar(588, 10)
    assert "Die Hard: With a Vengeance (1995)" not in {s.title for s in aladdin}
    genres = [str(recommender.catalog.at[s.movie_id, "genres"]) for s in aladdin]
    assert sum("Animation" in g for g in genres) >= 8


def test_labelled_anchors_beat_the_plain_factor_cosine(
    recommender: Recommender, trained_model_path: Path
) -> None:
    """On the tuning anchors, the blend accepts clearly more than the previous lists."""
    anchors, resolved, _ = read_anchors(Path(ANCHORS), TitleIndex.build(recommender.catalog))
    assert len(anchors) >= 95
    assert resolved > 1500
    factors = load_artifact(trained_model_path).similar_factors
    assert factors is not None
    before = CosineIndex(factors, candidates=recommender.support >= recommender.config.min_support)

    def plain(movie_id: int, n: int) -> list[int]:
        col = recommender.items.column(movie_id)
        return [] if col is None else recommender.items.item_ids[before.top(col, n)[0]].tolist()

    def ours(movie_id: int, n: int) -> list[int]:
        return [s.movie_id for s in recommender.similar(movie_id, n)]

    tune = [a for a in anchors if a.batch == "tune"]
    assert accepted_share(ours, tune) >= accepted_share(plain, tune) + 0.2  # 0.65 against 0.37
    # the batches never tuned on gain too (reporting only: the margin is loose)
    for batch in ("holdout", "holdout2"):
        held = [a for a in anchors if a.batch == batch]
        assert len(held) >= 20
        assert accepted_share(ours, held) >= accepted_share(plain, held) + 0.1


def test_concurrent_calls_on_an_index_without_stored_series(
    recommender: Recommender, trained_model_path: Path
) -> None:
    """Series codes read lazily (an older artifact) are computed once; answers equal serial ones."""
    artifact = load_artifact(trained_model_path)
    assert artifact.similar_factors is not None
    kwargs: dict[str, Any] = {
        "catalog": artifact.catalog,
        "item_ids": artifact.item_ids,
        "min_support": recommender.config.min_support,
        "tags": artifact.tag_vectors,
    }
    serial = SimilarIndex(artifact.similar_factors, artifact.support, **kwargs)
    columns = list(range(0, artifact.item_ids.size, 97))
    expected = [serial.top(c, 10)[0].tolist() for c in columns]
    shared = SimilarIndex(artifact.similar_factors, artifact.support, **kwargs)
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda c: shared.top(c, 10)[0].tolist(), columns))
    assert got == expected
    np.testing.assert_array_equal(shared.series, serial.series)
    # read from the titles of the listable movies only, the codes give (nearly) the same
    # series-mates as the stored ones read from every title: a series can lose a link that
    # went through a barely-liked film (The Hobbit's third part on ml-latest-small)
    assert artifact.series is not None
    listed = np.flatnonzero(artifact.support >= recommender.config.min_support)

    def mates(codes: np.ndarray, col: int) -> set[int]:
        if codes[col] == NO_SERIES:
            return set()
        return set(listed[codes[listed] == codes[col]].tolist()) - {col}

    agree = [mates(shared.series, c) == mates(artifact.series, c) for c in listed.tolist()]
    assert np.mean(agree) > 0.99
