"""MovieLens releases: where they come from, how to read them, and the catalog they describe.

A *release* is one GroupLens archive (``ml-latest-small``, ``ml-100k``, ``ml-1m``, ``ml-25m``,
``ml-32m``). :func:`locate_release` finds it extracted under a folder of releases (the
``MOVIEBOT_MOVIELENS_DIR`` setting) or downloads it once into the data folder; :func:`load_catalog`
and :func:`load_ratings` read it into plain pandas frames with one column layout for every release:

* ratings: ``user_id`` (int32), ``movie_id`` (int32), ``rating`` (float32), ``timestamp`` (int64);
* catalog: indexed by ``movie_id`` with ``title`` (as MovieLens writes it, year included),
  ``name`` (the title without the year), ``year`` (nullable Int32), ``genres`` (``|``-separated),
  ``imdb_id`` and ``tmdb_id`` (nullable Int64, where the release has ``links.csv`` or IMDb URLs).
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens"

_YEAR_RE = re.compile(r"^(?P<name>.*?)\s*\((?P<year>\d{4})(?:\s*[-–]\s*\d{0,4})?\)\s*$")


class DatasetError(RuntimeError):
    """A release is missing, incomplete, corrupt or unknown; the message says what to do."""


@dataclass(frozen=True)
class Release:
    """One MovieLens release and how its files are laid out."""

    name: str
    layout: str  # "csv" (latest, 25m, 32m), "100k" or "1m"
    like_threshold: float  # a rating at or above this is a "like"
    has_ratings_file: str
    movies_file: str
    description: str

    @property
    def url(self) -> str:
        """The official zip archive of this release."""
        return f"{GROUPLENS_URL}/{self.name}.zip"


RELEASES: dict[str, Release] = {
    r.name: r
    for r in (
        Release(
            "ml-latest-small",
            "csv",
            3.5,
            "ratings.csv",
            "movies.csv",
            "100k ratings, 610 users, 9,742 movies up to 2018 (redistributable)",
        ),
        Release(
            "ml-100k",
            "100k",
            4.0,
            "u.data",
            "u.item",
            "100k ratings, 943 users, 1,682 movies from 1998 (no redistribution)",
        ),
        Release(
            "ml-1m",
            "1m",
            4.0,
            "ratings.dat",
            "movies.dat",
            "1M ratings, 6,040 users, 3,883 movies from 2003 (no redistribution)",
        ),
        Release(
            "ml-25m",
            "csv",
            3.5,
            "ratings.csv",
            "movies.csv",
            "25M ratings, 162k users, 62k movies up to 2019",
        ),
        Release(
            "ml-32m",
            "csv",
            3.5,
            "ratings.csv",
            "movies.csv",
            "32M ratings, 201k users, 87,585 movies up to 2023",
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
    required = [release.movies_file] + ([release.has_ratings_file] if need_ratings else [])
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
        inner = staging / release.name
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
    names = [release.movies_file, release.has_ratings_file]
    if release.layout == "csv":
        names += ["links.csv", TAGS_FILE]
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
    release = get_release(release) if isinstance(release, str) else release
    path = Path(folder) / release.has_ratings_file
    if not path.is_file():
        raise DatasetError(f"{path} is missing: the {release.name} ratings are needed here.")
    dtypes = {
        "user_id": np.int32,
        "movie_id": np.int32,
        "rating": np.float32,
        "timestamp": np.int64,
    }
    names = list(dtypes)
    if release.layout == "csv":
        df = pd.read_csv(path, header=0, names=names, dtype=dtypes, engine="c")
    elif release.layout == "100k":
        df = pd.read_csv(path, sep="\t", header=None, names=names, dtype=dtypes, engine="c")
    else:  # "1m": UserID::MovieID::Rating::Timestamp
        raw = pd.read_csv(
            path,
            sep=":",
            header=None,
            dtype=str,
            engine="c",
            encoding="latin-1",
            usecols=[0, 2, 4, 6],
        )
        raw.columns = names
        df = raw.astype(dtypes)
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
    release = get_release(release) if isinstance(release, str) else release
    folder = Path(folder)
    path = folder / release.movies_file
    if not path.is_file():
        raise DatasetError(f"{path} is missing: the {release.name} movie list is needed here.")
    imdb = tmdb = None
    if release.layout == "csv":
        movies = pd.read_csv(
            path, dtype={"movieId": np.int32, "title": str, "genres": str}, keep_default_na=False
        )
        movies = movies.rename(columns={"movieId": "movie_id"})
        links_path = folder / "links.csv"
        if links_path.is_file():
            links = pd.read_csv(
                links_path, dtype={"movieId": np.int32}, converters={"imdbId": str, "tmdbId": str}
            )
            links = links.set_index("movieId")
            imdb = pd.to_numeric(links["imdbId"], errors="coerce").astype("Int64")
            tmdb = pd.to_numeric(links["tmdbId"], errors="coerce").astype("Int64")
    elif release.layout == "100k":
        genre_names = _read_100k_genres(folder)
        raw = pd.read_csv(
            path, sep="|", header=None, encoding="latin-1", dtype=str, keep_default_na=False
        )
        flags = raw.iloc[:, 5 : 5 + len(genre_names)].astype(int).to_numpy(bool)
        movies = pd.DataFrame(
            {
                "movie_id": raw[0].astype(np.int32),
                "title": raw[1],
                "genres": [
                    "|".join(g for g, f in zip(genre_names, row, strict=True) if f) for row in flags
                ],
            }
        )
        imdb_title = raw[4].str.extract(r"title-exact\?(.*)$")[0]
        movies["_imdb_url"] = imdb_title  # kept as a search link, no numeric id in ml-100k
    else:  # "1m": MovieID::Title::Genres
        rows = path.read_bytes().decode("latin-1").splitlines()
        parts = [r.split("::") for r in rows if r.strip()]
        movies = pd.DataFrame(
            {
                "movie_id": np.array([int(p[0]) for p in parts], dtype=np.int32),
                "title": [p[1] for p in parts],
                "genres": [p[2].strip() if len(p) > 2 else "" for p in parts],
            }
        )
    movies["title"] = movies["title"].str.strip()
    split = [split_title(t) for t in movies["title"]]
    movies["name"] = [s[0] for s in split]
    movies["year"] = pd.array([s[1] for s in split], dtype="Int32")
    movies = movies.set_index("movie_id").sort_index()
    if movies.index.has_duplicates:
        raise DatasetError(f"{path} lists some movieIds twice.")
    movies["imdb_id"] = (
        imdb.reindex(movies.index)
        if imdb is not None
        else pd.array([pd.NA] * len(movies), dtype="Int64")
    )
    movies["tmdb_id"] = (
        tmdb.reindex(movies.index)
        if tmdb is not None
        else pd.array([pd.NA] * len(movies), dtype="Int64")
    )
    if "_imdb_url" not in movies:
        movies["_imdb_url"] = None
    movies = movies.rename(columns={"_imdb_url": "imdb_search"})
    likes = pd.Series(0, index=movies.index, dtype=np.int64)
    if ratings is not None:
        liked = ratings.loc[ratings["rating"] >= release.like_threshold, "movie_id"]
        likes = liked.value_counts().reindex(movies.index, fill_value=0).astype(np.int64)
    movies["likes"] = likes
    return movies[["title", "name", "year", "genres", "imdb_id", "tmdb_id", "imdb_search", "likes"]]


TAGS_FILE = "tags.csv"


def load_tags(folder: Path, release: Release | str) -> pd.DataFrame:
    """User tags of a release as ``movie_id`` (int32), ``tag`` (str); empty when it has none.

    Only the csv releases (ml-latest-small, ml-25m, ml-32m) ship ``tags.csv``
    (``userId,movieId,tag,timestamp``). Rows with an empty tag are dropped.
    """
    release = get_release(release) if isinstance(release, str) else release
    empty = pd.DataFrame({"movie_id": pd.Series(dtype=np.int32), "tag": pd.Series(dtype=object)})
    path = Path(folder) / TAGS_FILE
    if release.layout != "csv" or not path.is_file():
        return empty
    try:
        tags = pd.read_csv(
            path,
            usecols=["movieId", "tag"],
            dtype={"movieId": np.int32, "tag": str},
            keep_default_na=False,
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"{path} is not a MovieLens tags file ({exc}).") from exc
    tags = tags.rename(columns={"movieId": "movie_id"})
    tags["tag"] = tags["tag"].str.strip()
    return tags.loc[tags["tag"] != "", ["movie_id", "tag"]].reset_index(drop=True)


def _read_100k_genres(folder: Path) -> list[str]:
    path = folder / "u.genre"
    if not path.is_file():
        return [
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
        ]
    lines = path.read_text(encoding="latin-1").splitlines()
    return [ln.split("|")[0] for ln in lines if ln.strip()]


def movie_url(catalog: pd.DataFrame, movie_id: int) -> str:
    """A page about the movie: IMDb or TMDB when the release links them, else MovieLens."""
    row = catalog.loc[movie_id]
    if pd.notna(row["imdb_id"]):
        return f"https://www.imdb.com/title/tt{int(row['imdb_id']):07d}/"
    if pd.notna(row["tmdb_id"]):
        return f"https://www.themoviedb.org/movie/{int(row['tmdb_id'])}"
    if isinstance(row["imdb_search"], str) and row["imdb_search"]:
        # ml-100k ids are its own, not movielens.org's; it links IMDb by title instead.
        return f"https://www.imdb.com/find/?q={row['imdb_search']}"
    return f"https://movielens.org/movies/{int(movie_id)}"


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
