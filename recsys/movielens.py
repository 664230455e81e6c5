"""MovieLens releases: where they come from, how to read them, and the catalog they describe.

A *release* is one GroupLens archive (``ml-latest-small``, ``ml-100k``, ``ml-1m``, ``ml-25m``,
``ml-32m``). :func:`locate_release` finds it extracted under a folder of releases (the
``MOVIEBOT_MOVIELENS_DIR`` setting) or downloads it once into the data folder; :func:`load_catalog`
and :func:`load_ratings` read it into plain pandas frames with one column layout for every release:

* ratings: ``user_id`` (int32), ``movie_id`` (int32), ``rating`` (float32), ``timestamp`` (int64);
* catalog: indexed by ``movie_id`` with ``title`` (as MovieLens writes it, year included),
  ``name`` (the title without the year), ``year`` (nullable Int32), ``genres`` (``|``-separated),
  ``imdb_id`` and ``tmdb_id`` (nullable Int64, where the release has ``links.csv`` or IMDb URLs).

Each :class:`Release` describes its archive: the folder the zip holds its files in, and the
:class:`ReleaseLoader` of its file format (:class:`CsvLoader`, :class:`Ml100kLoader`,
:class:`DatLoader`), which knows the file names, encoding and parsing, which optional files (links,
tags) the format has and which files an artifact's checksums cover. The readers above only check
and finish what the loader read, so a new format is one loader and one :data:`RELEASES` entry
(docs/extending-releases.md).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import shutil
import tempfile
import urllib.request
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.matrix import sorted_positions

logger = logging.getLogger(__name__)

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens"

_YEAR_RE = re.compile(r"^(?P<name>.*?)\s*\((?P<year>\d{4})(?:\s*[-–]\s*\d{0,4})?\)\s*$")


class DatasetError(RuntimeError):
    """A release is missing, incomplete, corrupt or unknown; the message says what to do."""


# --------------------------------------------------------------------------------------------
# One loader per release format

_RATING_DTYPES = {
    "user_id": np.int32,
    "movie_id": np.int32,
    "rating": np.float32,
    "timestamp": np.int64,
}
TAGS_FILE = "tags.csv"


class ReleaseLoader(ABC):
    """How one MovieLens file format names, encodes and parses its files.

    A loader only reads: :func:`load_ratings`, :func:`load_catalog` and :func:`load_tags` check
    that the files are there and derive the columns every release shares (``name``, ``year``,
    ``likes`` …) from what it returns.
    """

    ratings_file: str
    movies_file: str

    @property
    def optional_files(self) -> tuple[str, ...]:
        """Further files of this format (links, tags) that a model also depends on when present."""
        return ()

    def checksum_files(self) -> tuple[str, ...]:
        """The files whose SHA-256 an artifact records, in this order (absent ones are skipped)."""
        return (self.movies_file, self.ratings_file, *self.optional_files)

    @abstractmethod
    def read_ratings(self, folder: Path) -> pd.DataFrame:
        """The ratings as ``user_id``, ``movie_id``, ``rating``, ``timestamp`` (see module doc)."""

    @abstractmethod
    def read_movies(self, folder: Path) -> pd.DataFrame:
        """The movies file as ``movie_id`` (int32), ``title``, ``genres`` (``|``-separated).

        A format that links IMDb by title adds ``imdb_search`` (the title as IMDb's search
        expects it).
        """

    def read_links(self, folder: Path) -> pd.DataFrame | None:
        """``imdb_id``, ``tmdb_id`` (Int64) by movie id; None when the release has no links."""
        return None

    def read_tags(self, folder: Path) -> pd.DataFrame | None:
        """User tags as ``movie_id`` (int32), ``tag`` (str); None when the release has none."""
        return None


@dataclass(frozen=True)
class CsvLoader(ReleaseLoader):
    """The csv releases (ml-latest-small, ml-25m, ml-32m): UTF-8 with a header line.

    ``ratings.csv`` (userId,movieId,rating,timestamp), ``movies.csv`` (movieId,title,genres) and,
    when present, ``links.csv`` (movieId,imdbId,tmdbId) and ``tags.csv``
    (userId,movieId,tag,timestamp).
    """

    ratings_file: str = "ratings.csv"
    movies_file: str = "movies.csv"
    links_file: str = "links.csv"
    tags_file: str = TAGS_FILE

    @property
    def optional_files(self) -> tuple[str, ...]:
        """``links.csv`` and ``tags.csv``."""
        return (self.links_file, self.tags_file)

    def read_ratings(self, folder: Path) -> pd.DataFrame:
        """``ratings.csv``: a header line, then one rating a line."""
        return pd.read_csv(
            folder / self.ratings_file,
            header=0,
            names=list(_RATING_DTYPES),
            dtype=_RATING_DTYPES,
            engine="c",
        )

    def read_movies(self, folder: Path) -> pd.DataFrame:
        """``movies.csv``; a title or genre list is never read as NaN."""
        movies = pd.read_csv(
            folder / self.movies_file,
            dtype={"movieId": np.int32, "title": str, "genres": str},
            keep_default_na=False,
        )
        return movies.rename(columns={"movieId": "movie_id"})

    def read_links(self, folder: Path) -> pd.DataFrame | None:
        """``links.csv`` (ids without leading ``tt``; a missing or odd id is NA)."""
        path = folder / self.links_file
        if not path.is_file():
            return None
        links = pd.read_csv(
            path, dtype={"movieId": np.int32}, converters={"imdbId": str, "tmdbId": str}
        ).set_index("movieId")
        return pd.DataFrame(
            {
                "imdb_id": pd.to_numeric(links["imdbId"], errors="coerce").astype("Int64"),
                "tmdb_id": pd.to_numeric(links["tmdbId"], errors="coerce").astype("Int64"),
            }
        )

    def read_tags(self, folder: Path) -> pd.DataFrame | None:
        """``tags.csv``; a file without ``movieId`` and ``tag`` is a :class:`DatasetError`."""
        path = folder / self.tags_file
        if not path.is_file():
            return None
        try:
            tags = pd.read_csv(
                path,
                usecols=["movieId", "tag"],
                dtype={"movieId": np.int32, "tag": str},
                keep_default_na=False,
            )
        except (ValueError, pd.errors.ParserError) as exc:
            raise DatasetError(f"{path} is not a MovieLens tags file ({exc}).") from exc
        return tags.rename(columns={"movieId": "movie_id"})


_100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)


@dataclass(frozen=True)
class Ml100kLoader(ReleaseLoader):
    """ml-100k: ISO-8859-1 files without header lines.

    ``u.data`` (user, item, rating, timestamp; tab-separated), ``u.item`` (``|``-separated: id,
    title, release date, video date, IMDb URL, then one 0/1 flag per genre) and ``u.genre`` (the
    genre names in flag order; the published list when it is absent). No links, no tags: movies
    link IMDb by title.
    """

    ratings_file: str = "u.data"
    movies_file: str = "u.item"
    genres_file: str = "u.genre"

    def read_ratings(self, folder: Path) -> pd.DataFrame:
        """``u.data``: tab-separated, no header."""
        return pd.read_csv(
            folder / self.ratings_file,
            sep="\t",
            header=None,
            names=list(_RATING_DTYPES),
            dtype=_RATING_DTYPES,
            engine="c",
        )

    def read_movies(self, folder: Path) -> pd.DataFrame:
        """``u.item``: genre flags become names; the IMDb URL's title becomes ``imdb_search``."""
        genre_names = self._genres(folder)
        raw = pd.read_csv(
            folder / self.movies_file,
            sep="|",
            header=None,
            encoding="latin-1",
            dtype=str,
            keep_default_na=False,
        )
        flags = raw.iloc[:, 5 : 5 + len(genre_names)].astype(int).to_numpy(bool)
        return pd.DataFrame(
            {
                "movie_id": raw[0].astype(np.int32),
                "title": raw[1],
                "genres": [
                    "|".join(g for g, f in zip(genre_names, row, strict=True) if f) for row in flags
                ],
                # ml-100k ids are its own: no numeric IMDb id, a search by title instead
                "imdb_search": raw[4].str.extract(r"title-exact\?(.*)$")[0],
            }
        )

    def _genres(self, folder: Path) -> list[str]:
        path = folder / self.genres_file
        if not path.is_file():
            return list(_100K_GENRES)
        lines = path.read_text(encoding="latin-1").splitlines()
        return [ln.split("|")[0] for ln in lines if ln.strip()]


@dataclass(frozen=True)
class DatLoader(ReleaseLoader):
    """The ``::``-separated releases (ml-1m): ISO-8859-1 ``.dat`` files without header lines.

    ``ratings.dat`` (UserID::MovieID::Rating::Timestamp) and ``movies.dat``
    (MovieID::Title::Genres). No links, no tags.
    """

    ratings_file: str = "ratings.dat"
    movies_file: str = "movies.dat"

    def read_ratings(self, folder: Path) -> pd.DataFrame:
        """``ratings.dat``: read as ``:``-separated, keeping every other field."""
        raw = pd.read_csv(
            folder / self.ratings_file,
            sep=":",
            header=None,
            dtype=str,
            engine="c",
            encoding="latin-1",
            usecols=[0, 2, 4, 6],
        )
        raw.columns = list(_RATING_DTYPES)
        return raw.astype(_RATING_DTYPES)

    def read_movies(self, folder: Path) -> pd.DataFrame:
        """``movies.dat``: split by hand, as titles may hold a single ``:``."""
        rows = (folder / self.movies_file).read_bytes().decode("latin-1").splitlines()
        parts = [r.split("::") for r in rows if r.strip()]
        return pd.DataFrame(
            {
                "movie_id": np.array([int(p[0]) for p in parts], dtype=np.int32),
                "title": [p[1] for p in parts],
                "genres": [p[2].strip() if len(p) > 2 else "" for p in parts],
            }
        )


@dataclass(frozen=True)
class Release:
    """One MovieLens release: its archive, its format and what a "like" is."""

    name: str
    loader: ReleaseLoader  # the format of its files: names, encoding, parsing, checksums
    like_threshold: float  # a rating at or above this is a "like"
    description: str
    archive_folder: str  # the folder the official zip holds the files in

    @property
    def url(self) -> str:
        """The official zip archive of this release."""
        return f"{GROUPLENS_URL}/{self.name}.zip"

    @property
    def ratings_file(self) -> str:
        """The file holding the ratings (``ratings.csv``, ``u.data`` …)."""
        return self.loader.ratings_file

    @property
    def movies_file(self) -> str:
        """The file holding the movie list (``movies.csv``, ``u.item`` …)."""
        return self.loader.movies_file

    @property
    def has_ratings_file(self) -> str:
        """Same as :attr:`ratings_file` (the name callers used before loaders existed)."""
        return self.loader.ratings_file


_CSV = CsvLoader()
RELEASES: dict[str, Release] = {
    r.name: r
    for r in (
        Release(
            "ml-latest-small",
            _CSV,
            3.5,
            "100k ratings, 610 users, 9,742 movies up to 2018 (redistributable)",
            archive_folder="ml-latest-small",
        ),
        Release(
            "ml-100k",
            Ml100kLoader(),
            4.0,
            "100k ratings, 943 users, 1,682 movies from 1998 (no redistribution)",
            archive_folder="ml-100k",
        ),
        Release(
            "ml-1m",
            DatLoader(),
            4.0,
            "1M ratings, 6,040 users, 3,883 movies from 2003 (no redistribution)",
            archive_folder="ml-1m",
        ),
        Release(
            "ml-25m",
            _CSV,
            3.5,
            "25M ratings, 162k users, 62k movies up to 2019",
            archive_folder="ml-25m",
        ),
        Release(
            "ml-32m",
            _CSV,
            3.5,
            "32M ratings, 201k users, 87,585 movies up to 2023",
            archive_folder="ml-32m",
        ),
    )
}
DEFAULT_RELEASE = "ml-latest-small"


def get_release(name: str) -> Release:
    """Return the release called ``name`` or raise :class:`DatasetError` listing the known ones."""
    try:
        return RELEASES[name]
    except KeyError:
        known = ", ".join(RELEASES)
        raise DatasetError(f"Unknown MovieLens release {name!r}; choose one of: {known}.") from None


def _as_release(release: Release | str) -> Release:
    return get_release(release) if isinstance(release, str) else release


# --------------------------------------------------------------------------------------------
# Locating and downloading


def locate_release(
    name: str,
    *,
    movielens_dir: Path | None,
    data_dir: Path,
    need_ratings: bool = True,
    base_url: str = GROUPLENS_URL,
    progress: bool = True,
) -> Path:
    """Return the folder of an extracted release, downloading it into ``data_dir`` if needed.

    When ``movielens_dir`` is given, the release must be there (``movielens_dir/NAME``) and nothing
    is downloaded. Otherwise ``data_dir/movielens/NAME`` is used, and the official archive is
    downloaded, checked against its published MD5 and extracted there on first use.
    """
    release = get_release(name)
    required = [release.movies_file] + ([release.ratings_file] if need_ratings else [])
    if movielens_dir is not None:
        folder = Path(movielens_dir) / name
        _check_files(
            folder,
            required,
            hint="MOVIEBOT_MOVIELENS_DIR points at a folder of "
            f"extracted releases; it has no complete {name!r}.",
        )
        return folder
    folder = Path(data_dir) / "movielens" / name
    if not all((folder / f).is_file() for f in required):
        download_release(release, folder.parent, base_url=base_url, progress=progress)
    _check_files(folder, required, hint="The downloaded archive did not contain it.")
    return folder


def _check_files(folder: Path, required: list[str], *, hint: str) -> None:
    missing = [f for f in required if not (folder / f).is_file()]
    if missing:
        raise DatasetError(f"{folder} lacks {', '.join(missing)}. {hint}")


def download_release(
    release: Release, parent: Path, *, base_url: str = GROUPLENS_URL, progress: bool = True
) -> Path:
    """Download ``release``'s zip, verify its MD5 and extract it atomically into ``parent/NAME``.

    The archive is written to a temporary file and extracted into a temporary folder next to the
    destination, which is renamed into place only when everything succeeded: an interrupted
    download never leaves a folder that looks complete.
    """
    parent.mkdir(parents=True, exist_ok=True)
    url = f"{base_url.rstrip('/')}/{release.name}.zip"
    expected_md5 = _fetch_md5(url + ".md5")
    with tempfile.TemporaryDirectory(dir=parent, prefix=f".{release.name}-") as tmp:
        archive = Path(tmp) / f"{release.name}.zip"
        logger.info("Downloading %s", url)
        _download(url, archive, progress=progress)
        actual = file_digest(archive, "md5")
        if expected_md5 and actual != expected_md5:
            raise DatasetError(
                f"Checksum mismatch for {url}: expected MD5 {expected_md5}, got {actual}. "
                "The download was discarded; try again."
            )
        staging = Path(tmp) / "extract"
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(staging)
        except zipfile.BadZipFile as exc:
            raise DatasetError(f"{url} is not a valid zip archive: {exc}") from exc
        inner = staging / release.archive_folder
        if not inner.is_dir():  # archive without a top-level folder
            inner = staging
        final = parent / release.name
        if final.exists():
            shutil.rmtree(final)
        os.replace(inner, final)
    return final


def _fetch_md5(url: str) -> str | None:
    """Read the MD5 that GroupLens publishes next to each archive (None if there is none)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            text = resp.read(4096).decode("ascii", "replace")
    except OSError:
        logger.warning("No checksum published at %s; the archive is checked as a zip only", url)
        return None
    match = re.search(r"\b[0-9a-fA-F]{32}\b", text)
    return match.group(0).lower() if match else None


def _download(url: str, dest: Path, *, progress: bool) -> None:
    from tqdm import tqdm

    received = 0
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, dest.open("wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress
            ) as bar:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except (OSError, http.client.HTTPException) as exc:
        raise DatasetError(
            f"Could not download {url}: {exc}. Without internet access, put the extracted "
            "release in a folder and set MOVIEBOT_MOVIELENS_DIR to it."
        ) from exc
    if total is not None and received != total:
        raise DatasetError(
            f"The download of {url} was cut short ({received} of {total} bytes) "
            "and was discarded; try again."
        )


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, algorithm).hexdigest()


def release_checksums(folder: Path, release: Release) -> dict[str, str]:
    """SHA-256 of the files a model is built from, for an artifact's metadata."""
    names = release.loader.checksum_files()
    return {n: file_digest(folder / n) for n in names if (folder / n).is_file()}


# --------------------------------------------------------------------------------------------
# Reading


def split_title(title: str) -> tuple[str, int | None]:
    """Split ``"Toy Story (1995)"`` into ``("Toy Story", 1995)``; no year gives None."""
    title = title.strip()
    match = _YEAR_RE.match(title)
    if match is None:
        return title, None
    return match.group("name").strip(), int(match.group("year"))


def load_ratings(folder: Path, release: Release | str) -> pd.DataFrame:
    """Read a release's ratings as ``user_id, movie_id, rating, timestamp``."""
    release = _as_release(release)
    folder = Path(folder)
    path = folder / release.ratings_file
    if not path.is_file():
        raise DatasetError(f"{path} is missing: the {release.name} ratings are needed here.")
    df = release.loader.read_ratings(folder)
    if df.empty:
        raise DatasetError(f"{path} holds no ratings.")
    return df


def load_catalog(
    folder: Path, release: Release | str, ratings: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Read a release's movies (and links) into the catalog frame described in the module doc.

    With ``ratings`` given, a ``likes`` column counts the ratings at or above the release's like
    threshold (the popularity used to break ties); otherwise ``likes`` is zero.
    """
    release = _as_release(release)
    folder = Path(folder)
    path = folder / release.movies_file
    if not path.is_file():
        raise DatasetError(f"{path} is missing: the {release.name} movie list is needed here.")
    movies = release.loader.read_movies(folder)
    links = release.loader.read_links(folder)
    movies["title"] = movies["title"].str.strip()
    split = [split_title(t) for t in movies["title"]]
    movies["name"] = [s[0] for s in split]
    movies["year"] = pd.array([s[1] for s in split], dtype="Int32")
    movies = movies.set_index("movie_id").sort_index()
    if movies.index.has_duplicates:
        raise DatasetError(f"{path} lists some movieIds twice.")
    for column in ("imdb_id", "tmdb_id"):
        movies[column] = (
            links[column].reindex(movies.index)
            if links is not None
            else pd.array([pd.NA] * len(movies), dtype="Int64")
        )
    if "imdb_search" not in movies:
        movies["imdb_search"] = None
    likes = pd.Series(0, index=movies.index, dtype=np.int64)
    if ratings is not None:
        liked = ratings.loc[ratings["rating"] >= release.like_threshold, "movie_id"]
        likes = liked.value_counts().reindex(movies.index, fill_value=0).astype(np.int64)
    movies["likes"] = likes
    return movies[["title", "name", "year", "genres", "imdb_id", "tmdb_id", "imdb_search", "likes"]]


def load_tags(folder: Path, release: Release | str) -> pd.DataFrame:
    """User tags of a release as ``movie_id`` (int32), ``tag`` (str); empty when it has none.

    Of the known releases only the csv ones (ml-latest-small, ml-25m, ml-32m) ship tags
    (``tags.csv``). Tags are stripped; rows with an empty tag are dropped.
    """
    tags = _as_release(release).loader.read_tags(Path(folder))
    if tags is None:
        return pd.DataFrame({"movie_id": pd.Series(dtype=np.int32), "tag": pd.Series(dtype=object)})
    tags["tag"] = tags["tag"].str.strip()
    return tags.loc[tags["tag"] != "", ["movie_id", "tag"]].reset_index(drop=True)


_LINK_COLUMNS = ("imdb_id", "tmdb_id", "imdb_search")  # what a movie's page is made from


def movie_url(catalog: pd.DataFrame, movie_id: int) -> str:
    """A page about the movie: IMDb or TMDB when the release links them, else MovieLens."""
    row = catalog.loc[movie_id]
    return _page(int(movie_id), *(row[name] for name in _LINK_COLUMNS))


def movie_urls(catalog: pd.DataFrame, movie_ids: Sequence[int]) -> dict[int, str]:
    """:func:`movie_url` of several catalog movies at once (a card's ten: a third of the time).

    Raises ``KeyError`` for a movie the catalog does not have.
    """
    ids = np.asarray([int(m) for m in movie_ids], dtype=np.int64)
    index = catalog.index
    if index.is_monotonic_increasing and index.is_unique:  # a release's catalog: binary search
        at = sorted_positions(index.to_numpy(), ids)
    else:
        at = index.get_indexer(ids)
    if (at < 0).any():
        raise KeyError(f"not in the catalog: {ids[at < 0].tolist()}")
    columns = (catalog[name].array[at].tolist() for name in _LINK_COLUMNS)
    return {
        movie_id: _page(movie_id, imdb, tmdb, search)
        for movie_id, imdb, tmdb, search in zip(ids.tolist(), *columns, strict=True)
    }


def _page(movie_id: int, imdb: Any, tmdb: Any, search: Any) -> str:
    if pd.notna(imdb):
        return f"https://www.imdb.com/title/tt{int(imdb):07d}/"
    if pd.notna(tmdb):
        return f"https://www.themoviedb.org/movie/{int(tmdb)}"
    if isinstance(search, str) and search:
        # ml-100k ids are its own, not movielens.org's; it links IMDb by title instead.
        return f"https://www.imdb.com/find/?q={search}"
    return f"https://movielens.org/movies/{movie_id}"


@dataclass(frozen=True)
class DataPaths:
    """Where releases are read from (``movielens_dir``) and where downloads go (``data_dir``)."""

    data_dir: Path
    movielens_dir: Path | None = None
    base_url: str = GROUPLENS_URL

    def release_folder(
        self, name: str, *, need_ratings: bool = True, progress: bool = True
    ) -> Path:
        """The extracted folder of release ``name`` (see :func:`locate_release`)."""
        return locate_release(
            name,
            movielens_dir=self.movielens_dir,
            data_dir=self.data_dir,
            need_ratings=need_ratings,
            base_url=self.base_url,
            progress=progress,
        )
