"""Title resolution: normalisation, decisions on a tiny catalog, accuracy on MovieLens, the CLI."""

from __future__ import annotations

import io
import json
import re
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from recsys.movielens import load_catalog, load_ratings, split_title
from recsys.titles import (
    MAX_CANDIDATES,
    MAX_QUERY_CHARS,
    MAX_SUGGESTIONS,
    W_ALIAS,
    W_PART,
    W_TITLE,
    MatchStatus,
    Resolution,
    TitleIndex,
    split_aliases,
    title_keys,
    words,
)

QUERIES = Path(__file__).parent / "data" / "title_queries.tsv"
HOLDOUT = Path(__file__).parent / "data" / "title_queries_holdout.tsv"


def make_catalog(rows: list[tuple[int, str, int]]) -> pd.DataFrame:
    """A catalog frame like load_catalog's from (movie_id, MovieLens title, likes)."""
    split = [split_title(title) for _id, title, _likes in rows]
    frame = pd.DataFrame(
        {
            "movie_id": [r[0] for r in rows],
            "title": [r[1] for r in rows],
            "name": [s[0] for s in split],
            "year": pd.array([s[1] for s in split], dtype="Int32"),
            "genres": "Drama",
            "imdb_id": pd.array([pd.NA] * len(rows), dtype="Int64"),
            "tmdb_id": pd.array([pd.NA] * len(rows), dtype="Int64"),
            "imdb_search": None,
            "likes": [r[2] for r in rows],
        }
    )
    return frame.set_index("movie_id")


TINY = [
    (1, "Sing (2016)", 3),
    (2, "Singin' in the Rain (1952)", 38),
    (3, "Titanic (1997)", 100),
    (4, "Titanic (1953)", 5),
    (5, "The Greatest Showman (2017)", 2),
    (6, "Snowman, The (1982)", 4),
    (7, "Shawshank Redemption, The (1994)", 300),
    (8, "Godfather, The (1972)", 165),
    (9, "Godfather: Part II, The (1974)", 114),
    (10, "Seven (a.k.a. Se7en) (1995)", 90),
    (11, "Jaws (1975)", 80),
    (12, "1917 (2019)", 10),
    (13, "Lord of the Rings, The (1978)", 6),
    (14, "Lord of the Rings: The Fellowship of the Ring, The (2001)", 168),
    (15, "Lord of the Rings: The Two Towers, The (2002)", 156),
    (16, "City of Lost Children, The (Cité des enfants perdus, La) (1995)", 20),
    (17, "WALL·E (2008)", 70),
    (18, "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", 60),
    (19, "Shrek the Third (2007)", 30),
    (20, "In & Out (1997)", 15),
    (21, "Sixth Sense, The (1999)", 200),
    (22, "Incredibles, The (2004)", 150),
    (23, "Incredibles 2 (2018)", 3),
    (24, "Inglorious Bastards (Quel maledetto treno blindato) (1978)", 5),
    (25, "Inglourious Basterds (2009)", 81),
    (26, "Die Hard (1988)", 90),
    (27, "Die Hard 2 (1990)", 40),
    (28, "Die Hard: With a Vengeance (1995)", 50),
    (29, "Hard (1998)", 1),
]


@pytest.fixture(scope="module")
def tiny() -> TitleIndex:
    return TitleIndex.build(make_catalog(TINY))


@pytest.fixture(scope="module")
def small(movielens_dir: Path) -> TitleIndex:
    folder = movielens_dir / "ml-latest-small"
    ratings = load_ratings(folder, "ml-latest-small")
    return TitleIndex.build(load_catalog(folder, "ml-latest-small", ratings))


def top1(res: Resolution) -> int | None:
    """The movie a resolution points at: the match, or the first candidate when ambiguous."""
    if res.status is MatchStatus.MATCHED:
        return res.movie_id
    if res.status is MatchStatus.AMBIGUOUS:
        return res.candidates[0].movie_id
    return None


def check_shape(res: Resolution) -> None:
    """The invariants of the Resolution contract."""
    assert isinstance(res.status, MatchStatus)
    if res.status is MatchStatus.MATCHED:
        assert res.movie_id is not None
        assert res.title
        assert res.candidates == ()
    else:
        assert res.movie_id is None
        assert res.title is None
    if res.status is MatchStatus.AMBIGUOUS:
        assert 2 <= len(res.candidates) <= MAX_CANDIDATES
    if res.status is MatchStatus.NOT_FOUND:
        assert len(res.candidates) <= MAX_SUGGESTIONS
    ids = [c.movie_id for c in res.candidates]
    assert len(ids) == len(set(ids))


# --------------------------------------------------------------------------------------------
# Normalisation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Toy Story", ["toy", "story"]),
        ("Godfather: Part II", ["godfather", "2"]),
        ("godfather part two", ["godfather", "2"]),
        ("Star Wars: Episode V", ["star", "wars", "5"]),
        ("Kill Bill: Vol. 1", ["kill", "bill", "1"]),
        ("Rocky IV", ["rocky", "4"]),
        ("Ocean's Eleven", ["oceans", "11"]),
        ("Shrek the Third", ["shrek", "the", "3"]),
        ("Léon", ["leon"]),
        ("WALL·E", ["wall", "e"]),
        ("E.T. the Extra-Terrestrial", ["et", "the", "extra", "terrestrial"]),
        ("L.A. Confidential", ["la", "confidential"]),
        ("Fabuleux destin d'Amélie Poulain", ["fabuleux", "destin", "d", "amelie", "poulain"]),
        ("Dumb & Dumber", ["dumb", "and", "dumber"]),
        ("I, Robot", ["i", "robot"]),
        ("Alien³", ["alien3"]),
        ("Ærø  \t Øst", ["aero", "ost"]),
        ("a\u200fb\u202ec", ["abc"]),
        ("🎬 !!! ...", []),
    ],
)
def test_words_normalise_spelling_numbers_and_punctuation(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_split_aliases_takes_every_trailing_parenthesis() -> None:
    assert split_aliases("Léon: The Professional (a.k.a. The Professional) (Léon)") == (
        "Léon: The Professional",
        ["The Professional", "Léon"],
    )
    assert split_aliases("Seven (a.k.a. Se7en)") == ("Seven", ["Se7en"])
    assert split_aliases("(500) Days of Summer") == ("(500) Days of Summer", [])


def test_title_keys_front_articles_aliases_and_parts() -> None:
    keys = title_keys("Godfather: Part II, The")
    assert keys[("the", "godfather", "2")] == W_TITLE
    assert keys[("godfather", "2")] == W_TITLE
    assert keys[("the", "godfather")] == W_PART
    alias = title_keys("City of Lost Children, The (Cité des enfants perdus, La)")
    assert alias[("la", "cite", "des", "enfants", "perdus")] == W_ALIAS
    assert alias[("cite", "des", "enfants", "perdus")] == W_ALIAS
    assert alias[("city", "of", "lost", "children")] == W_TITLE
    # A part that is only a number or a stopword identifies nothing; a title that is one does.
    assert ("2",) not in keys
    assert title_keys("300")[("300",)] == W_TITLE
    assert title_keys("Die Hard") == {("die", "hard"): W_TITLE}  # "die" is not an article here


# --------------------------------------------------------------------------------------------
# Decisions on a tiny catalog where the right answer is known


@pytest.mark.parametrize(
    ("query", "movie_id"),
    [
        ("Sing", 1),  # an exact title beats a more popular partial match
        ("sing", 1),
        ("titanic 1953", 4),  # a year selects that year
        ("Titanic (1997)", 3),
        ("titanic 1954", 4),  # one year off still selects
        ("Showman", 5),  # a whole word of one title beats a one-letter typo of another
        ("shawshank redemtion", 7),
        ("the shawshank redemption", 7),
        ("godfather", 8),  # the full title beats the parts of others and is the most popular
        ("godfather 2", 9),
        ("The Godfather Part II", 9),
        ("se7en", 10),
        ("1917", 12),
        ("cite des enfants perdus", 16),
        ("walle", 17),
        ("wall-e", 17),
        ("amelie poulain", 18),
        ("seven 1995", 10),  # a number-word title with its year
        ("shrek 3", 19),  # ordinals are numbers too
        ("in and out", 20),  # stopwords and "&" still make an exact title
        ("thesixthsense", 21),  # without spaces, numbers are typed as spelled
        ("the 6th sense", 21),
        ("the incredibles 2", 23),  # a more popular title with another number is no typo
        ("shawshank redemption movie", 7),  # a whole title inside a longer query
        ("die hard", 26),  # "die" is German for "the", but not in this query
    ],
)
def test_tiny_catalog_matches(tiny: TitleIndex, query: str, movie_id: int) -> None:
    res = tiny.resolve(query)
    check_shape(res)
    assert res.status is MatchStatus.MATCHED, res
    assert res.movie_id == movie_id


def test_same_title_is_ambiguous_and_ordered_by_popularity(tiny: TitleIndex) -> None:
    res = tiny.resolve("titanic")
    check_shape(res)
    assert res.status is MatchStatus.AMBIGUOUS
    assert [c.movie_id for c in res.candidates] == [3, 4]


def test_exact_title_less_popular_than_parts_is_offered_not_forced(tiny: TitleIndex) -> None:
    res = tiny.resolve("lord of the rings")
    check_shape(res)
    assert res.status is MatchStatus.AMBIGUOUS
    assert res.candidates[0].movie_id == 14
    assert {c.movie_id for c in res.candidates} == {13, 14, 15}


def test_far_more_popular_title_one_typo_away_competes_with_an_exact_one(tiny: TitleIndex) -> None:
    res = tiny.resolve("inglorious bastards")
    check_shape(res)
    assert res.status is MatchStatus.AMBIGUOUS
    assert [c.movie_id for c in res.candidates] == [25, 24]


def test_sequel_number_no_title_holds_is_the_nth_by_year_offered_not_matched(
    tiny: TitleIndex,
) -> None:
    res = tiny.resolve("die hard 3")
    check_shape(res)
    assert res.status is MatchStatus.AMBIGUOUS
    assert [c.movie_id for c in res.candidates][:3] == [28, 26, 27]
    beyond = tiny.resolve("die hard 7")  # no seventh: never a confident match to another number
    check_shape(beyond)
    assert beyond.status is not MatchStatus.MATCHED


def test_weak_typo_is_only_a_suggestion(tiny: TitleIndex) -> None:
    res = tiny.resolve("jwas")
    check_shape(res)
    assert res.status is MatchStatus.NOT_FOUND
    assert [c.movie_id for c in res.candidates] == [11]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "\t\n",
        "!!!",
        "🎬🍿",
        "\x00\x01",
        "\u202e\u200f",
        "qwertyuiop",
        "zzzzzz",
        "<script>alert(1)</script>",
        "'; DROP TABLE movies; --",
        "' OR '1'='1",
        "שלום עולם",
        "مرحبا",
        "%00%27",
        "&lt;b&gt;",
        "@@@@",
        "&&&&",
        "the",
        "of the",
    ],
)
def test_garbage_is_never_matched(tiny: TitleIndex, query: str) -> None:
    res = tiny.resolve(query)
    check_shape(res)
    assert res.status is MatchStatus.NOT_FOUND
    assert res.candidates == ()


def test_too_long_is_refused_with_a_message(tiny: TitleIndex) -> None:
    res = tiny.resolve("Toy Story " * 30)
    assert res.status is MatchStatus.NOT_FOUND
    assert res.error is not None
    assert str(MAX_QUERY_CHARS) in res.error
    assert tiny.resolve("x" * MAX_QUERY_CHARS).error is None


def test_empty_catalog_finds_nothing() -> None:
    index = TitleIndex.build(make_catalog([]))
    for query in ["toy story", "x", "", "titanic 1997"]:
        res = index.resolve(query)
        check_shape(res)
        assert res.status is MatchStatus.NOT_FOUND


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text(max_size=250))
def test_resolve_never_raises_and_keeps_the_contract(query: str) -> None:
    index = TitleIndex.build(make_catalog(TINY))
    res = index.resolve(query)
    check_shape(res)
    assert res.query == query


# --------------------------------------------------------------------------------------------
# ml-latest-small: the notebook's favorites, the examples, and a labelled query set


@pytest.mark.parametrize(
    ("query", "movie_id"),
    [
        ("Showman", 180985),
        ("Toystory", 1),
        ("spongebob", 8974),
        ("Lionking", 364),
        ("Sing", 167036),
        ("Up", 68954),
        ("Coco", 177765),
        ("Her", 106920),
        ("godfather 2", 1221),
        ("titanic 1953", 3404),
        ("se7en", 47),
        ("amelie", 4973),
        ("leon the professional", 293),
        ("wall e", 60069),
        ("matrix", 2571),
    ],
)
def test_must_pass_examples(small: TitleIndex, query: str, movie_id: int) -> None:
    res = small.resolve(query)
    assert res.status is MatchStatus.MATCHED, res
    assert res.movie_id == movie_id


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("star wars", 260),
        ("beauty and the beast", 595),
    ],
)
def test_too_close_to_call_is_ambiguous(small: TitleIndex, query: str, first: int) -> None:
    res = small.resolve(query)
    check_shape(res)
    assert res.status is MatchStatus.AMBIGUOUS
    assert res.candidates[0].movie_id == first


def load_queries(path: Path = QUERIES) -> list[tuple[str, int | None, str]]:
    """A labelled set: (query, expected movie_id or None for garbage, category)."""
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in lines[1:]:
        query, expected, category = line.split("\t")
        query = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), query)
        rows.append((query, None if expected == "NONE" else int(expected), category))
    return rows


@pytest.mark.parametrize("path", [QUERIES, HOLDOUT], ids=["tuned", "holdout"])
def test_labelled_sets_name_real_movies(movielens_dir: Path, path: Path) -> None:
    catalog = load_catalog(movielens_dir / "ml-latest-small", "ml-latest-small")
    rows = load_queries(path)
    assert {expected for _q, expected, _c in rows} - {None} <= set(catalog.index)
    assert {c for _q, _e, c in rows} >= {
        "typo",
        "spacing",
        "article",
        "alternate",
        "sequel",
        "year",
        "short",
        "lowercase",
        "partial",
        "garbage",
    }


def test_labelled_queries_accuracy(small: TitleIndex) -> None:
    rows = load_queries()
    assert len(rows) >= 150
    correct: Counter[str] = Counter()
    total: Counter[str] = Counter()
    wrong_confident: list[str] = []
    garbage_matched: list[str] = []
    for query, expected, category in rows:
        res = small.resolve(query)
        check_shape(res)
        total[category] += 1
        if expected is None:
            correct[category] += res.status is MatchStatus.NOT_FOUND
            if res.status is MatchStatus.MATCHED:
                garbage_matched.append(query)
            continue
        correct[category] += top1(res) == expected
        if res.status is MatchStatus.MATCHED and res.movie_id != expected:
            wrong_confident.append(query)
    n = sum(total.values())
    accuracy = sum(correct.values()) / n
    print(
        f"\nlabelled queries: {n}, top-1 {accuracy:.1%}, wrong confident matches "
        f"{len(wrong_confident)} ({len(wrong_confident) / n:.1%}), garbage matched "
        f"{len(garbage_matched)}"
    )
    for category in sorted(total):
        print(f"  {category:10} {correct[category]:3}/{total[category]:3}")
    assert accuracy >= 0.97
    assert len(wrong_confident) / n <= 0.01, wrong_confident
    assert garbage_matched == []


@pytest.mark.slow
def test_ml_32m_catalog_without_ratings(movielens_dir: Path) -> None:
    index = TitleIndex.build(load_catalog(movielens_dir / "ml-32m", "ml-32m"))
    assert len(index) == 87_585
    assert index.resolve("toystory").movie_id == 1
    assert index.resolve("godfather 2").movie_id == 1221
    assert index.resolve("asdfghjkl").status is MatchStatus.NOT_FOUND
    sing = index.resolve("sing 2016")  # two movies called Sing (2016): no popularity to decide
    assert sing.status is MatchStatus.AMBIGUOUS
    assert {c.movie_id for c in sing.candidates} >= {167036}


# --------------------------------------------------------------------------------------------
# moviebot match


def run_cli(
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    movielens_dir: Path,
    stdin: bytes | None = None,
) -> list[dict[str, object]]:
    from bot.cli import main

    monkeypatch.setenv("MOVIEBOT_MOVIELENS_DIR", str(movielens_dir))
    monkeypatch.delenv("MOVIEBOT_DATASET", raising=False)
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    assert main(["match", *argv]) == 0
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines()]


def test_cli_prints_one_json_object_per_query(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], movielens_dir: Path
) -> None:
    rows = run_cli(["Toystory", "star wars", "zzzzzz", "Léon"], monkeypatch, capsys, movielens_dir)
    assert [r["status"] for r in rows] == ["matched", "ambiguous", "not_found", "matched"]
    assert rows[0] == {
        "query": "Toystory",
        "status": "matched",
        "movie_id": 1,
        "title": "Toy Story (1995)",
        "score": 100.0,
        "candidates": [],
    }
    assert rows[1]["movie_id"] is None
    assert rows[1]["title"] is None
    assert set(rows[1]["candidates"][0]) == {"movie_id", "title", "score"}  # type: ignore[index]
    assert rows[3]["title"].startswith("Léon")  # type: ignore[union-attr]


def test_cli_reads_stdin_one_query_per_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], movielens_dir: Path
) -> None:
    stdin = b"Showman\nLionking\r\n\ngodfather 2\n" + b"\xff\xfe\n" + ("x" * 300).encode()
    rows = run_cli(["-"], monkeypatch, capsys, movielens_dir, stdin=stdin)
    assert [r["query"] for r in rows][:4] == ["Showman", "Lionking", "", "godfather 2"]
    assert [r["movie_id"] for r in rows][:4] == [180985, 364, None, 1221]
    assert rows[4]["status"] == "not_found"
    assert "200" in rows[5]["error"]  # type: ignore[operator]
    assert len(rows) == 6


@pytest.mark.slow
def test_cli_works_on_a_catalog_only_release(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], movielens_dir: Path
) -> None:
    rows = run_cli(["--dataset", "ml-32m", "matrix"], monkeypatch, capsys, movielens_dir)
    assert rows[0]["movie_id"] == 2571
