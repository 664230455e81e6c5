"""The MovieLens data layer: every release layout, line endings, titles, links and downloads."""

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
    DataPaths,
    DatasetError,
    get_release,
    load_catalog,
    load_ratings,
    load_tags,
    locate_release,
    movie_url,
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
