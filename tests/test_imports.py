"""Importing Letterboxd and IMDb exports, exporting the lists, and ``moviebot import``.

Synthetic files where the answer is known, then the hand-labelled exports in
tests/data/exports (labels.tsv: the expected ml-latest-small movieId, "absent" or "skip").
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import zipfile
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from recsys import import_cli
from recsys.identity import IdentityIndex
from recsys.imports import (
    MAX_FILE_BYTES,
    MAX_ROWS,
    NOT_IN_CATALOG,
    Action,
    ExportRow,
    FileKind,
    ImportFileError,
    ImportResolver,
    RowResult,
    action_of,
    catalog_errata,
    display_title,
    export_csv,
    import_file,
    plan_import,
    read_export,
)
from recsys.movielens import DataPaths, load_catalog, load_ratings

EXPORTS = Path(__file__).parent / "data" / "exports"
LB_HEADER = "Date,Name,Year,Letterboxd URI,Rating\n"
IMDB_HEADER = (
    "Const,Your Rating,Date Rated,Title,Original Title,URL,Title Type,IMDb Rating,"
    "Runtime (mins),Year,Genres,Num Votes,Release Date,Directors\n"
)


def lb_row(name: str, year: int, rating: float | str = "") -> str:
    return f'2024-01-01,"{name}",{year},https://boxd.it/abcd,{rating}\n'


def imdb_row(const: str, rating: int, title: str, year: int, kind: str = "Movie") -> str:
    return f'{const},{rating},2024-01-01,"{title}","{title}",,{kind},7.0,100,{year},Drama,1,,X\n'


@pytest.fixture(scope="module")
def small(movielens_dir: Path) -> pd.DataFrame:
    folder = movielens_dir / "ml-latest-small"
    return load_catalog(folder, "ml-latest-small", load_ratings(folder, "ml-latest-small"))


@pytest.fixture(scope="module")
def resolver(small: pd.DataFrame) -> ImportResolver:
    return ImportResolver.build(small)


# --------------------------------------------------------------------------------------------
# The rating rule


def _row(kind: FileKind, rating: float | None = None, **kw: str) -> ExportRow:
    return ExportRow("f.csv", 1, kind, "X", 2000, rating=rating, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "rating", "action"),
    [
        (FileKind.LETTERBOXD_RATINGS, 5.0, Action.LIKE),
        (FileKind.LETTERBOXD_RATINGS, 3.5, Action.LIKE),
        (FileKind.LETTERBOXD_RATINGS, 3.0, Action.SEEN),
        (FileKind.LETTERBOXD_RATINGS, 2.5, Action.SEEN),
        (FileKind.LETTERBOXD_RATINGS, 2.0, Action.DISLIKE),
        (FileKind.LETTERBOXD_RATINGS, 0.5, Action.DISLIKE),
        (FileKind.LETTERBOXD_DIARY, None, Action.SEEN),
        (FileKind.LETTERBOXD_DIARY, 4.0, Action.LIKE),
        (FileKind.LETTERBOXD_WATCHED, None, Action.SEEN),
        (FileKind.LETTERBOXD_LIKES, None, Action.LIKE),
        (FileKind.LETTERBOXD_WATCHLIST, None, Action.SKIP),
        (FileKind.IMDB_RATINGS, 10.0, Action.LIKE),
        (FileKind.IMDB_RATINGS, 7.0, Action.LIKE),
        (FileKind.IMDB_RATINGS, 6.0, Action.SEEN),
        (FileKind.IMDB_RATINGS, 5.0, Action.SEEN),
        (FileKind.IMDB_RATINGS, 4.0, Action.DISLIKE),
        (FileKind.IMDB_WATCHLIST, None, Action.SKIP),
        (FileKind.IMDB_WATCHLIST, 8.0, Action.LIKE),
    ],
)
def test_rating_rule(kind: FileKind, rating: float | None, action: Action) -> None:
    assert action_of(_row(kind, rating))[0] == action


def test_a_moviebot_export_row_takes_its_list() -> None:
    assert action_of(_row(FileKind.MOVIEBOT, list_name="dislikes")) == (Action.DISLIKE, None)
    assert action_of(_row(FileKind.MOVIEBOT, list_name="wishlist"))[0] == Action.SKIP


# --------------------------------------------------------------------------------------------
# Reading files


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("letterboxd/ratings.csv", FileKind.LETTERBOXD_RATINGS),
        ("letterboxd/watched.csv", FileKind.LETTERBOXD_WATCHED),
        ("letterboxd/watchlist.csv", FileKind.LETTERBOXD_WATCHLIST),
        ("letterboxd/likes/films.csv", FileKind.LETTERBOXD_LIKES),
        ("letterboxd/diary.csv", FileKind.LETTERBOXD_DIARY),
        ("imdb/ratings.csv", FileKind.IMDB_RATINGS),
        ("imdb/watchlist.csv", FileKind.IMDB_WATCHLIST),
    ],
)
def test_each_export_is_recognised(path: str, kind: FileKind) -> None:
    data = (EXPORTS / path).read_bytes()
    rows, files = read_export(data, path)
    assert files == [path]
    assert {r.kind for r in rows} == {kind}
    assert [r.row for r in rows] == list(range(1, len(rows) + 1))
    assert len(rows) == data.count(b"\n") - 1


def test_fields_are_read_with_quotes_accents_and_a_byte_order_mark() -> None:
    text = LB_HEADER + lb_row("The Good, the Bad and the Ugly", 1966, 4.5) + lb_row("Amélie", 2001)
    rows, _ = read_export(b"\xef\xbb\xbf" + text.encode(), "ratings.csv")
    assert [(r.title, r.year, r.rating) for r in rows] == [
        ("The Good, the Bad and the Ugly", 1966, 4.5),
        ("Amélie", 2001, None),
    ]
    utf16, _ = read_export(text.encode("utf-16"), "ratings.csv")
    assert utf16 == rows
    semicolons = 'Date;Name;Year;Letterboxd URI;Rating\n2024-01-01;"Heat";1995;;3,5\n'
    assert [(r.title, r.rating) for r in read_export(semicolons.encode(), "r.csv")[0]] == [
        ("Heat", 3.5)
    ]
    imdb, _ = read_export(
        (IMDB_HEADER + imdb_row("tt0068646", 9, "The Godfather", 1972)).encode(), "r.csv"
    )
    assert (imdb[0].imdb_id, imdb[0].rating, imdb[0].title_type) == (68646, 9.0, "Movie")


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "ratings.csv", "empty"),
        (b"   \n", "ratings.csv", "empty"),
        (b"Date,Name,Year\n\xe9t\xe9,x,2000\n", "ratings.csv", "not UTF-8"),
        (
            b"a,b,c\n1,2,3\n",
            "notes.csv",
            "not a Letterboxd or IMDb export: its columns are a, b, c",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "ratings.csv", "not a CSV file"),
        (b"PK\x03\x04garbage", "export.zip", "cannot be opened"),
        (LB_HEADER.encode() + b'x,"' + b"y" * 20_000 + b'",2000,,\n', "r.csv", "well-formed"),
    ],
)
def test_bad_files_get_a_clear_message(data: bytes, name: str, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        read_export(data, name)


def test_size_and_row_limits() -> None:
    with pytest.raises(ImportFileError, match="the limit is 20 MB"):
        read_export(b"x" * (MAX_FILE_BYTES + 1), "ratings.csv")
    many = LB_HEADER + lb_row("Heat", 1995, 4) * (MAX_ROWS + 1)
    with pytest.raises(ImportFileError, match="limit is 20,000 per import"):
        read_export(many.encode(), "ratings.csv")
    rows, _ = read_export((LB_HEADER + lb_row("Heat", 1995, 4) * MAX_ROWS).encode(), "r.csv")
    assert len(rows) == MAX_ROWS


def test_an_unreadable_row_is_skipped_with_its_reason(resolver: ImportResolver) -> None:
    text = (
        LB_HEADER
        + lb_row("Heat", 1995, 4)
        + "2024-01-01,Heat,nineteen,,4\n"
        + lb_row("Fargo", 1996, "great")
    )
    rows, _ = read_export(text.encode(), "ratings.csv")
    results = resolver.resolve_rows(rows)
    assert [(r.movie_id, r.action, r.reason) for r in results] == [
        (6, Action.LIKE, None),
        (None, Action.SKIP, "unreadable year 'nineteen'"),
        (None, Action.SKIP, "unreadable rating 'great'"),
    ]


def _zip(files: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_the_export_zip_reads_the_files_that_matter() -> None:
    top = "letterboxd-someone-2024-05-01-10-00-utc/"
    files = {
        top + name: (EXPORTS / "letterboxd" / name).read_bytes()
        for name in ("ratings.csv", "watched.csv", "watchlist.csv", "likes/films.csv")
    }
    files[top + "profile.csv"] = b"Date Joined,Username\n2020-01-01,someone\n"
    files[top + "deleted/ratings.csv"] = LB_HEADER.encode() + lb_row("Heat", 1995, 1).encode()
    files[top + "lists/ratings.csv"] = b"Letterboxd list export v7\nDate,Name,Tags\n"
    files = {top + "lists/ratings.csv": files.pop(top + "lists/ratings.csv"), **files}
    rows, read = read_export(_zip(files), "letterboxd.zip")
    assert read == ["ratings.csv", "likes/films.csv", "watched.csv", "watchlist.csv"]
    used = ("ratings.csv", "watched.csv", "watchlist.csv", "likes/films.csv")
    assert len(rows) == sum(files[top + n].count(b"\n") - 1 for n in used)
    assert {r.kind for r in rows if r.file == "likes/films.csv"} == {FileKind.LETTERBOXD_LIKES}


def test_zips_without_exports_and_zip_bombs_are_refused() -> None:
    with pytest.raises(ImportFileError, match="none of the files an export holds"):
        read_export(_zip({"a.txt": b"hello", "b.txt": b"x"}), "x.zip")
    bomb = _zip({"ratings.csv": LB_HEADER.encode() + b"\n" * 80_000_000})
    assert len(bomb) < 1_000_000
    with pytest.raises(ImportFileError, match="expands to far more than an export"):
        read_export(bomb, "letterboxd.zip")
    single = _zip(
        {"imdb-ratings.csv": (IMDB_HEADER + imdb_row("tt0068646", 9, "G", 1972)).encode()}
    )
    rows, files = read_export(single, "imdb.zip")
    assert files == ["imdb-ratings.csv"]
    assert rows[0].imdb_id == 68646


# --------------------------------------------------------------------------------------------
# Resolution on ml-latest-small


def test_letterboxd_names_resolve_by_title_and_year(resolver: ImportResolver) -> None:
    text = LB_HEADER + "".join(
        lb_row(n, y, 4)
        for n, y in [
            ("The Usual Suspects", 1995),  # ", The" inverted in MovieLens
            ("Oldboy", 2013),
            ("Oldboy", 2003),  # MovieLens spells it "Old Boy (2003)"
            ("Psycho", 1998),  # the year decides between namesakes
            ("Amélie", 2001),  # "Amelie (Fabuleux destin d'Amélie Poulain, Le)"
            ("Star Wars", 1977),  # a part of "Star Wars: Episode IV - A New Hope"
            ("Black Panther", 2018),  # MovieLens says 2017 (recsys/data/catalog_errata.tsv)
            ("Spider-Man: Homecoming", 2017),  # "Untitled Spider-Man Reboot (2017)" (errata)
            ("The Intouchables", 2011),  # "Intouchables (2011)": a well-known film's article
            ("Cinema Paradiso", 1988),  # MovieLens: 1989 (a year off, two words, no namesake)
            ("Parasite", 2019),  # after the release
            ("Moonlight", 2016),  # listed without a year in ml-latest-small
        ]
    )
    rows, _ = read_export(text.encode(), "ratings.csv")
    got = [r.movie_id for r in resolver.resolve_rows(rows)]
    assert got == [50, 107314, 27773, 2389, 4973, 260, 122906, 122926, 92259, 1172, None, 162414]


def test_a_different_year_or_a_look_alike_is_never_accepted() -> None:
    films = [
        ("Black Panther", 2017),
        ("Chernobyl: Zone of Exclusion", 2019),
        ("Heat", 1995),
        ("Resolution", 2012),
        ("Robin Hood: Prince of Thieves", 1991),
        ("Burglar", 1987),
        ("Star Wars: Episode IV - A New Hope", 1977),
    ]
    catalog = pd.DataFrame(
        {
            "title": [f"{n} ({y})" for n, y in films],
            "name": [n for n, _y in films],
            "year": pd.array([y for _n, y in films], dtype="Int32"),
            "genres": "Drama",
            "imdb_id": pd.array([None] * len(films), dtype="Int64"),
            "tmdb_id": pd.array([None] * len(films), dtype="Int64"),
            "likes": [10, 11, 100, 12, 13, 14, 15],  # Heat alone is well known
        },
        index=pd.Index(range(1, len(films) + 1), name="movie_id"),
    )
    resolver = ImportResolver.build(catalog)
    rows = [
        ExportRow("r.csv", 1, FileKind.LETTERBOXD_RATINGS, "Black Panther", 2015, rating=5.0),
        ExportRow("r.csv", 2, FileKind.LETTERBOXD_RATINGS, "Chernobyl", 2019, rating=5.0),
        ExportRow("r.csv", 3, FileKind.LETTERBOXD_RATINGS, "Heath", 1995, rating=5.0),
        ExportRow("r.csv", 4, FileKind.LETTERBOXD_RATINGS, "Heat", 1995, rating=5.0),
        ExportRow("r.csv", 5, FileKind.LETTERBOXD_RATINGS, "Revolution", 2012, rating=5.0),
        ExportRow("r.csv", 6, FileKind.LETTERBOXD_RATINGS, "Robin Hood", 1991, rating=5.0),
        ExportRow("r.csv", 7, FileKind.LETTERBOXD_RATINGS, "The Burglar", 1987, rating=5.0),
        ExportRow("r.csv", 8, FileKind.LETTERBOXD_RATINGS, "Star Wars", 1977, rating=5.0),
        ExportRow("r.csv", 9, FileKind.LETTERBOXD_RATINGS, "A New Hope", 1977, rating=5.0),
    ]
    got = [r.movie_id for r in resolver.resolve_rows(rows)]
    assert got == [None, None, None, 3, None, None, None, 7, 7]


def _synthetic(films: list[tuple[str, int, int]]) -> ImportResolver:
    """A resolver over (name, year, likes) films, ids from 1."""
    catalog = pd.DataFrame(
        {
            "title": [f"{n} ({y})" for n, y, _l in films],
            "name": [n for n, _y, _l in films],
            "year": pd.array([y for _n, y, _l in films], dtype="Int32"),
            "genres": "Drama",
            "imdb_id": pd.array([None] * len(films), dtype="Int64"),
            "tmdb_id": pd.array([None] * len(films), dtype="Int64"),
            "likes": [likes for _n, _y, likes in films],
        },
        index=pd.Index(range(1, len(films) + 1), name="movie_id"),
    )
    return ImportResolver.build(catalog)


def _read_as(
    resolver: ImportResolver, cases: list[tuple[str, int, int | None]]
) -> list[tuple[str, int | None, int | None]]:
    """(name, year, movie found) of Letterboxd rows named and dated as in ``cases``."""
    rows = [
        ExportRow("r.csv", i, FileKind.LETTERBOXD_RATINGS, name, year, rating=4.0)
        for i, (name, year, _want) in enumerate(cases, start=1)
    ]
    return [(r.title, r.year, r.movie_id) for r in resolver.resolve_rows(rows)]


def test_a_year_off_or_an_article_only_where_no_namesake_can_be_meant() -> None:
    """Letterboxd dates a film by its first release and writes TMDB's English title."""
    resolver = _synthetic(
        [
            ("Cinema Paradiso (Nuovo cinema Paradiso)", 1989, 2),  # 1
            ("Home", 2015, 2),  # 2
            ("Night Watch", 2004, 2),  # 3
            ("Night Watch", 2006, 2),  # 4
            ("Intouchables", 2011, 90),  # 5: well known
            ("Contact", 1997, 2),  # 6: not well known
            ("Mirror, The (Zerkalo)", 1975, 2),  # 7: original title not English
            ("Bag Man, The", 2014, 2),  # 8
            ("Shattered Glass", 2003, 2),  # 9
            *[(f"Filler {i}", 1990, 3) for i in range(12)],
        ]
    )
    cases = [
        ("Cinema Paradiso", 1988, 1),  # two words, a year off, no other film nearby
        ("Cinema Paradiso", 1991, 1),  # two years off: a foreign film's premiere vs its release
        ("Cinema Paradiso", 1993, None),  # four years off: another film
        ("Shattered Glass", 2001, None),  # two years off, an English title: another film
        ("Home", 2016, None),  # one word: "Home (2016)" is another film
        ("Night Watch", 2005, None),  # two films of that title nearby: never guess
        ("The Intouchables", 2011, 5),  # the article of a well-known film
        ("The Contact", 1997, None),  # one word, not well known: another film
        ("Mirror", 1975, 7),  # a translated title's article
        ("Bag Man", 2014, 8),  # two words: the article is not what tells films apart
        ("Bag Man", 2015, None),  # an article AND a year off: too far
    ]
    assert _read_as(resolver, cases) == cases


def test_a_title_with_a_word_more_or_less_only_in_the_same_year_and_no_namesake() -> None:
    """MovieLens and TMDB put a maker, a series or a small word around the same title."""
    resolver = _synthetic(
        [
            ("Wallace & Gromit: The Wrong Trousers", 1993, 2),  # 1
            ("William Shakespeare's Romeo + Juliet", 1996, 2),  # 2
            ("Star Wars: Episode VII - The Force Awakens", 2015, 2),  # 3
            ("Postman, The (Postino, Il)", 1994, 2),  # 4
            ("Man with the Movie Camera, The (Chelovek s kino-apparatom)", 1929, 2),  # 5
            ("Snow White and the Huntsman", 2012, 2),  # 6
            ("About Last Night", 2014, 2),  # 7
            ("Drive Hard", 2014, 2),  # 8
            ("Batman: The Dark Knight Returns, Part 2", 2013, 2),  # 9
            ("Laputa: Castle in the Sky (Tenkû no shiro Rapyuta)", 1986, 2),  # 10
            ("Disney's Castle in the Sky", 1986, 2),  # 11: reads so too, same year
            ("Troll Hunter, The (Trolljegeren)", 2010, 2),  # 12
            *[(f"Filler {i}", 1990, 3) for i in range(12)],
        ]
    )
    cases = [
        ("The Wrong Trousers", 1993, 1),  # the series in front, before a colon
        ("Romeo + Juliet", 1996, 2),  # the maker in front, possessive
        ("Star Wars: The Force Awakens", 2015, 3),  # one word more, between the two parts
        ("Il Postino: The Postman", 1994, 4),  # both titles together
        ("Man with a Movie Camera", 1929, 5),  # another article
        ("The Wrong Trousers", 1994, None),  # never another year
        ("Snow White", 2012, None),  # words added at the end: another film
        ("Last Night", 2014, None),  # a word in front without a colon: another film
        ("Hard Drive", 2014, None),  # the same words in another order
        ("Batman: The Dark Knight Returns", 2013, None),  # part 1 of a film in two parts
        ("Castle in the Sky", 1986, None),  # two films read so: never guess
        ("Trousers", 1993, None),  # one word is not enough
        ("Trollhunter", 2010, 12),  # the same letters but for a space, ten or more
    ]
    assert _read_as(resolver, cases) == cases


def test_catalog_errata_are_read_by_imdb_id() -> None:
    errata = catalog_errata()
    assert (2250912, "Spider-Man: Homecoming", 2017) in errata
    assert all(imdb > 0 and name and 1870 < year < 2100 for imdb, name, year in errata)


def test_no_errata_line_takes_another_films_title_and_year(small: pd.DataFrame) -> None:
    """An errata line names a film as TMDB does; it must never read as another catalog film."""
    identity = IdentityIndex.build(small)
    linked = {int(i): int(m) for m, i in small["imdb_id"].dropna().items()}
    errata = catalog_errata()
    assert len({(imdb, name) for imdb, name, _y in errata}) == len(errata)  # no duplicates
    for imdb, name, year in errata:
        assert imdb in linked, f"{name} ({year}): IMDb id {imdb} is not in ml-latest-small"
        other = identity.by_title(name, year)
        assert other in (None, linked[imdb]), f"{name} ({year}) is also movie {other}"


def test_imdb_ids_resolve_exactly_and_tv_series_are_skipped(resolver: ImportResolver) -> None:
    text = IMDB_HEADER + "".join(
        [
            imdb_row("tt0068646", 9, "Der Pate", 1972),  # the id decides, not the title
            imdb_row("tt6751668", 10, "Parasite", 2019),
            imdb_row("tt0903747", 10, "Breaking Bad", 2008, "TV Series"),
            imdb_row("tt2301451", 10, "Breaking Bad: Ozymandias", 2013, "TV Episode"),
            imdb_row("tt0185906", 9, "Band of Brothers", 2001, "TV Mini Series"),  # in MovieLens
            imdb_row("tt9999999", 8, "Heat", 1995),  # an id the catalog lacks: no title guess
            imdb_row("tt4975722", 8, "Moonlight", 2016),  # listed without a year, found by id
            imdb_row("tt9999998", 8, "Moonlight", 2016),  # another "Moonlight": not that one
        ]
    )
    results = import_file(text.encode(), "ratings.csv", resolver).rows
    assert [(r.movie_id, r.action, r.reason) for r in results] == [
        (858, Action.LIKE, None),
        (None, Action.SKIP, NOT_IN_CATALOG),
        (None, Action.SKIP, "TV Series"),
        (None, Action.SKIP, "TV Episode"),
        (170705, Action.LIKE, None),
        (None, Action.SKIP, NOT_IN_CATALOG),
        (162414, Action.LIKE, None),
        (None, Action.SKIP, NOT_IN_CATALOG),
    ]


def _labels() -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = defaultdict(dict)
    with (EXPORTS / "labels.tsv").open(encoding="utf-8") as fh:
        for rec in csv.DictReader(fh, delimiter="\t"):
            out[rec["file"]][int(rec["row"])] = rec["expected"]
    return out


# In the catalog, yet not found by the rules nor the errata (from the blind hold-out exports,
# labelled before any code ran on them): MovieLens adds words at the end of the title, dates the
# film otherwise, or names it in another way. Everything else in the labelled exports must be found.
KNOWN_MISSES = {
    ("Funny Games", 2007),  # MovieLens: "Funny Games U.S. (2007)"
    ("Koyaanisqatsi", 1982),  # "Koyaanisqatsi (a.k.a. Koyaanisqatsi: ...) (1983)": one word
    ("A Silent Voice: The Movie", 2016),  # "A Silent Voice (2016)"
    ("Tetsuo: The Iron Man", 1989),  # "Tetsuo, the Ironman (Tetsuo) (1988)"
    ("Paranormal Activity", 2007),  # "Paranormal Activity (2009)"
    ("Aparajito", 1956),  # "Unvanquished, The (Aparajito) (1957)": one word
    ("The Producers", 1967),  # "Producers, The (1968)": one word, the 2005 remake too
    ("Drunken Master II", 1994),  # "Legend of Drunken Master, The (Jui kuen II) (1994)"
}


@pytest.mark.parametrize("path", sorted(_labels()))
def test_labelled_exports_none_wrong_every_absent_film_reported(
    path: str, resolver: ImportResolver
) -> None:
    labels = _labels()[path]
    rows, _ = read_export((EXPORTS / path).read_bytes(), path)
    results = resolver.resolve_rows(rows)
    assert len(results) == len(labels)
    missed = set()
    for r in results:
        expected = labels[r.row]
        if expected == "skip":
            assert r.movie_id is None
            assert r.action == Action.SKIP
            assert r.reason != NOT_IN_CATALOG
        elif expected == "absent":
            assert r.movie_id is None, f"{r.label} is not in ml-latest-small"
        elif r.movie_id is None:
            missed.add((r.title, r.year))
        else:
            assert r.movie_id == int(expected), r.label
    assert missed <= KNOWN_MISSES


def test_plan_against_the_lists_merges_rows_and_sorts_what_is_missing(
    resolver: ImportResolver,
) -> None:
    ratings = (
        LB_HEADER
        + lb_row("Heat", 1995, 3)
        + lb_row("Fargo", 1996, 1)
        + lb_row("Everything Everywhere All at Once", 2022, 5)
        + lb_row("Us", 2019, 4)
        + lb_row("Us", 2019, 4)
        + lb_row("The Matrix", 1999, 5)
    )
    likes = "Date,Name,Year,Letterboxd URI\n" + "2024-01-01,Heat,1995,https://boxd.it/x\n"
    data = _zip({"ratings.csv": ratings.encode(), "likes/films.csv": likes.encode()})
    summary = import_file(data, "letterboxd.zip", resolver, {Action.SEEN: [2571]})
    assert summary.additions == ((6, Action.LIKE), (608, Action.DISLIKE))  # Heat: rated 3, liked
    assert summary.already == ((2571, Action.SEEN),)
    assert summary.not_in_catalog == ("Us (2019)", "Everything Everywhere All at Once (2022)")
    assert summary.counts() == {
        "imported": 2,
        "already": 1,
        "not_in_catalog": 2,
        "skipped": 0,
        "like": 1,
        "dislike": 1,
        "seen": 0,
    }


def test_plan_keeps_what_is_there_and_reports_skipped_rows() -> None:
    rows = [
        RowResult("w.csv", 1, "A", 2000, None, None, 1, Action.SKIP, "watchlist"),
        RowResult("r.csv", 1, "B", 2000, None, 2.0, 2, Action.DISLIKE),
        RowResult("r.csv", 2, "C", 2000, None, 4.0, 3, Action.LIKE),
    ]
    summary = plan_import(rows, {Action.LIKE: [2]})
    assert summary.additions == ((3, Action.LIKE),)
    assert summary.already == ((2, Action.LIKE),)  # a favorite stays a favorite
    assert [r.title for r in summary.skipped] == ["A"]


# --------------------------------------------------------------------------------------------
# Export


def test_display_title_fronts_the_article_and_drops_alternate_titles() -> None:
    assert display_title("Usual Suspects, The") == "The Usual Suspects"
    assert display_title("Seven (a.k.a. Se7en)") == "Seven"
    assert display_title("City of Lost Children, The (Cité des enfants perdus, La)") == (
        "The City of Lost Children"
    )
    assert display_title("Paris, Texas") == "Paris, Texas"


@pytest.mark.parametrize("release", ["ml-latest-small", "ml-100k"])
def test_export_round_trip(release: str, movielens_dir: Path) -> None:
    catalog = load_catalog(movielens_dir / release, release)
    ids = catalog.index.tolist()
    lists = {"favorites": ids[:40], "dislikes": ids[40:55], "seen": ids[55:100]}
    if release == "ml-100k":
        lists["favorites"] += [246, 268]  # one film listed twice (Chasing Amy)
    data = export_csv(catalog, {**lists, "seen": [*lists["seen"], 99_999_999]})
    header = data.decode().splitlines()[0]
    assert header == "imdbID,tmdbID,Title,Year,Rating,WatchedDate,List"
    summary = import_file(data, "moviebot-export.csv", ImportResolver.build(catalog))
    back: dict[str, list[int]] = defaultdict(list)
    for movie_id, action in summary.additions:
        back[{"like": "favorites", "dislike": "dislikes", "seen": "seen"}[action]].append(movie_id)
    # ml-100k lists some films twice (e.g. 246 and 268, Chasing Amy): both come back as one.
    index = IdentityIndex.build(catalog)
    expected = {
        name: list(dict.fromkeys(index.find_many([i for i in index.identities(ids) if i])))
        for name, ids in lists.items()
    }
    assert dict(back) == expected
    assert (release == "ml-100k") == (expected != lists)
    assert not summary.not_in_catalog


def test_export_writes_imdb_ids_letterboxd_reads(small: pd.DataFrame) -> None:
    rows = list(csv.DictReader(io.StringIO(export_csv(small, {"favorites": [50, 4973]}).decode())))
    assert rows[0] == {
        "imdbID": "tt0114814",
        "tmdbID": "629",
        "Title": "The Usual Suspects",
        "Year": "1995",
        "Rating": "",
        "WatchedDate": "",
        "List": "favorites",
    }
    assert rows[1]["Title"] == "Amelie"


# --------------------------------------------------------------------------------------------
# moviebot import


def _cli(argv: list[str], movielens_dir: Path, tmp_path: Path) -> int:
    parser = argparse.ArgumentParser(prog="moviebot")
    import_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    settings = SimpleNamespace(
        paths=DataPaths(data_dir=tmp_path, movielens_dir=movielens_dir), dataset="ml-latest-small"
    )
    return int(args.func(args, settings))


def test_cli_json_prints_one_object_per_row(
    movielens_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = EXPORTS / "letterboxd" / "likes" / "films.csv"
    assert _cli(["import", "--dry-run", "--json", str(path)], movielens_dir, tmp_path) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == path.read_bytes().count(b"\n") - 1
    assert [o["row"] for o in lines] == list(range(1, len(lines) + 1))
    first = lines[0]
    assert {"row", "title", "year", "movie_id", "action"} <= set(first)
    assert all(o["action"] == "like" for o in lines if o["movie_id"] is not None)
    assert all(o["action"] == "skip" for o in lines if o["movie_id"] is None)


def test_cli_summary_and_errors(
    movielens_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = EXPORTS / "imdb" / "ratings.csv"
    assert _cli(["import", "--dry-run", str(path)], movielens_dir, tmp_path) == 0
    out = capsys.readouterr().out
    assert out.startswith("Read 111 rows from ratings.csv.")
    assert "Not in the catalog (12):" in out
    assert _cli(["import", "--chat", "5", str(path)], movielens_dir, tmp_path) == 2
    assert "add --dry-run" in capsys.readouterr().err
    notes = tmp_path / "notes.csv"
    notes.write_text("a,b\n1,2\n")
    assert _cli(["import", "--dry-run", str(notes)], movielens_dir, tmp_path) == 1
    assert "not a Letterboxd or IMDb export" in capsys.readouterr().err
    assert _cli(["import", "--dry-run", str(tmp_path / "nope.csv")], movielens_dir, tmp_path) == 1
    assert "cannot read" in capsys.readouterr().err


def test_letterboxd_import_format_with_rating10(resolver: ImportResolver) -> None:
    text = "imdbID,Title,Year,Rating10\ntt0114814,The Usual Suspects,1995,4\n,Heat,1995,9\n"
    results = import_file(text.encode(), "films.csv", resolver).rows
    # Rating10 4 is two stars: a dislike; 9 is four and a half: a like.
    assert [(r.movie_id, r.action) for r in results] == [(50, Action.DISLIKE), (6, Action.LIKE)]
