"""Import Letterboxd and IMDb exports, and export a chat's lists as CSV.

Three steps, each usable alone (docs/import.md has the rules, the limits and the figures):

1. :func:`read_export` turns the bytes of a file (a Letterboxd ``ratings.csv``, ``watched.csv``,
   ``likes/films.csv``, ``watchlist.csv``, ``diary.csv`` or the whole export zip; an IMDb ratings
   or watchlist CSV; a file written by :func:`export_csv`) into :class:`ExportRow` objects, or
   raises :class:`ImportFileError` with a message for the person who sent it.
2. :class:`ImportResolver` finds each row's movie in a catalog: an IMDb id exactly (the catalog's
   ``imdb_id``); a name and year first by exact normalised title (:mod:`recsys.identity`), then
   through :class:`recsys.titles.TitleIndex`, accepting only a movie of exactly the row's year
   whose title reads the same. It gives each row an :class:`Action` by the rating rule.
3. :func:`plan_import` sets the resolved rows against the chat's current lists: what is new, what
   is already there, what is not in the catalog (shortest first), what was skipped. The caller
   writes :attr:`ImportSummary.additions` in one transaction; nothing here touches a store.

Everything is synchronous and CPU-bound (call it with ``asyncio.to_thread``); the resolver is
built once per catalog and is safe to share between threads.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from itertools import accumulate

import pandas as pd

from recsys.identity import ENGLISH_ARTICLES, IdentityIndex, front_article, normalise, title_keys
from recsys.titles import MatchStatus, TitleIndex, split_aliases, words

MAX_FILE_BYTES = 20 * 1024 * 1024  # Telegram's Bot API download limit
MAX_ROWS = 20_000  # per import, all files of a zip together
MAX_UNZIPPED_BYTES = 60 * 1024 * 1024  # what the used files of a zip may expand to
MAX_ZIP_RATIO = 100  # a member that expands more than this is a zip bomb
MAX_ZIP_MEMBERS = 10_000
MAX_FIELD_CHARS = 10_000  # a longer field is not an export's

# The rating rule: (like at or above, dislike at or below) on each source's own scale.
LETTERBOXD_LIKE, LETTERBOXD_DISLIKE = 3.5, 2.0  # stars, 0.5-5
IMDB_LIKE, IMDB_DISLIKE = 7.0, 4.0  # 1-10
# IMDb title types that are not films: skipped unless the catalog lists that very IMDb id.
TV_TYPES = frozenset(
    {
        "tv series",
        "tvseries",
        "tv mini series",
        "tv mini-series",
        "tvminiseries",
        "tv episode",
        "tvepisode",
        "video game",
        "videogame",
        "podcast series",
        "podcast episode",
        "music video",
        "musicvideo",
    }
)
# A Letterboxd row names a film as TMDB does: its first release's year, its English title. MovieLens
# sometimes dates a film a year later or earlier (its own release, a premiere) or writes it without
# a leading article ("Intouchables" for "The Intouchables"). Those readings are accepted only when
# no other film of the catalog has that title within NEAR_YEAR_SPAN years, a year off only for a
# title of two or more words besides articles ("Home (2016)" is not "Home (2015)"), an article
# only for such a title, a well-known film (among the catalog's WELL_KNOWN_SHARE most liked) or a
# film whose original title is not English.
# The price, measured on 66,422 ml-32m films ml-latest-small lacks: see docs/import.md.
WELL_KNOWN_SHARE = 0.10
_FILLER_WORDS = ENGLISH_ARTICLES | {"and"}  # "&" and "+" read as "and"
_FRONT = re.compile(r"^[^:]+?(?::\s+|'s\s+)(?=\S)")
_Words = tuple[tuple[str, ...], ...]
_YearTitle = tuple[int, _Words, _Words]
_COMPACT_LETTERS = 10
NEAR_YEAR_SPAN = 3
WATCHLIST = "watchlist"  # the reason a watchlist row is skipped: the bot keeps no watchlist
NOT_IN_CATALOG = "not in the catalog"
# A film MovieLens lists without a year matches a row by exact title when the row's year is in
# the release's last YEARLESS_WINDOW years (IdentityIndex.by_title_without_year): new, undated.
YEARLESS_WINDOW = 4
# A numbering word before a number: "Vol. 2" is written "2" too.
_NUMBERING = re.compile(
    r"\b(?:vol|volume|part|chapter|episode|book) (?=(?:\d+|i|v|x|one|two|three)\b)"
)
# The start of a part that numbers a film of a series: "Episode V", "Part I", "Chapter 2", "3".
_EPISODE = re.compile(
    r"^\s*(?:(?:episode|part|chapter|vol\.?|volume|book)\s+(?:[ivxlc]+|\d+|one|two|three)\b"
    r"|(?:\d+|[ivx]+)\s*$)\s*[-–—:]?\s*",
    re.IGNORECASE,
)
_TT = re.compile(r"^\s*(?:tt)?0*(\d{1,10})\s*$", re.IGNORECASE)
_PART_SPLIT = re.compile(r"\s*:\s+|\s+[-–—]+\s+")


class ImportFileError(ValueError):
    """A file that cannot be imported; the message says why and what to do. Nothing was read."""


class Action(StrEnum):
    """What an imported row does to the chat's lists."""

    LIKE = "like"  # favorites
    DISLIKE = "dislike"  # dislikes
    SEEN = "seen"  # seen
    SKIP = "skip"  # nothing (watchlist, TV series, not in the catalog, unreadable)


# The chat's lists, by the action that fills them (the bot's names).
LIST_NAMES: dict[Action, str] = {
    Action.LIKE: "favorites",
    Action.DISLIKE: "dislikes",
    Action.SEEN: "seen",
}
_ACTION_OF_LIST = {name: action for action, name in LIST_NAMES.items()}
_STRENGTH = {Action.LIKE: 3, Action.DISLIKE: 2, Action.SEEN: 1, Action.SKIP: 0}


class FileKind(StrEnum):
    """Which export a CSV is."""

    LETTERBOXD_RATINGS = "letterboxd ratings"
    LETTERBOXD_DIARY = "letterboxd diary"
    LETTERBOXD_WATCHED = "letterboxd watched"
    LETTERBOXD_LIKES = "letterboxd likes"
    LETTERBOXD_WATCHLIST = "letterboxd watchlist"
    IMDB_RATINGS = "imdb ratings"
    IMDB_WATCHLIST = "imdb watchlist"
    MOVIEBOT = "moviebot export"  # what export_csv writes (Letterboxd's import columns + List)


@dataclass(frozen=True)
class ExportRow:
    """One row of an export, as read (nothing resolved yet)."""

    file: str  # the file name ("ratings.csv", "likes/films.csv")
    row: int  # 1 = the first row after the header
    kind: FileKind
    title: str
    year: int | None
    imdb_id: int | None = None
    rating: float | None = None  # on the source's own scale (stars 0.5-5 or 1-10)
    title_type: str | None = None  # IMDb's "Title Type"
    original_title: str | None = None
    list_name: str | None = None  # a moviebot export's "List"
    problem: str | None = None  # why the row cannot be used (set by the reader)


@dataclass(frozen=True)
class RowResult:
    """One row resolved: its movie (None when not in the catalog) and what it does."""

    file: str
    row: int
    title: str
    year: int | None
    imdb_id: int | None
    rating: float | None
    movie_id: int | None
    action: Action
    reason: str | None = None  # for SKIP: "watchlist", "TV series", "not in the catalog", ...
    matched_by: str | None = None  # "imdb", "title" or "resolver"

    @property
    def label(self) -> str:
        """The row's film as a person reads it: "Parasite (2019)"."""
        return f"{self.title} ({self.year})" if self.year is not None else self.title


@dataclass(frozen=True)
class ImportSummary:
    """What an import does. ``additions`` is what the caller writes, in one transaction."""

    files: tuple[str, ...]
    rows: tuple[RowResult, ...]
    additions: tuple[tuple[int, Action], ...]  # new (movie_id, action), in file order
    already: tuple[tuple[int, Action], ...]  # resolved movies already in one of the lists
    not_in_catalog: tuple[str, ...]  # "Title (Year)", unique, shortest first
    skipped: tuple[RowResult, ...]  # watchlist rows, TV series, unreadable rows

    def counts(self) -> dict[str, int]:
        """Figures for a one-line answer."""
        out = {"imported": len(self.additions), "already": len(self.already)}
        out["not_in_catalog"] = len(self.not_in_catalog)
        out["skipped"] = len(self.skipped)
        for action in (Action.LIKE, Action.DISLIKE, Action.SEEN):
            out[action.value] = sum(1 for _m, a in self.additions if a == action)
        return out


# --------------------------------------------------------------------------------------------
# Reading


@dataclass
class _Read:
    rows: list[ExportRow] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def read_export(data: bytes, filename: str = "") -> tuple[list[ExportRow], list[str]]:
    """The rows of an export file (CSV or zip) and the names of the files they came from.

    Raises :class:`ImportFileError` for a file that is too big, not text, not an export, a zip
    with nothing usable, or one with more than :data:`MAX_ROWS` rows.
    """
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(
            f"That file is {len(data) / 2**20:.1f} MB; the limit is "
            f"{MAX_FILE_BYTES // 2**20} MB. Send the CSV inside the export instead of the zip, "
            "or split it."
        )
    if not data.strip():
        raise ImportFileError("That file is empty. Send a Letterboxd or IMDb export (CSV or zip).")
    out = _Read()
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".zip"):
        _read_zip(data, out)
    else:
        _read_csv(data, filename or "export.csv", out)
    if len(out.rows) > MAX_ROWS:
        raise ImportFileError(
            f"That export has {len(out.rows):,} rows; the limit is {MAX_ROWS:,} per import. "
            "Send the files one at a time (ratings.csv first)."
        )
    return out.rows, out.files


# Files of a Letterboxd export zip worth reading, by path suffix, in the order they are read.
_ZIP_FILES = ("ratings.csv", "diary.csv", "likes/films.csv", "watched.csv", "watchlist.csv")


def _read_zip(data: bytes, out: _Read) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportFileError(f"That zip file cannot be opened ({exc}). Export it again.") from exc
    if len(members) > MAX_ZIP_MEMBERS:
        raise ImportFileError("That zip holds too many files to be a Letterboxd export.")
    wanted: list[tuple[str, zipfile.ZipInfo]] = []
    # The export's own files, not a user list called "ratings" (lists/ratings.csv) nor what
    # Letterboxd keeps of deleted or orphaned entries: the shallowest match of each name.
    usable = sorted(
        (
            (info.filename.replace("\\", "/"), info)
            for info in members
            if not info.is_dir()
            and not {"deleted", "orphaned", "lists"} & set(info.filename.split("/")[:-1])
        ),
        key=lambda ni: ni[0].count("/"),
    )
    for suffix in _ZIP_FILES:
        for name, info in usable:
            if name == suffix or name.endswith("/" + suffix):
                wanted.append((suffix, info))
                break
    csvs = [i for i in members if i.filename.lower().endswith(".csv") and not i.is_dir()]
    if not wanted and len(csvs) == 1:  # a zip around one IMDb or Letterboxd CSV
        wanted = [(csvs[0].filename.rsplit("/", 1)[-1], csvs[0])]
    if not wanted:
        raise ImportFileError(
            "That zip has none of the files an export holds (ratings.csv, watched.csv, "
            "likes/films.csv, watchlist.csv, diary.csv). Send the Letterboxd export zip or one "
            "of its CSV files."
        )
    total = 0
    for name, info in wanted:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if total > MAX_UNZIPPED_BYTES or (info.file_size > 1_000_000 and ratio > MAX_ZIP_RATIO):
            raise ImportFileError(
                "That zip expands to far more than an export; it was not opened. "
                "Send the CSV files themselves."
            )
        try:
            with archive.open(info) as fh:
                raw = fh.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
            raise ImportFileError(f"{name} in that zip cannot be read ({exc}).") from exc
        if len(raw) > info.file_size:  # the header lied about the size
            raise ImportFileError("That zip is damaged (a file is larger than it says).")
        if raw.strip():
            _read_csv(raw, name, out)


def _decode(data: bytes, filename: str) -> str:
    encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    if encoding != "utf-16" and b"\x00" in data[:65536]:
        raise ImportFileError(f"{filename} is not a CSV file. Send a Letterboxd or IMDb export.")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{filename} is not UTF-8 text (undecodable byte at position {exc.start}). "
            "Send the file exactly as Letterboxd or IMDb exported it, or save it as "
            '"CSV UTF-8".'
        ) from exc
    if "\x00" in text:
        raise ImportFileError(f"{filename} is not a CSV file. Send a Letterboxd or IMDb export.")
    return text


def _columns(header: list[str]) -> dict[str, int]:
    """Column name (lower case, single spaces) -> index."""
    out: dict[str, int] = {}
    for i, name in enumerate(header):
        out.setdefault(" ".join(name.strip().lower().split()), i)
    return out


def _kind(cols: Mapping[str, int], filename: str) -> FileKind | None:
    name = filename.lower().replace("\\", "/")
    if "const" in cols and "title" in cols:
        # A list or watchlist export has a Position column (and, lately, an empty Your Rating).
        if "position" in cols or "watchlist" in name or "your rating" not in cols:
            return FileKind.IMDB_WATCHLIST
        return FileKind.IMDB_RATINGS
    if "name" in cols and ("letterboxd uri" in cols or "year" in cols):
        if "rating" in cols and ("watched date" in cols or "diary" in name):
            return FileKind.LETTERBOXD_DIARY
        if "rating" in cols:
            return FileKind.LETTERBOXD_RATINGS
        if "watchlist" in name:
            return FileKind.LETTERBOXD_WATCHLIST
        # likes/films.csv; sent on its own (Telegram keeps no folder) it is just films.csv
        if "likes" in name or "liked" in name or name.rsplit("/", 1)[-1] == "films.csv":
            return FileKind.LETTERBOXD_LIKES
        return FileKind.LETTERBOXD_WATCHED
    if "title" in cols and ("imdbid" in cols or "tmdbid" in cols or "list" in cols):
        return FileKind.MOVIEBOT
    if "position" in cols and "title" in cols and "url" in cols:  # an old IMDb list export
        return FileKind.IMDB_WATCHLIST
    return None


def _read_csv(data: bytes, filename: str, out: _Read) -> None:
    text = _decode(data, filename)
    header_line = text[: text.find("\n")]
    # A file re-saved by a spreadsheet may use ";" or tabs; exports use commas.
    delimiter = next((d for d in (",", ";", "\t") if d in header_line), ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            raise ImportFileError(f"{filename} is empty.")
        cols = _columns(header)
        kind = _kind(cols, filename)
        if kind is None:
            shown = ", ".join(h.strip() for h in header[:8] if h.strip())[:200]
            raise ImportFileError(
                f"{filename} is not a Letterboxd or IMDb export: its columns are "
                f"{shown or 'empty'}. Letterboxd files have Name, Year (and Rating); "
                "IMDb files have Const, Title, Year and Your Rating."
            )
        out.files.append(filename)
        for number, record in enumerate(reader, 1):
            if not any(v.strip() for v in record):
                continue
            out.rows.append(_row(kind, cols, record, filename, number))
            if len(out.rows) > MAX_ROWS:
                return  # read_export reports the limit
    except csv.Error as exc:
        raise ImportFileError(f"{filename} is not a well-formed CSV file ({exc}).") from exc


def _field(record: list[str], cols: Mapping[str, int], *names: str) -> str:
    for name in names:
        i = cols.get(name)
        if i is not None and i < len(record):
            value = record[i].strip()
            if len(value) > MAX_FIELD_CHARS:
                raise csv.Error(f"a field of {len(value):,} characters")
            if value:
                return value
    return ""


def _year(text: str) -> int | None:
    match = re.match(r"^\s*(\d{4})", text)
    if match is None:
        return None
    year = int(match.group(1))
    return year if 1870 <= year <= 2100 else None


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _imdb(text: str) -> int | None:
    match = _TT.match(text)
    if match is None:
        match = re.search(r"/title/tt0*(\d{1,10})", text)
    return int(match.group(1)) if match else None


def _row(
    kind: FileKind, cols: Mapping[str, int], record: list[str], filename: str, number: int
) -> ExportRow:
    title = _field(record, cols, "name", "title")
    year_text = _field(record, cols, "year")
    year = _year(year_text)
    imdb_text = _field(record, cols, "const", "imdbid", "imdb id")
    imdb = _imdb(imdb_text) if imdb_text else None
    if imdb is None and kind in (FileKind.IMDB_RATINGS, FileKind.IMDB_WATCHLIST):
        imdb = _imdb(_field(record, cols, "url"))
    rating_text = _field(record, cols, "your rating", "you rated", "rating")
    rating = _number(rating_text) if rating_text else None
    if kind == FileKind.MOVIEBOT and rating is None and "rating10" in cols:
        rating10 = _number(_field(record, cols, "rating10"))
        rating = rating10 / 2 if rating10 is not None else None
    problem = None
    if not title and imdb is None:
        problem = "no title"
    elif year_text and year is None:
        problem = f"unreadable year {year_text[:20]!r}"
    elif rating_text and rating is None:
        problem = f"unreadable rating {rating_text[:20]!r}"
    return ExportRow(
        file=filename,
        row=number,
        kind=kind,
        title=title,
        year=year,
        imdb_id=imdb,
        rating=rating,
        title_type=_field(record, cols, "title type", "title_type") or None,
        original_title=_field(record, cols, "original title") or None,
        list_name=_field(record, cols, "list").lower() or None,
        problem=problem,
    )


# --------------------------------------------------------------------------------------------
# Actions


def action_of(row: ExportRow) -> tuple[Action, str | None]:
    """The rule (docs/import.md): what a row does before its movie is known, and why it skips.

    Letterboxd stars >= 3.5 like, <= 2 dislike, other ratings seen; IMDb >= 7 like, <= 4
    dislike, the rest seen; watched and diary rows without a rating: seen; liked films: like;
    watchlist rows: skipped (unless an IMDb watchlist row carries the person's rating); a
    moviebot export's List column decides.
    """
    if row.problem is not None:
        return Action.SKIP, row.problem
    if row.kind == FileKind.MOVIEBOT and row.list_name:
        action = _ACTION_OF_LIST.get(row.list_name)
        if action is None:
            return Action.SKIP, f"unknown list {row.list_name[:20]!r}"
        return action, None
    if row.kind == FileKind.LETTERBOXD_LIKES:
        return Action.LIKE, None
    if row.kind == FileKind.LETTERBOXD_WATCHLIST:
        return Action.SKIP, WATCHLIST
    if row.kind in (FileKind.IMDB_RATINGS, FileKind.IMDB_WATCHLIST):
        if row.rating is None:
            if row.kind == FileKind.IMDB_WATCHLIST:
                return Action.SKIP, WATCHLIST
            return Action.SEEN, None
        return _by_rating(row.rating, IMDB_LIKE, IMDB_DISLIKE), None
    if row.rating is None:
        return Action.SEEN, None
    return _by_rating(row.rating, LETTERBOXD_LIKE, LETTERBOXD_DISLIKE), None


def _by_rating(rating: float, like: float, dislike: float) -> Action:
    if rating >= like:
        return Action.LIKE
    if rating <= dislike:
        return Action.DISLIKE
    return Action.SEEN


def _is_tv(row: ExportRow) -> bool:
    kind = (row.title_type or "").strip().lower()
    return kind in TV_TYPES


# --------------------------------------------------------------------------------------------
# Resolution


class ImportResolver:
    """Finds the movie of each export row in one catalog (see the module doc)."""

    def __init__(
        self,
        catalog: pd.DataFrame,
        *,
        titles: TitleIndex | None = None,
        identity: IdentityIndex | None = None,
    ) -> None:
        """Use the catalog's prebuilt indexes when the caller has them (the bot does)."""
        self.catalog = catalog
        self.titles = titles if titles is not None else TitleIndex.build(catalog)
        self.identity = identity if identity is not None else IdentityIndex.build(catalog)
        years = catalog["year"].dropna()
        self._years = (int(years.min()), int(years.max())) if len(years) else (0, -1)
        self._year_of = {
            int(m): (None if pd.isna(y) else int(y))
            for m, y in zip(catalog.index, catalog["year"], strict=True)
        }
        self._names = dict(zip(catalog.index.astype(int), catalog["name"].astype(str), strict=True))
        self._well_known = _well_known(catalog)
        self._errata = _errata(catalog)
        self._year_titles: dict[int, list[_YearTitle]] = {}
        self._films_of_year: dict[int, list[int]] = {}

    @classmethod
    def build(cls, catalog: pd.DataFrame) -> ImportResolver:
        """Index a catalog frame (see :func:`recsys.movielens.load_catalog`)."""
        return cls(catalog)

    def resolve_rows(self, rows: Iterable[ExportRow]) -> list[RowResult]:
        """Each row with its movie and action; a (title, year, id) seen before is looked up once."""
        cache: dict[tuple[str, int | None, int | None, str | None], tuple[int | None, str | None]]
        cache = {}
        out = []
        for row in rows:
            action, reason = action_of(row)
            movie_id: int | None = None
            how: str | None = None
            if row.problem is None:
                key = (row.title, row.year, row.imdb_id, row.original_title)
                if key not in cache:
                    cache[key] = self.find(row)
                movie_id, how = cache[key]
                if movie_id is None and _is_tv(row):
                    action, reason = Action.SKIP, (row.title_type or "TV").strip()
                elif movie_id is None and reason == WATCHLIST:
                    reason = f"{WATCHLIST}, {NOT_IN_CATALOG}"
                elif movie_id is None:
                    action, reason = Action.SKIP, NOT_IN_CATALOG
            out.append(
                RowResult(
                    file=row.file,
                    row=row.row,
                    title=row.title,
                    year=row.year,
                    imdb_id=row.imdb_id,
                    rating=row.rating,
                    movie_id=movie_id,
                    action=action,
                    reason=reason,
                    matched_by=how,
                )
            )
        return out

    def find(self, row: ExportRow) -> tuple[int | None, str | None]:
        """The movie of one row and how it was found ("imdb", "title", "resolver"), or None."""
        if row.imdb_id is not None and self.identity.links_imdb:
            found = self.identity.by_imdb(row.imdb_id)
            if found is not None:
                return found, "imdb"
        if _is_tv(row):
            return None, None  # a series is never a film of the same name
        names = [n for n in (row.title, row.original_title) if n]
        for name in names:
            found = self.identity.by_title(name, row.year, imdb_id=row.imdb_id)
            if found is not None:
                return found, "title"
        if row.year is not None and self._years[1] - YEARLESS_WINDOW < row.year <= self._years[1]:
            for name in names:
                found = self.identity.by_title_without_year(name, imdb_id=row.imdb_id)
                if found is not None:
                    return found, "title"
        if row.year is None or not self._years[0] <= row.year <= self._years[1]:
            return None, None  # no movie of the catalog has that year
        if row.imdb_id is not None and self.identity.links_imdb:
            return None, None  # the catalog links IMDb ids and has not this one
        for name in names:
            found = self._resolve(name, row.year)
            if found is not None:
                return found, "resolver"
        for name in names:
            found = self._errata.get((normalise(name), row.year))
            if found is not None:
                return found, "errata"
        for name in names:
            found = self._near(name, row.year, row.imdb_id)
            if found is not None:
                return found, "near"
        for name in names:
            found = self._within(name, row.year)
            if found is not None:
                return found, "within"
        return None, None

    def _near(self, name: str, year: int, imdb_id: int | None) -> int | None:
        """A film written without (or with) its leading article, or dated a year off.

        No other film of the catalog may read as ``name`` within NEAR_YEAR_SPAN years of
        ``year``; a one-word title may never be a year off ("Home (2016)" is not "Home (2015)"),
        and differs by its article only where :meth:`_article_free` allows it.
        """
        content = [w for w in normalise(name).split() if w not in ENGLISH_ARTICLES]
        span = range(year - NEAR_YEAR_SPAN, year + NEAR_YEAR_SPAN + 1)
        hits = {y: m for y in span if (m := self.identity.by_title(name, y, imdb_id=imdb_id))}
        if hits:  # the title reads exactly in a year nearby: only a year off may be accepted
            if len(hits) != 1 or len(content) < 2:
                return None
            ((when, movie),) = hits.items()
            gap = abs(when - year)
            return movie if gap == 1 or (gap > 1 and self._foreign(movie)) else None
        found = self.identity.by_title(name, year, imdb_id=imdb_id, bare=True)
        if found is None or (len(content) < 2 and not self._article_free(found)):
            return None
        others = {self.identity.by_title(name, y, imdb_id=imdb_id, bare=True) for y in span}
        return found if others <= {found, None} else None

    def _within(self, name: str, year: int) -> int | None:
        """The one film of ``year`` whose title is the row's words with a little around them.

        Exports and MovieLens name some films with a word more or less around the same words.
        With the same year, two content words or more in the row (articles and "and" aside; "&"
        and "+" read as "and"), and no other film of that year reading so, one of:

        * the same words, in one of the film's titles or in its titles together: "Man with a
          Movie Camera" is `Man with the Movie Camera, The`, "Il Postino: The Postman" is
          `Postman, The (Postino, Il)`;
        * one word more inside, between two parts of the row's title: "Star Wars: The Force
          Awakens" is `Star Wars: Episode VII - The Force Awakens`, "Wallace & Gromit: The Curse
          of the Were-Rabbit" is `Wallace & Gromit in The Curse of the Were-Rabbit`;
        * a maker or series in front, closed by a colon or a possessive: "The Wrong Trousers" is
          `Wallace & Gromit: The Wrong Trousers`, "Romeo + Juliet" is `William Shakespeare's
          Romeo + Juliet`, "Castle in the Sky" is `Laputa: Castle in the Sky`;
        * the same letters but for spaces, ten letters or more: "Trollhunter" is `Troll Hunter,
          The (Trolljegeren)`.

        Words added at the end never are ("Snow White" is not `Snow White and the Huntsman`), nor
        in front without a colon or possessive ("Last Night" is not `About Last Night`), nor a
        whole part after a colon on either side ("Van Helsing: The London Assignment" is not
        `Van Helsing`, "Robin Hood" not `Robin Hood: Prince of Thieves`; the films named after a
        film's title are many, and share its year).
        """
        parts = [_content_words(p) for p in _PART_SPLIT.split(name)]
        parts = [p for p in parts if p]
        row = [w for p in parts for w in p]
        compact = "".join(row)
        if len(row) < 2 and len(compact) < _COMPACT_LETTERS:
            return None
        fitting = [
            movie
            for movie, forms, fronts in self._titles_of_year(year)
            if (len(row) >= 2 and _reads_within(parts, row, forms, fronts))
            or (len(compact) >= _COMPACT_LETTERS and any("".join(f) == compact for f in forms))
        ]
        return fitting[0] if len(fitting) == 1 else None

    def _titles_of_year(self, year: int) -> list[_YearTitle]:
        """The films of ``year``: the words of each title, and the fronts a title may carry.

        A front is the words before a colon or after a possessive ("wallace gromit" of
        `Wallace & Gromit: The Wrong Trousers`, "william shakespeares" of `William
        Shakespeare's Romeo + Juliet`). Read at the first row of that year.
        """
        if not self._films_of_year:  # the catalog grouped by year, once
            for movie, when in self._year_of.items():
                if when is not None:
                    self._films_of_year.setdefault(when, []).append(movie)
        found = self._year_titles.get(year)
        if found is None:
            found = []
            for movie in self._films_of_year.get(year, ()):
                main, aliases = split_aliases(self._names.get(movie, ""))
                titles = [front_article(t)[0] for t in (main, *aliases)]
                forms = tuple(_content_words(t) for t in titles)
                fronts = tuple(
                    _content_words(m.group()) for t in titles if (m := _FRONT.match(t)) is not None
                )
                found.append((movie, forms, fronts))
            self._year_titles[year] = found
        return found

    def _foreign(self, movie_id: int) -> bool:
        """Whether the catalog gives the film's original, non-English title (in parentheses).

        Such a film is dated by its premiere at home in TMDB (so Letterboxd) and often by its
        release abroad in MovieLens, years later: "Andrei Rublev" (1966) is `Andrei Rublev
        (Andrey Rublyov) (1969)`.
        """
        return bool(split_aliases(self._names[movie_id])[1])

    def _article_free(self, movie_id: int) -> bool:
        """Whether a one-word title may drop or gain its article in an export.

        A well-known film, or a film whose original title is not English (MovieLens gives it in
        parentheses), where the article is a translator's choice ("Mirror", "The Mirror").
        """
        return movie_id in self._well_known or self._foreign(movie_id)

    def _resolve(self, name: str, year: int) -> int | None:
        """The title resolver's answer for "name (year)", if it is of that year and reads alike."""
        resolution = self.titles.resolve(f"{name[:180]} ({year})")
        if resolution.status == MatchStatus.MATCHED and resolution.movie_id is not None:
            candidates = [resolution.movie_id]
        elif resolution.status == MatchStatus.AMBIGUOUS:
            candidates = [c.movie_id for c in resolution.candidates]
        else:
            return None
        fitting = [
            m for m in candidates if self._year_of.get(m) == year and self._reads_as(name, m)
        ]
        return fitting[0] if len(fitting) == 1 else None

    def _reads_as(self, name: str, movie_id: int) -> bool:
        """Whether a catalog title reads exactly as ``name``, spacing and numbering aside.

        The resolver finds candidates by resemblance; only these differences are accepted:
        spaces ("Chain Saw" = "Chainsaw"), numbering words ("Vol. 2" = "2"), and a series
        prefix or an episode's own title around an episode marker ("Star Wars" and "The Empire
        Strikes Back" of "Star Wars: Episode V - The Empire Strikes Back"; "Avengers: Infinity
        War" of "Avengers: Infinity War - Part I"). A typo's distance is not accepted:
        "Revolution" is not "Resolution", "Robin Hood" is not "Robin Hood: Prince of Thieves".
        """
        row = _spelling(name)
        return bool(row) and row in _spellings(self._names.get(movie_id, ""))


def _well_known(catalog: pd.DataFrame) -> frozenset[int]:
    """The catalog's most-liked films (WELL_KNOWN_SHARE of them; none without a likes column)."""
    if "likes" not in catalog.columns or not len(catalog):
        return frozenset()
    likes = catalog["likes"].astype(float)
    floor = max(float(likes.quantile(1 - WELL_KNOWN_SHARE)), 1.0)
    return frozenset(int(m) for m in catalog.index[likes >= floor])


def _errata(catalog: pd.DataFrame) -> dict[tuple[str, int], int]:
    """(normalised title, year) as TMDB writes them -> movie, for the catalog's linked films."""
    if "imdb_id" not in catalog.columns:
        return {}
    by_imdb = {
        int(i): int(m)
        for m, i in zip(catalog.index, catalog["imdb_id"], strict=True)
        if pd.notna(i)
    }
    out = {}
    for imdb_id, title, year in catalog_errata():
        if imdb_id in by_imdb:
            out[normalise(title), year] = by_imdb[imdb_id]
    return out


@cache
def catalog_errata() -> tuple[tuple[int, str, int], ...]:
    """recsys/data/catalog_errata.tsv: (IMDb id, title, year) as TMDB and Letterboxd write them."""
    text = resources.files("recsys").joinpath("data/catalog_errata.tsv").read_text("utf-8")
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not fields[0].isdigit() or not fields[2].isdigit():
            raise ValueError(f"catalog errata line {number}: expected 'imdb<TAB>title<TAB>year'")
        rows.append((int(fields[0]), fields[1].strip(), int(fields[2])))
    return tuple(rows)


def _spelling(text: str) -> str:
    """A title without spaces, nor a numbering word before a number.

    "Guardians of the Galaxy Vol. 2" -> "guardiansofthegalaxy2" (= "Guardians of the Galaxy 2").
    """
    return _compact_key(normalise(text))


def _compact_key(key: str) -> str:
    return _NUMBERING.sub("", key).replace(" ", "")


def _spellings(name: str) -> set[str]:
    """The spellings (:func:`_spelling`) a catalog title may be written in.

    Its full and alternate titles (article in front), and around an episode marker
    (a part that starts with "Episode", "Part", "Chapter", "Vol." or a number) the series name
    before it and the episode's own title after it.
    """
    main, alternate = title_keys(name)
    out = {_compact_key(k) for k in main | alternate}
    pieces = _PART_SPLIT.split(display_title(name))
    for i in range(1, len(pieces)):
        if not _EPISODE.match(pieces[i]):
            continue
        out.update(_spelling(k) for k in title_keys(": ".join(pieces[:i]))[0])
        marker = _EPISODE.match(pieces[i])
        rest = pieces[i][marker.end() :] if marker else ""
        tails = [": ".join(pieces[i + 1 :])] if i + 1 < len(pieces) else []
        tails += [rest] if rest.strip() else []
        for tail in tails:
            out.update(_spelling(k) for k in title_keys(tail)[0])
    out.discard("")
    return out


# --------------------------------------------------------------------------------------------
# Planning


def plan_import(
    results: Sequence[RowResult],
    existing: Mapping[Action, Collection[int]] | None = None,
    *,
    files: Sequence[str] = (),
) -> ImportSummary:
    """Set resolved rows against the chat's lists (``existing``: action -> movie ids).

    A movie already in any list stays as it is (``already``); a movie in several rows takes the
    strongest action (like, then dislike, then seen: a film rated 3 and also liked is a like).
    """
    existing = existing or {}
    present: dict[int, Action] = {}
    for action, ids in existing.items():
        for movie_id in ids:
            present.setdefault(int(movie_id), action)
    best: dict[int, Action] = {}
    for r in results:
        if r.movie_id is None or r.action == Action.SKIP:
            continue
        if _STRENGTH[r.action] > _STRENGTH.get(best.get(r.movie_id, Action.SKIP), 0):
            best[r.movie_id] = r.action
    additions = tuple((m, a) for m, a in best.items() if m not in present)
    already = tuple((m, present[m]) for m in best if m in present)
    absent = {r.label: None for r in results if r.reason == NOT_IN_CATALOG}
    skipped = tuple(r for r in results if r.action == Action.SKIP and r.reason != NOT_IN_CATALOG)
    return ImportSummary(
        files=tuple(files),
        rows=tuple(results),
        additions=additions,
        already=already,
        not_in_catalog=tuple(sorted(absent, key=lambda t: (len(t), t))),
        skipped=skipped,
    )


def import_file(
    data: bytes,
    filename: str,
    resolver: ImportResolver,
    existing: Mapping[Action, Collection[int]] | None = None,
) -> ImportSummary:
    """Read, resolve and plan one file (raises :class:`ImportFileError` for a bad file)."""
    rows, files = read_export(data, filename)
    return plan_import(resolver.resolve_rows(rows), existing, files=files)


# --------------------------------------------------------------------------------------------
# Export

EXPORT_COLUMNS = ("imdbID", "tmdbID", "Title", "Year", "Rating", "WatchedDate", "List")


def _content_words(text: str) -> tuple[str, ...]:
    """The normalised words of ``text`` without articles and "and"."""
    return tuple(w for w in words(text) if w not in _FILLER_WORDS)


def _reads_within(
    parts: list[tuple[str, ...]], row: list[str], forms: _Words, fronts: _Words
) -> bool:
    """Whether a row's title reads as one of a film's (see :meth:`ImportResolver._within`)."""
    if tuple(row) in forms:  # in order within one title
        return True
    if len(forms) > 1 and sorted(w for f in forms for w in f) == sorted(row):  # several titles
        return True
    for form in forms:
        if len(form) == len(row) + 1 and len(parts) > 1:
            for cut in range(1, len(form) - 1):  # one word more, between two parts
                rest = form[:cut] + form[cut + 1 :]
                if list(rest) == row and _splits_between(parts, cut):
                    return True
        for front in fronts:
            if form[: len(front)] == front and list(form[len(front) :]) == row:
                return True
    return False


def _splits_between(parts: list[tuple[str, ...]], cut: int) -> bool:
    """Whether ``cut`` words in, the row's title passes from one part to the next."""
    return cut in accumulate(len(part) for part in parts[:-1])


def display_title(name: str) -> str:
    """A MovieLens name as a person writes it, without alternate titles.

    "Usual Suspects, The" -> "The Usual Suspects"; "Seven (a.k.a. Se7en)" -> "Seven".
    """
    main = name
    while main.endswith(")") and "(" in main[1:]:
        cut = main.rfind(" (")
        if cut <= 0:
            break
        main = main[:cut].rstrip()
    return front_article(main)[0]


def export_csv(catalog: pd.DataFrame, lists: Mapping[str, Iterable[int]]) -> bytes:
    r"""The chat's lists (``"favorites"``, ``"dislikes"``, ``"seen"`` -> movie ids) as CSV bytes.

    Columns Letterboxd's importer reads (``imdbID``, ``tmdbID``, ``Title``, ``Year``, ``Rating``,
    ``WatchedDate``; Rating and WatchedDate stay empty: the bot keeps neither) plus ``List``.
    Ids the catalog does not have are left out. UTF-8, one header row, ``\\n`` line ends.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for list_name, ids in lists.items():
        for movie_id in ids:
            if movie_id not in catalog.index:
                continue
            movie = catalog.loc[movie_id]
            imdb = movie.get("imdb_id")
            tmdb = movie.get("tmdb_id")
            year = movie.get("year")
            writer.writerow(
                [
                    f"tt{int(imdb):07d}" if imdb is not None and pd.notna(imdb) else "",
                    str(int(tmdb)) if tmdb is not None and pd.notna(tmdb) else "",
                    display_title(str(movie["name"])),
                    str(int(year)) if year is not None and pd.notna(year) else "",
                    "",
                    "",
                    list_name,
                ]
            )
    return buf.getvalue().encode("utf-8")


def iter_json(summary: ImportSummary) -> Iterator[dict[str, object]]:
    """One JSON-ready object per input row (``moviebot import --json``)."""
    for r in summary.rows:
        yield {
            "file": r.file,
            "row": r.row,
            "title": r.title,
            "year": r.year,
            "imdb_id": f"tt{r.imdb_id:07d}" if r.imdb_id is not None else None,
            "rating": r.rating,
            "movie_id": r.movie_id,
            "action": r.action.value,
            "reason": r.reason,
            "matched_by": r.matched_by,
        }
