"""The makers table of similar movies: parsing, matching titles, the blend, and on MovieLens."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.artifact import load_artifact
from recsys.engine import Recommender
from recsys.similar import (
    SimilarIndex,
    SimilarWeights,
    maker_vectors,
    makers_table,
    parse_makers,
)

TABLE = """# comment line
Director A\tThe Matrix; La Dolce Vita; Girl (2011)
Studio B\tMatrix; Quiet Drama; Space Dogs; Space Cats; Girl

Empty\tNo Such Film
"""


def _catalog() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    catalog = pd.DataFrame(
        {
            "name": [
                "Matrix, The",
                "Dolce Vita, La",
                "Girl",
                "Girl",
                "Quiet Drama",
                "Space Dogs",
                "Space Cats",
                "Rare Film",
            ],
            "year": pd.array([1999, 1960, 1998, 2011, 1990, 1991, 1991, 2000], dtype="Int32"),
            "genres": ["Sci-Fi", "Drama", "Drama", "Drama", "Drama", "Comedy", "Comedy", "Drama"],
        },
        index=pd.Index([10, 11, 12, 13, 14, 15, 16, 17], name="movie_id"),
    )
    support = np.array([90, 40, 60, 20, 30, 25, 25, 3])
    return catalog, catalog.index.to_numpy(), support


def test_parse_makers_reads_keys_years_and_skips_comments() -> None:
    table = parse_makers(TABLE)
    assert [maker for maker, _ in table] == ["Director A", "Studio B", "Empty"]
    assert table[0][1] == (("matrix", None), ("la dolce vita", None), ("girl", 2011))
    assert table[1][1][0] == ("matrix", None)  # with or without the article: one key


def test_maker_vectors_match_titles_by_article_year_and_likes() -> None:
    catalog, item_ids, support = _catalog()
    vectors = maker_vectors(catalog, item_ids, support, table=parse_makers(TABLE))
    assert vectors.shape == (8, 3)
    members = {col: set(vectors[:, col].nonzero()[0].tolist()) for col in range(3)}
    # Director A: The Matrix (trailing article), La Dolce Vita (foreign article), Girl of 2011
    assert members[0] == {0, 1, 3}
    # Studio B: "Girl" without a year is the most-liked Girl (1998, 60 likes)
    assert members[1] == {0, 2, 4, 5, 6}
    assert members[2] == set()  # a film the catalog does not have
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, [1, 1, 1, 1, 1, 1, 1, 0], atol=1e-6)
    sims = (vectors @ vectors.T).toarray()
    # sharing the small maker (3 films) says more than sharing the big one (5 films)
    assert sims[0, 1] > sims[0, 4] > 0
    assert sims[1, 4] == 0
    # below the support bar a movie is not looked at; without names nothing is
    rare = maker_vectors(catalog, item_ids, support, min_support=50, table=parse_makers(TABLE))
    assert set(rare.nonzero()[0].tolist()) == {0, 2}
    assert maker_vectors(catalog.drop(columns="name"), item_ids, support).shape == (8, 0)


def test_makers_lift_a_film_of_the_same_maker_in_the_blend() -> None:
    catalog, item_ids, support = _catalog()
    table = parse_makers("Auteur\tMatrix; Quiet Drama\n")
    # The Matrix's factors are as close to Quiet Drama as to Dolce Vita and the Girls
    factors = np.array(
        [[1, 0], [0.6, 0.8], [0.6, 0.8], [0.6, 0.8], [0.6, 0.8], [0, 1], [0, 1], [1, 0]],
        dtype=np.float32,
    )
    makers = maker_vectors(catalog, item_ids, support, min_support=10, table=table)
    kwargs = {"catalog": catalog.drop(columns="genres"), "item_ids": item_ids, "min_support": 10}
    plain = SimilarIndex(factors, support, weights=SimilarWeights(makers=0.0), **kwargs)
    blend = SimilarIndex(factors, support, makers=makers, **kwargs)
    assert plain.top(0, 1)[0].tolist() != [4]
    assert blend.top(0, 1)[0].tolist() == [4]
    cols, scores = blend.top(0, 7)
    assert np.all(np.diff(scores) <= 0)
    assert np.all((scores >= -1) & (scores <= 1))
    assert 7 not in cols.tolist()  # 3 likes: never listed


# --------------------------------------------------------------------------------------------
# The shipped table on ml-latest-small


def test_the_shipped_table_parses_and_mostly_matches_the_catalog(
    recommender: Recommender,
) -> None:
    table = makers_table()
    assert len(table) >= 80
    films = sum(len(f) for _, f in table)
    assert films >= 1200
    vectors = maker_vectors(recommender.catalog, recommender.items.item_ids, recommender.support)
    assert vectors.nnz >= 0.8 * films  # most of the table is in ml-latest-small
    # a title without a year is the most-liked film of that title, a year picks the film
    hitchcock = next(c for c, (maker, _) in enumerate(table) if maker == "Alfred Hitchcock")
    listed = set(recommender.items.item_ids[vectors[:, hitchcock].nonzero()[0]].tolist())
    assert {1219, 903, 904} <= listed  # Psycho (1960), Vertigo, Rear Window
    assert 2389 not in listed  # Psycho (1998)
    assert 930 in listed  # "Notorious" (no year): the most-liked, 1946 ...
    assert 65810 not in listed  # ... not 2009


def _titles(rec: Recommender, movie_id: int) -> list[str]:
    return [s.title for s in rec.similar(movie_id, 10)]


def test_neighbours_by_the_same_makers(recommender: Recommender) -> None:
    coens = {
        "Fargo (1996)",
        "O Brother, Where Art Thou? (2000)",
        "Man Who Wasn't There, The (2001)",
        "No Country for Old Men (2007)",
        "Burn After Reading (2008)",
        "Miller's Crossing (1990)",
        "Raising Arizona (1987)",
        "Hudsucker Proxy, The (1994)",
        "Blood Simple (1984)",
        "Barton Fink (1991)",
    }
    assert len(set(_titles(recommender, 1732)) & coens) >= 5  # Big Lebowski
    kubrick = {
        "2001: A Space Odyssey (1968)",
        "Full Metal Jacket (1987)",
        "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1964)",
        "Eyes Wide Shut (1999)",
        "Paths of Glory (1957)",
        "Shining, The (1980)",
        "Barry Lyndon (1975)",
        "Spartacus (1960)",
    }
    assert len(set(_titles(recommender, 1206)) & kubrick) >= 4  # A Clockwork Orange
    # the examples still hold with the makers in the blend
    assert _titles(recommender, 2571)[:2] == [
        "Matrix Reloaded, The (2003)",
        "Matrix Revolutions, The (2003)",
    ]


def _factors(path: Path) -> np.ndarray:
    factors = load_artifact(path).similar_factors
    assert factors is not None
    return factors


def test_makers_are_read_once_under_concurrent_first_calls(
    recommender: Recommender, trained_model_path: Path
) -> None:
    """An index whose makers are read at the first call answers as one given them upfront."""
    catalog, ids, support = recommender.catalog, recommender.items.item_ids, recommender.support
    factors = _factors(trained_model_path)
    given = SimilarIndex(
        factors,
        support,
        catalog=catalog,
        item_ids=ids,
        makers=maker_vectors(catalog, ids, support, min_support=10),
    )
    lazy = SimilarIndex(factors, support, catalog=catalog, item_ids=ids)
    columns = list(range(0, ids.size, 131))
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda c: lazy.top(c, 10)[0].tolist(), columns))
    assert got == [given.top(c, 10)[0].tolist() for c in columns]
    warmed = SimilarIndex(factors, support, catalog=catalog, item_ids=ids)
    warming = threading.Thread(target=warmed.warm_up)
    warming.start()  # the bot's start: warmed in the background while the first calls come
    first = [warmed.top(c, 10)[0].tolist() for c in columns]
    warming.join()
    assert first == got
    idle = SimilarIndex(factors, support, catalog=catalog, item_ids=ids)
    assert idle._makers_pending
    idle.warm_up()  # no call yet: the makers are read now, not at the first call
    assert not idle._makers_pending
    assert [(m.rows != g.rows).nnz for m, g in zip(idle._sparse, given._sparse, strict=True)] == [0]


@pytest.mark.parametrize("weight", [0.0, 0.6])
def test_scores_of_given_candidates_match_the_pool_scores(
    recommender: Recommender, trained_model_path: Path, weight: float
) -> None:
    catalog, ids, support = recommender.catalog, recommender.items.item_ids, recommender.support
    index = SimilarIndex(
        _factors(trained_model_path),
        support,
        catalog=catalog,
        item_ids=ids,
        weights=SimilarWeights(makers=weight),
    )
    column = int(recommender.items.column(1732) or 0)
    cols, scores = index.top(column, 10)
    assert cols.size == 10
    np.testing.assert_allclose(index.scores(column, cols), scores, rtol=1e-5, atol=1e-6)
