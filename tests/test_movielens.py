"""The MovieLens data layer: every release format, line endings, titles, links and downloads."""

from __future__ import annotations

import csv
import hashlib
import io
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.movielens import (
    RELEASES,
    CsvLoader,
    DataPaths,
    DatasetError,
    Release,
    ReleaseLoader,
    download_release,
    get_release,
    load_catalog,
    load_ratings,
    load_tags,
    locate_release,
    movie_url,
    movie_urls,
    release_checksums,
    split_title,
)

# --------------------------------------------------------------------------------------------
# Titles


@pytest.mark.parametrize(
    ("title", "name", "year"),
    [
        ("Toy Story (1995)", "Toy Story", 1995),
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            "City of Lost Children, The (Cité des enfants perdus, La)",
            1995,
        ),
        ("Babylon 5", "Babylon 5", None),
        ("Stranger Things (2016-)", "Stranger Things", 2016),
        ("Cosmos (1980– )", "Cosmos", 1980),
        ("  Heat (1995)  ", "Heat", 1995),
        ("2001: A Space Odyssey (1968)", "2001: A Space Odyssey", 1968),
        ("1984 (1956)", "1984", 1956),
        ("Movie (with parentheses)", "Movie (with parentheses)", None),
        ("", "", None),
    ],
)
def test_split_title(title: str, name: str, year: int | None) -> None:
    assert split_title(title) == (name, year)


# --------------------------------------------------------------------------------------------
# The real copies


def test_ml_latest_small(movielens_dir: Path) -> None:
    folder = movielens_dir / "ml-latest-small"
    ratings = load_ratings(folder, "ml-latest-small")
    assert len(ratings) == 100_836
    assert ratings["user_id"].nunique() == 610
    assert ratings["movie_id"].nunique() == 9_724
    assert list(ratings.dtypes.astype(str)) == ["int32", "int32", "float32", "int64"]
    assert ratings.iloc[0].tolist() == [1, 1, 4.0, 964982703]
    catalog = load_catalog(folder, "ml-latest-small", ratings)
    assert len(catalog) == 9_742
    toy = catalog.loc[1]
    assert (toy["title"], toy["name"], toy["year"]) == ("Toy Story (1995)", "Toy Story", 1995)
    # the copy has CRLF line endings: nothing may keep a stray "\r"
    assert toy["genres"] == "Adventure|Animation|Children|Comedy|Fantasy"
    assert not catalog["genres"].str.contains("\r").any()
    assert (toy["imdb_id"], toy["tmdb_id"]) == (114709, 862)
    assert catalog["likes"].sum() == int((ratings["rating"] >= 3.5).sum())
    assert toy["likes"] == int(((ratings.movie_id == 1) & (ratings.rating >= 3.5)).sum())
    assert catalog["year"].isna().sum() > 0  # a few titles have no year
    assert movie_url(catalog, 1) == "https://www.imdb.com/title/tt0114709/"


def test_crlf_and_lf_read_the_same(movielens_dir: Path, tmp_path: Path) -> None:
    src = movielens_dir / "ml-latest-small"
    lf = tmp_path / "ml-latest-small"
    lf.mkdir()
    for name in ("ratings.csv", "movies.csv", "links.csv"):
        data = (src / name).read_bytes()
        assert b"\r\n" in data
        (lf / name).write_bytes(data.replace(b"\r\n", b"\n"))
    pd.testing.assert_frame_equal(
        load_ratings(lf, "ml-latest-small"), load_ratings(src, "ml-latest-small")
    )
    pd.testing.assert_frame_equal(
        load_catalog(lf, "ml-latest-small"), load_catalog(src, "ml-latest-small")
    )


def test_ml_100k(movielens_dir: Path) -> None:
    folder = movielens_dir / "ml-100k"
    ratings = load_ratings(folder, "ml-100k")
    assert len(ratings) == 100_000
    assert (ratings["user_id"].nunique(), ratings["movie_id"].nunique()) == (943, 1682)
    catalog = load_catalog(folder, "ml-100k", ratings)
    assert len(catalog) == 1682
    assert catalog.at[1, "title"] == "Toy Story (1995)"
    assert catalog.at[1, "genres"] == "Animation|Children's|Comedy"
    assert catalog.at[543, "name"] == "Misérables, Les"  # ISO-8859-1
    assert pd.isna(catalog.at[1, "imdb_id"])
    assert catalog.at[1, "imdb_search"] == "Toy%20Story%20(1995)"
    assert movie_url(catalog, 1) == "https://www.imdb.com/find/?q=Toy%20Story%20(1995)"
    assert catalog.at[50, "likes"] == int(((ratings.movie_id == 50) & (ratings.rating >= 4)).sum())


def _write_1m_ratings(path: Path, newline: bytes) -> None:
    rows = [
        "1::1193::5::978300760",
        "1::661::3::978302109",
        "2::1193::4::978298413",
        "6040::3952::1::956703932",
    ]
    path.write_bytes(newline.join(r.encode("latin-1") for r in rows) + newline)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_ml_1m_with_synthetic_ratings(movielens_dir: Path, tmp_path: Path, newline: bytes) -> None:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "movies.dat").write_bytes(
        (movielens_dir / "ml-1m" / "movies.dat").read_bytes().replace(b"\n", newline)
    )
    _write_1m_ratings(folder / "ratings.dat", newline)
    ratings = load_ratings(folder, "ml-1m")
    assert ratings.values.tolist() == [
        [1, 1193, 5, 978300760],
        [1, 661, 3, 978302109],
        [2, 1193, 4, 978298413],
        [6040, 3952, 1, 956703932],
    ]
    catalog = load_catalog(folder, "ml-1m", ratings)
    assert len(catalog) == 3883
    assert catalog.at[1, "genres"] == "Animation|Children's|Comedy"
    assert catalog.at[73, "name"] == "Misérables, Les"
    assert catalog.at[1193, "likes"] == 2
    assert catalog.at[661, "likes"] == 0  # 3 stars is not a like on a whole-star release
    assert movie_url(catalog, 1) == "https://movielens.org/movies/1"


def test_ml_32m_catalog_only(movielens_dir: Path, tmp_path: Path) -> None:
    folder = locate_release(
        "ml-32m", movielens_dir=movielens_dir, data_dir=tmp_path, need_ratings=False
    )
    catalog = load_catalog(folder, "ml-32m")
    assert len(catalog) == 87_585
    assert (catalog["likes"] == 0).all()
    with pytest.raises(DatasetError, match=r"ratings\.csv"):
        locate_release("ml-32m", movielens_dir=movielens_dir, data_dir=tmp_path)


def test_unknown_release_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="ml-latest-small"):
        get_release("ml-7")
    with pytest.raises(DatasetError, match="MOVIEBOT_MOVIELENS_DIR"):
        locate_release("ml-100k", movielens_dir=tmp_path, data_dir=tmp_path)
    with pytest.raises(DatasetError, match="missing"):
        load_ratings(tmp_path, "ml-100k")


def test_release_checksums(movielens_dir: Path) -> None:
    sums = release_checksums(movielens_dir / "ml-latest-small", get_release("ml-latest-small"))
    assert sums["ratings.csv"] == (
        "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646"
    )
    assert set(sums) == {"ratings.csv", "movies.csv", "links.csv", "tags.csv"}


@pytest.mark.parametrize(
    ("name", "files"),
    [
        ("ml-latest-small", ["movies.csv", "ratings.csv", "links.csv", "tags.csv"]),
        ("ml-100k", ["u.item", "u.data"]),  # u.genre, u.user … are not model inputs
        ("ml-1m", ["movies.dat"]),  # the shared copy has no ratings.dat; users.dat is not read
        ("ml-32m", ["movies.csv"]),  # absent optional files are skipped
    ],
)
def test_checksums_name_each_formats_files_in_order(
    movielens_dir: Path, name: str, files: list[str]
) -> None:
    # an artifact records these in this order: the order is part of its metadata
    sums = release_checksums(movielens_dir / name, get_release(name))
    assert list(sums) == files
    first = (movielens_dir / name / files[0]).read_bytes()
    assert sums[files[0]] == hashlib.sha256(first).hexdigest()


# Fingerprints of the frames the readers gave before the loaders existed (the if/elif readers of
# commit 8ccd0ea): the loaders must give the same frames, value for value and dtype for dtype.
# Regenerate only for a deliberate change of the frames, and say so in the commit.
FRAMES_BEFORE_LOADERS = {
    "ml-latest-small": {
        "ratings": "26f3f27ebceb7cf3ea5c106ffaf3c2748ba50c7ea1b77378a192c974dc5acae3",
        "catalog": "298f94241bc2e6d998814438b5a2e2ecef6874f8ea6be582fd7e5dd5f01e922e",
        "tags": "ca387f9b0441eddbe5b790247c542afa5da20bece9ea1ec1e594cf317bdbd9d5",
    },
    "ml-100k": {
        "ratings": "dd8af2d2c0768559effb6d09ce765befb6666977038d4c9af39093e9d7eb1c7f",
        "catalog": "073b372ecf50d4618de3a96be3a18caf30459f910fe37602a0b0893520ff2dc3",
    },
    "ml-1m": {
        "ratings": "357fe57bd94bdaf04741b4622e9aea72698d5e9386e3b4d1bc1cc4111231cfc4",
        "catalog": "70c69ce78c2d8f8dbda7dfbcc9dcb8c3b297f96e6b322b9addcc5ffcebf3ba5e",
    },
    "ml-32m": {
        "catalog": "8fdb7fd5038a1cb0d9e0f4effd45bee91e9fe21e2e7da6ec16596960198a0993",
    },
}


def _fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's index, column names, dtypes and values (None, NaN and NA kept apart)."""
    digest = hashlib.sha256()
    names = [(frame.index.name, str(frame.index.dtype))]
    names += [(column, str(dtype)) for column, dtype in frame.dtypes.items()]
    digest.update(repr(names).encode())
    for values in (frame.index, *(frame[c] for c in frame.columns)):
        digest.update(repr(values.tolist()).encode())
    return digest.hexdigest()


def test_fingerprint_tells_apart_what_a_reader_could_change() -> None:
    frame = pd.DataFrame(
        {"a": np.array([1, 2], dtype=np.int32), "b": pd.Series(["x", None], dtype=object)},
        index=pd.Index([1, 2], name="movie_id"),
    )
    variants = [
        frame.astype({"a": np.int64}),
        frame.assign(b=pd.Series(["x", np.nan], dtype=object, index=frame.index)),
        frame.assign(b=pd.Series(["x", None], dtype=str, index=frame.index)),
        frame.assign(b=["x", ""]),
        frame.assign(a=np.array([1, 3], dtype=np.int32)),
        frame.rename_axis("id"),
        frame.rename(columns={"b": "c"}),
        frame.iloc[::-1],
    ]
    assert len({_fingerprint(f) for f in [frame, *variants]}) == len(variants) + 1


@pytest.mark.parametrize("name", ["ml-latest-small", "ml-100k", "ml-1m", "ml-32m"])
def test_frames_unchanged_by_the_loaders(movielens_dir: Path, tmp_path: Path, name: str) -> None:
    folder = movielens_dir / name
    if name == "ml-1m":  # only movies.dat is shared: add the synthetic ratings in "::" format
        folder = tmp_path / name
        folder.mkdir()
        (folder / "movies.dat").write_bytes((movielens_dir / name / "movies.dat").read_bytes())
        _write_1m_ratings(folder / "ratings.dat", b"\n")
    frames = {}
    if (folder / get_release(name).ratings_file).is_file():
        frames["ratings"] = load_ratings(folder, name)
    frames["catalog"] = load_catalog(folder, name, frames.get("ratings"))
    if name == "ml-latest-small":
        frames["tags"] = load_tags(folder, name)
    fingerprints = {kind: _fingerprint(frame) for kind, frame in frames.items()}
    assert fingerprints == FRAMES_BEFORE_LOADERS[name]


def test_every_release_names_its_loader_files_and_archive_folder() -> None:
    for name, release in RELEASES.items():
        assert release.name == name
        assert isinstance(release.loader, ReleaseLoader)
        assert release.ratings_file == release.has_ratings_file == release.loader.ratings_file
        assert release.movies_file == release.loader.movies_file
        assert release.archive_folder == name  # true of GroupLens' archives of these releases
    assert {type(r.loader).__name__ for r in RELEASES.values()} == {
        "CsvLoader",
        "Ml100kLoader",
        "DatLoader",
    }


# A format the project does not know, added the way docs/extending-releases.md describes: one
# loader and one Release, and every reader, the checksums and locate_release work with it.


class _JsonLinesLoader(ReleaseLoader):
    ratings_file = "ratings.jsonl"
    movies_file = "movies.jsonl"

    @property
    def optional_files(self) -> tuple[str, ...]:
        return ("tags.jsonl",)

    def read_ratings(self, folder: Path) -> pd.DataFrame:
        raw = pd.read_json(folder / self.ratings_file, lines=True)
        return raw.rename(columns={"user": "user_id", "movie": "movie_id"}).astype(
            {"user_id": np.int32, "movie_id": np.int32, "rating": np.float32, "timestamp": np.int64}
        )

    def read_movies(self, folder: Path) -> pd.DataFrame:
        raw = pd.read_json(folder / self.movies_file, lines=True, dtype={"title": str})
        return pd.DataFrame(
            {
                "movie_id": raw["id"].astype(np.int32),
                "title": raw["title"],
                "genres": ["|".join(g) for g in raw["genres"]],
            }
        )

    def read_tags(self, folder: Path) -> pd.DataFrame | None:
        path = folder / "tags.jsonl"
        if not path.is_file():
            return None
        raw = pd.read_json(path, lines=True, dtype={"tag": str})
        return pd.DataFrame({"movie_id": raw["movie"].astype(np.int32), "tag": raw["tag"]})


def test_a_new_format_needs_only_a_loader_and_a_release(tmp_path: Path) -> None:
    release = Release("ml-json", _JsonLinesLoader(), 4.0, "3 ratings", archive_folder="ml-json")
    folder = tmp_path / "ml-json"
    folder.mkdir()
    (folder / "movies.jsonl").write_text(
        '{"id": 2, "title": "Heat (1995)", "genres": ["Crime", "Thriller"]}\n'
        '{"id": 1, "title": " Toy Story (1995) ", "genres": ["Animation"]}\n',
        encoding="utf-8",
    )
    (folder / "ratings.jsonl").write_text(
        '{"user": 1, "movie": 1, "rating": 4.5, "timestamp": 10}\n'
        '{"user": 1, "movie": 2, "rating": 3.0, "timestamp": 11}\n'
        '{"user": 2, "movie": 1, "rating": 4.0, "timestamp": 12}\n',
        encoding="utf-8",
    )
    (folder / "tags.jsonl").write_text(
        '{"movie": 1, "tag": " pixar "}\n{"movie": 2, "tag": ""}\n', encoding="utf-8"
    )
    ratings = load_ratings(folder, release)
    assert list(ratings.dtypes.astype(str)) == ["int32", "int32", "float32", "int64"]
    catalog = load_catalog(folder, release, ratings)
    assert catalog.index.tolist() == [1, 2]
    assert catalog.loc[1, ["title", "name", "year", "genres", "likes"]].tolist() == [
        "Toy Story (1995)",
        "Toy Story",
        1995,
        "Animation",
        2,
    ]
    assert catalog.at[2, "genres"] == "Crime|Thriller"
    assert movie_url(catalog, 2) == "https://movielens.org/movies/2"  # no links in this format
    assert load_tags(folder, release).to_dict("records") == [{"movie_id": 1, "tag": "pixar"}]
    assert list(release_checksums(folder, release)) == [
        "movies.jsonl",
        "ratings.jsonl",
        "tags.jsonl",
    ]
    (folder / "ratings.jsonl").unlink()
    with pytest.raises(DatasetError, match=r"ratings\.jsonl is missing"):
        load_ratings(folder, release)


def test_load_tags_reads_tags_csv(movielens_dir: Path, tmp_path: Path) -> None:
    tags = load_tags(movielens_dir / "ml-latest-small", "ml-latest-small")
    with (movielens_dir / "ml-latest-small" / "tags.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["tag"].strip()]
    assert len(tags) == len(rows) == 3683
    assert list(tags.columns) == ["movie_id", "tag"]
    assert tags["movie_id"].dtype == np.int32
    ghibli = set(tags.loc[tags["tag"] == "Studio Ghibli", "movie_id"])
    assert 31658 in ghibli  # Howl's Moving Castle
    # releases without tags give an empty frame; a broken file a clear error
    assert load_tags(movielens_dir / "ml-100k", "ml-100k").empty
    assert load_tags(tmp_path, "ml-latest-small").empty
    (tmp_path / "tags.csv").write_text("something,else\n1,2\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="tags"):
        load_tags(tmp_path, "ml-latest-small")
    (tmp_path / "tags.csv").write_text(
        "userId,movieId,tag,timestamp\n1,5,  Pixar ,1\n1,6,,2\n", encoding="utf-8"
    )
    assert load_tags(tmp_path, "ml-latest-small").to_dict("records") == [
        {"movie_id": 5, "tag": "Pixar"}
    ]


# --------------------------------------------------------------------------------------------
# Downloads, from a local server


MOVIES = b"movieId,title,genres\r\n1,Toy Story (1995),Animation\r\n2,Heat (1995),Crime\r\n"
RATINGS = b"userId,movieId,rating,timestamp\r\n1,1,4.0,1\r\n1,2,2.0,2\r\n2,1,5.0,3\r\n"


def _zip(top: str | None = "ml-latest-small") -> bytes:
    buf = io.BytesIO()
    prefix = f"{top}/" if top else ""
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(prefix + "movies.csv", MOVIES)
        zf.writestr(prefix + "ratings.csv", RATINGS)
    return buf.getvalue()


class _Server:
    """Serves ``files`` (path -> bytes); ``short`` paths send half the body they announce."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.short: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in server.short:
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                else:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def publish(self, archive: bytes, md5: str | None = None) -> None:
        self.files["/ml-latest-small.zip"] = archive
        if md5 is not None:
            self.files["/ml-latest-small.zip.md5"] = f"MD5 (ml-latest-small.zip) = {md5}\n".encode()


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
    srv.thread.join()


def _locate(server: _Server, data_dir: Path) -> Path:
    paths = DataPaths(data_dir=data_dir, base_url=server.url)
    return paths.release_folder("ml-latest-small", progress=False)


def _leftovers(data_dir: Path) -> list[str]:
    parent = data_dir / "movielens"
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


@pytest.mark.parametrize("top", ["ml-latest-small", None])
def test_download_with_good_checksum(server: _Server, tmp_path: Path, top: str | None) -> None:
    archive = _zip(top)
    server.publish(archive, hashlib.md5(archive).hexdigest())
    folder = _locate(server, tmp_path)
    assert folder == tmp_path / "movielens" / "ml-latest-small"
    assert (folder / "movies.csv").read_bytes() == MOVIES
    assert load_ratings(folder, "ml-latest-small")["rating"].tolist() == [4.0, 2.0, 5.0]
    assert _leftovers(tmp_path) == ["ml-latest-small"]  # no temporary folder left behind
    requests = len(server.requests)
    assert _locate(server, tmp_path) == folder  # already there: no second download
    assert len(server.requests) == requests


def test_download_finds_the_files_in_the_archive_folder_the_release_names(
    server: _Server, tmp_path: Path
) -> None:
    # ml-10m, for one, unpacks into "ml-10M100K": the folder is the release's, not its name
    archive = _zip("ml-latest-small-v2")
    server.publish(archive, hashlib.md5(archive).hexdigest())
    release = Release(
        "ml-latest-small", CsvLoader(), 3.5, "test", archive_folder="ml-latest-small-v2"
    )
    folder = download_release(release, tmp_path, base_url=server.url, progress=False)
    assert folder == tmp_path / "ml-latest-small"
    assert (folder / "movies.csv").read_bytes() == MOVIES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-latest-small"]


def test_bad_checksum_leaves_nothing(server: _Server, tmp_path: Path) -> None:
    server.publish(_zip(), "0" * 32)
    with pytest.raises(DatasetError, match="Checksum mismatch"):
        _locate(server, tmp_path)
    assert _leftovers(tmp_path) == []


def test_truncated_transfer_leaves_nothing(server: _Server, tmp_path: Path) -> None:
    archive = _zip()
    server.publish(archive, hashlib.md5(archive).hexdigest())
    server.short.add("/ml-latest-small.zip")
    with pytest.raises(DatasetError, match="cut short"):
        _locate(server, tmp_path)
    assert _leftovers(tmp_path) == []


def test_truncated_archive_without_checksum_leaves_nothing(server: _Server, tmp_path: Path) -> None:
    archive = _zip()
    server.publish(archive[: len(archive) // 2])  # no .md5 published: 404
    with pytest.raises(DatasetError, match="not a valid zip"):
        _locate(server, tmp_path)
    assert _leftovers(tmp_path) == []


def test_unreachable_server_says_what_to_do(tmp_path: Path) -> None:
    paths = DataPaths(data_dir=tmp_path, base_url="http://127.0.0.1:9")
    with pytest.raises(DatasetError, match="MOVIEBOT_MOVIELENS_DIR"):
        paths.release_folder("ml-latest-small", progress=False)
    assert _leftovers(tmp_path) == []


def test_movie_urls_of_a_card_read_every_kind_of_link() -> None:
    catalog = pd.DataFrame(
        {
            "imdb_id": [114709.0, np.nan, np.nan, np.nan],
            "tmdb_id": [862.0, 8844.0, np.nan, np.nan],
            "imdb_search": [None, None, "Heat%20(1995)", ""],
        },
        index=pd.Index([1, 2, 6, 9], name="movie_id"),
    )
    urls = movie_urls(catalog, [9, 2, 6, 1])
    assert list(urls) == [9, 2, 6, 1]
    assert urls == {
        1: "https://www.imdb.com/title/tt0114709/",
        2: "https://www.themoviedb.org/movie/8844",
        6: "https://www.imdb.com/find/?q=Heat%20(1995)",
        9: "https://movielens.org/movies/9",
    }
    assert all(movie_url(catalog, m) == url for m, url in urls.items())
    assert movie_urls(catalog.iloc[::-1], [9, 2, 6, 1]) == urls  # an index in no order
    for table in (catalog, catalog.iloc[::-1], catalog.iloc[:0]):
        with pytest.raises(KeyError, match="404"):
            movie_urls(table, [1, 404])
