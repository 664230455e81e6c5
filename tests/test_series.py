"""Series keys from titles: tiny lists with known answers, and the real MovieLens catalogs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pytest

from recsys.movielens import load_catalog
from recsys.series import series_keys

# Each tuple: titles (MovieLens spelling, without year) that form one series.
SERIES = [
    ("Matrix, The", "Matrix Reloaded, The", "Matrix Revolutions, The"),
    ("Godfather, The", "Godfather: Part II, The", "Godfather: Part III, The"),
    ("Toy Story", "Toy Story 2", "Toy Story 3"),
    ("Alien", "Aliens", "Alien³ (a.k.a. Alien 3)", "Alien: Resurrection"),
    ("Die Hard", "Die Hard 2", "Die Hard: With a Vengeance", "Live Free or Die Hard"),
    ("Back to the Future", "Back to the Future Part II", "Back to the Future Part III"),
    ("Shrek", "Shrek 2", "Shrek the Third"),
    (
        "Raiders of the Lost Ark (Indiana Jones and the Raiders of the Lost Ark)",
        "Indiana Jones and the Temple of Doom",
        "Indiana Jones and the Last Crusade",
    ),
    (
        "Harry Potter and the Chamber of Secrets",
        "Harry Potter and the Goblet of Fire",
        "Harry Potter and the Deathly Hallows: Part 1",
        "Harry Potter and the Deathly Hallows: Part 2",
    ),
    (
        "Lord of the Rings: The Fellowship of the Ring, The",
        "Lord of the Rings: The Two Towers, The",
        "Lord of the Rings: The Return of the King, The",
    ),
    (
        "Star Wars: Episode IV - A New Hope",
        "Star Wars: Episode V - The Empire Strikes Back",
        "Rogue One: A Star Wars Story",
    ),
    (
        "Star Trek: First Contact",
        "Star Trek II: The Wrath of Khan",
        "Star Trek III: The Search for Spock",
        "Star Trek IV: The Voyage Home",
        "Star Trek Into Darkness",
    ),
    ("Star Trek",),  # the 2009 film joins the Star Trek films above
    ("Mission: Impossible", "Mission: Impossible II", "Mission: Impossible - Fallout"),
    ("Kill Bill: Vol. 1", "Kill Bill: Vol. 2"),
]
# Titles that must stay outside every series above and outside each other's.
LONERS = [
    "Heat",
    "Heat and Dust",
    "Alien Nation",
    "Mission, The",
    "Malcolm X",
    "Blade Runner",
    "Animatrix, The",
    "Tokyo Godfathers",
]


def _groups(names: list[str], keys: list[str | None]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for name, key in zip(names, keys, strict=True):
        if key is not None:
            out.setdefault(key, set()).add(name)
    return out


def _flat(groups: Iterable[tuple[str, ...]]) -> list[str]:
    return [title for group in groups for title in group]


def test_tiny_catalog_groups_sequels_and_nothing_else() -> None:
    names = _flat(SERIES) + LONERS
    keys = series_keys(names)
    key_of = dict(zip(names, keys, strict=True))
    seen_keys: set[str] = set()
    for group in SERIES[:12] + SERIES[13:]:
        group_keys = {key_of[t] for t in group}
        assert len(group_keys) == 1, (group, group_keys)
        assert None not in group_keys, group
        assert not group_keys & seen_keys, f"{group} shares a key with another series"
        seen_keys |= group_keys  # type: ignore[arg-type]
    assert key_of["Star Trek"] == key_of["Star Trek: First Contact"]
    for loner in LONERS:
        assert key_of[loner] is None, loner
    assert key_of["Star Trek"] != key_of["Star Wars: Episode IV - A New Hope"]


def test_a_title_alone_or_with_its_remake_is_no_series() -> None:
    assert series_keys(["Heat", "Heat", "Heat and Dust", "Toy Story"]) == [None] * 4
    assert series_keys([]) == []
    assert series_keys(["", "2", ":", " - "]) == [None] * 4


def test_years_pick_the_original_among_remakes() -> None:
    names = ["Girl", "Girl", "Girl 6", "Hamlet", "Hamlet 2"]
    years = [1998, 2011, 1996, 1996, 2008]
    keys = series_keys(names, years=years)
    assert keys[2] is None  # Girl 6 (1996) came before both films called "Girl"
    assert keys[0] is None
    assert keys[1] is None
    assert keys[3] == keys[4] is not None
    assert series_keys(names)[2] is not None  # without years every namesake is a candidate
    with pytest.raises(ValueError, match="years"):
        series_keys(names, years=[1])


def _catalog_series(
    movielens_dir: Path, release: str
) -> tuple[pd.DataFrame, dict[int, str | None]]:
    catalog = load_catalog(movielens_dir / release, release)
    keys = series_keys(catalog["name"].tolist(), years=catalog["year"].tolist())
    return catalog, dict(zip(catalog.index.tolist(), keys, strict=True))


MUST_GROUP = {  # movieIds shared by ml-latest-small and ml-32m
    "matrix": {2571, 6365, 6934},
    "godfather": {858, 1221, 2023},
    "toy story": {1, 3114, 78499},
    "alien": {1214, 1200, 1320, 1690},
    "die hard": {1036, 1370, 165, 53972, 100498},
    "back to the future": {1270, 2011, 2012},
    "shrek": {4306, 8360, 53121},
    "indiana jones": {1198, 2115, 1291, 59615},
    "harry potter": {4896, 5816, 8368, 40815, 54001, 69844, 81834, 88125},
    "lord of the rings": {4993, 5952, 7153},
    "star wars": {260, 1196, 1210, 2628, 5378, 33493, 122886, 166528},
    "star trek": {1371, 1374, 1356, 68358, 102445},
}
MUST_NOT_GROUP = [
    (329, 260),  # Star Trek: Generations / Star Wars
    (6, 2917),  # Heat / Body Heat
    (2571, 27660),  # The Matrix / The Animatrix
    (648, 2745),  # Mission: Impossible / The Mission
    (1214, 3701),  # Alien / Alien Nation
]


@pytest.mark.parametrize("release", ["ml-latest-small", "ml-32m"])
def test_real_catalog_series(movielens_dir: Path, release: str) -> None:
    if not (movielens_dir / release / "movies.csv").is_file():
        pytest.skip(f"{release} is not in {movielens_dir}")
    catalog, series = _catalog_series(movielens_dir, release)
    for name, ids in MUST_GROUP.items():
        keys = {series.get(i) for i in ids}
        assert len(keys) == 1, (name, {i: series.get(i) for i in ids})
        assert None not in keys, name
    for a, b in MUST_NOT_GROUP:
        assert series.get(a) is None or series.get(a) != series.get(b), (a, b)
    if release == "ml-32m":
        assert series.get(201588) == series.get(1)  # Toy Story 4
        heat_and_dust = catalog.index[catalog["title"] == "Heat and Dust (1983)"]
        assert len(heat_and_dust) == 1
        assert series.get(heat_and_dust[0]) is None
        assert series.get(6) is None  # Heat (1995)
    # a series is a handful of films, not a first word shared by hundreds of titles
    sizes = Counter(k for k in series.values() if k is not None)
    assert max(sizes.values()) <= 40, sizes.most_common(3)
    assert 0.05 < sum(sizes.values()) / len(series) < 0.15


def test_ml_100k_spells_the_star_wars_episodes_without_the_series(movielens_dir: Path) -> None:
    _catalog, series = _catalog_series(movielens_dir, "ml-100k")
    assert series[50] == series[172] == series[181] is not None  # A New Hope, V, VI
    assert series[50] != series.get(222)  # Star Trek: First Contact
