"""Stable movie identity: tiny catalogs where the answer is known, then real MovieLens releases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recsys.identity import (
    IdentityIndex,
    MovieIdentity,
    bare_keys,
    identities,
    map_identities,
    normalise,
    title_keys,
)
from recsys.movielens import load_catalog, split_title


def catalog(rows: list[tuple[int, str, int | None]], genres: str = "Drama") -> pd.DataFrame:
    """A catalog frame like load_catalog's from (movie_id, title, imdb_id) rows."""
    split = [split_title(t) for _m, t, _i in rows]
    return pd.DataFrame(
        {
            "title": [t for _m, t, _i in rows],
            "name": [s[0] for s in split],
            "year": pd.array([s[1] for s in split], dtype="Int32"),
            "genres": genres,
            "imdb_id": pd.array([i for _m, _t, i in rows], dtype="Int64"),
        },
        index=pd.Index([m for m, _t, _i in rows], name="movie_id"),
    )


SMALL = catalog(
    [
        (1, "Toy Story (1995)", 114709),
        (50, "Usual Suspects, The (1995)", 114814),
        (47, "Seven (a.k.a. Se7en) (1995)", 114369),
        (58, "Postman, The (Postino, Il) (1994)", 110877),
        (858, "Godfather, The (1972)", 68646),
        (838, "Emma (1996)", 116191),
        (26958, "Emma (1996)", 118308),
        (2571, "Matrix, The (1999)", 133093),
    ]
)
OLD = catalog(  # ml-100k style: other ids, no IMDb ids, other spellings
    [
        (1, "Toy Story (1995)", None),
        (11, "Seven (Se7en) (1995)", None),
        (12, "Usual Suspects, The (1995)", None),
        (14, "Postino, Il (1994)", None),
        (127, "Godfather, The (1973)", None),  # year off by one: not a match
        (268, "Emma (1996)", None),
        (267, "unknown", None),
        (858, "Amityville: Dollhouse (1996)", None),
    ]
)


def test_normalise_folds_case_accents_punctuation_and_roman_numerals() -> None:
    assert normalise("Léon: The Professional") == "leon the professional"
    assert normalise("Godfather: Part II") == "godfather part 2"
    assert normalise("Schindler's List") == "schindlers list"
    assert normalise("E.T. the Extra-Terrestrial") == "et the extra terrestrial"
    assert normalise("Batman & Robin") == "batman and robin"


def test_title_keys_front_the_article_and_split_alternate_titles() -> None:
    main, alternate = title_keys("Postman, The (Postino, Il)")
    assert "the postman" in main
    assert alternate == {"il postino"}
    assert bare_keys("Postman, The (Postino, Il)") == {"postman", "postino"}
    main, _ = title_keys("The Usual Suspects")
    assert main == title_keys("Usual Suspects, The")[0]
    # Without the article is weaker evidence: "The Burglar" and "Burglar" are two 1987 films.
    assert not title_keys("The Burglar")[0] & title_keys("Burglar")[0]
    # A foreign word is dropped only where MovieLens had moved it: "Die Hard" is not "Hard".
    assert bare_keys("Die Hard") == frozenset()
    assert bare_keys("Dolce Vita, La") == {"dolce vita"}


def test_identity_encodes_and_decodes() -> None:
    index = IdentityIndex.build(SMALL)
    godfather = index.identity(858)
    assert godfather == MovieIdentity(68646, "Godfather, The (1972)")
    assert godfather.encode() == "tt0068646||Godfather, The (1972)"
    assert MovieIdentity.decode(godfather.encode()) == godfather
    emma = index.identity(26958)
    assert emma is not None
    assert emma.namesake
    assert emma.encode() == "tt0118308|namesake|Emma (1996)"
    assert MovieIdentity.decode(emma.encode()) == emma
    unknown = IdentityIndex.build(OLD).identity(267)
    assert unknown == MovieIdentity(None, "unknown")
    assert unknown.year is None
    assert MovieIdentity.decode("||a | title (2000)").title == "a | title (2000)"
    for bad in ("Toy Story (1995)", "123|x|y", "tt1|maybe|Toy Story (1995)"):
        with pytest.raises(ValueError, match="not an encoded movie identity"):
            MovieIdentity.decode(bad)
    assert index.identity(999999) is None
    assert identities(SMALL, [1, 999999]) == [MovieIdentity(114709, "Toy Story (1995)"), None]


def test_the_issue_example_maps_to_the_same_films_or_to_nothing() -> None:
    """Toy Story, The Godfather and Fargo liked on one release never become other films."""
    favorites = identities(SMALL, [1, 858, 50, 47, 58])
    assert map_identities([f for f in favorites if f], OLD) == [1, None, 12, 11, 14]
    back = identities(OLD, [1, 12, 11, 14, 127, 267, 858])
    assert map_identities([b for b in back if b], SMALL) == [1, 50, 47, 58, None, None, None]


def test_imdb_id_decides_and_a_differing_imdb_id_is_never_overridden_by_title() -> None:
    index = IdentityIndex.build(SMALL)
    assert index.find(MovieIdentity(133093, "Completely Different (1999)")) == 2571
    # Same title and year, another IMDb id: another film, not in this catalog.
    assert index.find(MovieIdentity(999, "Matrix, The (1999)")) is None
    # No IMDb id (a release without links): title and year decide.
    assert index.find(MovieIdentity(None, "The Matrix (1999)")) == 2571


def test_an_article_movielens_dropped_between_releases() -> None:
    """ml-1m's "Underneath, The (1995)" is ml-latest-small's "Underneath (1995)"."""
    new = catalog([(335, "Underneath (1995)", None)])
    index = IdentityIndex.build(new)
    assert index.find(MovieIdentity(None, "Underneath, The (1995)")) == 335
    assert index.by_title("The Underneath", 1995) is None  # only with bare=True
    assert index.by_title("The Underneath", 1995, bare=True) == 335
    # Where the title is there with its article, the article-free namesake does not compete.
    both = IdentityIndex.build(
        catalog([(3715, "Burglar (1987)", None), (9, "Burglar, The (1987)", None)])
    )
    assert both.find(MovieIdentity(None, "Burglar (1987)")) == 3715
    assert both.find(MovieIdentity(None, "Burglar, The (1987)")) == 9


def test_namesakes_are_never_guessed() -> None:
    # The catalog has two "Emma (1996)": a title alone cannot pick one.
    assert IdentityIndex.build(SMALL).find(MovieIdentity(None, "Emma (1996)")) is None
    # An identity made where "Emma (1996)" had a namesake does not map by title either.
    emma_tv = IdentityIndex.build(SMALL).identity(26958)
    assert emma_tv is not None
    assert IdentityIndex.build(OLD).find(emma_tv) is None
    # ... but the film has an IMDb id, which decides where the catalog links IMDb.
    assert IdentityIndex.build(SMALL).find(MovieIdentity(116191, "Emma (1996)")) == 838


def test_a_duplicate_entry_is_one_film_but_identical_titles_alone_are_not() -> None:
    dup = catalog([(246, "Chasing Amy (1997)", None), (268, "Chasing Amy (1997)", None)])
    dup["imdb_search"] = "Chasing+Amy+(1997)"
    assert IdentityIndex.build(dup).find(MovieIdentity(None, "Chasing Amy (1997)")) == 246
    twins = catalog([(2644, "Dracula (1931)", None), (180205, "Dracula (1931)", None)])
    twins["imdb_search"] = None
    assert IdentityIndex.build(twins).find(MovieIdentity(None, "Dracula (1931)")) is None


# --------------------------------------------------------------------------------------------
# Real releases

# Checked by hand against movies.csv / u.item: ml-100k id -> ml-latest-small id (None: absent).
HUNDRED_K_TO_SMALL = {
    1: 1,  # Toy Story (1995)
    11: 47,  # Seven (Se7en) -> Seven (a.k.a. Se7en)
    12: 50,  # Usual Suspects, The
    14: 58,  # Postino, Il -> Postman, The (Postino, Il)
    127: 858,  # Godfather, The (1972)
    177: 1201,  # Good, The Bad and The Ugly, The -> ... (Buono, il brutto, il cattivo, Il)
    1129: 123,  # Chungking Express -> Chungking Express (Chung Hing sam lam)
    254: 1562,  # Batman & Robin
    96: 589,  # Terminator 2: Judgment Day
    273: 6,  # Heat (1995)
    309: 1671,  # Deceiver (1997), listed twice in ml-100k (309, 1606)
    1606: 1671,
    440: 1326,  # Amityville II: The Possession
    453: 1389,  # Jaws 3-D
    664: 1305,  # Paris, Texas (a comma that is no article)
    749: 1629,  # MatchMaker, The
    267: None,  # unknown
    1682: None,  # Scream of Stone (Schrei aus Stein): not in ml-latest-small
    889: None,  # Tango Lesson, The: not in ml-latest-small
    857: None,  # Paris Was a Woman: not in ml-latest-small
    1200: None,  # Kim (1950): not in ml-latest-small
}
SMALL_TO_HUNDRED_K = {
    1340: 671,  # Bride of Frankenstein, The (Bride of Frankenstein) -> Bride of Frankenstein
    1277: 207,  # Cyrano de Bergerac (1990)
    858: 127,
    50: 12,
    3949: None,  # Requiem for a Dream (2000): after ml-100k
    2138: None,  # Watership Down: not in ml-100k
    8268: None,  # Point of No Return (1993): not in ml-100k
    2269: None,  # Indecent Proposal: not in ml-100k
    149334: None,  # Nocturnal Animals (no year in ml-latest-small)
}


@pytest.fixture(scope="module")
def releases(movielens_dir: Path) -> dict[str, pd.DataFrame]:
    return {
        name: load_catalog(movielens_dir / name, name)
        for name in ("ml-latest-small", "ml-100k", "ml-32m")
    }


def _mapped(
    releases: dict[str, pd.DataFrame], src: str, dst: str, ids: list[int]
) -> list[int | None]:
    found = identities(releases[src], ids)
    assert all(f is not None for f in found)
    return IdentityIndex.build(releases[dst]).find_many([f for f in found if f is not None])


def test_ml_100k_and_ml_latest_small_both_ways_on_a_hand_labelled_sample(
    releases: dict[str, pd.DataFrame],
) -> None:
    for src, dst, labels in (
        ("ml-100k", "ml-latest-small", HUNDRED_K_TO_SMALL),
        ("ml-latest-small", "ml-100k", SMALL_TO_HUNDRED_K),
    ):
        got = _mapped(releases, src, dst, list(labels))
        assert dict(zip(labels, got, strict=True)) == labels


def test_ml_latest_small_onto_ml_32m_keeps_every_shared_movie_id(
    releases: dict[str, pd.DataFrame],
) -> None:
    """ml-32m numbers movies as ml-latest-small does: a mapped movie keeps its id and title."""
    small, big = releases["ml-latest-small"], releases["ml-32m"]
    got = _mapped(releases, "ml-latest-small", "ml-32m", small.index.tolist())
    mapped = {m: g for m, g in zip(small.index, got, strict=True) if g is not None}
    assert len(mapped) / len(small) > 0.95
    moved = {m: g for m, g in mapped.items() if g != m}
    # Where the id changed, ml-32m no longer has the old id and lists the same title.
    assert len(moved) < 20
    for old, new in moved.items():
        assert old not in big.index
        assert title_keys(big.loc[new, "name"])[0] & title_keys(small.loc[old, "name"])[0]
        assert big.loc[new, "year"] == small.loc[old, "year"]


def test_ml_100k_maps_mostly_onto_ml_latest_small_and_ml_32m(
    releases: dict[str, pd.DataFrame],
) -> None:
    ids = releases["ml-100k"].index.tolist()
    for dst, least in (("ml-latest-small", 0.75), ("ml-32m", 0.9)):
        got = _mapped(releases, "ml-100k", dst, ids)
        assert sum(g is not None for g in got) / len(ids) > least
        # Never two ml-100k films onto one movie (its duplicate entries aside).
        films = [g for g in got if g is not None]
        assert len(films) - len(set(films)) <= 14


def test_the_release_switch_of_the_issue_on_real_data(releases: dict[str, pd.DataFrame]) -> None:
    """Toy Story, The Godfather, Fargo liked on ml-latest-small; restart on ml-100k; and back."""
    small = IdentityIndex.build(releases["ml-latest-small"])
    hundred_k = IdentityIndex.build(releases["ml-100k"])
    stored = [i.encode() for i in small.identities([1, 858, 608, 168250]) if i is not None]
    # Get Out (2017) is not in ml-100k: kept, flagged (None), never replaced by another film.
    assert [hundred_k.find_encoded(s) for s in stored] == [1, 127, 100, None]
    assert [small.find_encoded(s) for s in stored] == [1, 858, 608, 168250]
    # Identities written on ml-100k find the same films on ml-latest-small too.
    again = [i for i in hundred_k.identities([1, 127, 100]) if i is not None]
    assert small.find_many(again) == [1, 858, 608]
    assert small.find_encoded("garbage") is None
