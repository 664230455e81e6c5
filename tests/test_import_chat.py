"""Import in the chat and /export (issue 10), through the service on the real ml-latest-small model.

A document goes through :meth:`bot.service.MovieBot.document`: checked before it is downloaded,
imported in one transaction, answered with one summary and an "Undo import" button.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from bot import texts
from bot.service import EXPORT_NAME, MovieBot, Upload, parse_button
from bot.store import FavoritesStore, Mark
from recsys.engine import Recommender

CHAT = 5150
FARGO, GODFATHER, TOY_STORY, HEAT = 608, 858, 1, 6

LETTERBOXD = (
    "Date,Name,Year,Letterboxd URI,Rating\n"
    "2020-01-01,The Godfather,1972,https://boxd.it/a,5\n"
    "2020-01-02,Toy Story,1995,https://boxd.it/b,1\n"
    "2020-01-03,Heat,1995,https://boxd.it/c,3\n"
    "2020-01-04,Fargo,1996,https://boxd.it/d,4.5\n"
    "2020-01-05,Parasite,2019,https://boxd.it/e,4.5\n"
    "2020-01-06,Everything Everywhere All at Once,2022,https://boxd.it/f,5\n"
)


def upload(
    data: bytes, name: str = "ratings.csv", *, size: int | None = None, mime: str | None = None
) -> tuple[Upload, list[int]]:
    """An upload whose download is counted."""
    downloads: list[int] = []

    async def download() -> bytes:
        downloads.append(1)
        return data

    return Upload(name, len(data) if size is None else size, mime, download), downloads


async def test_a_letterboxd_file_imports_once_with_one_summary_and_undo(
    moviebot: MovieBot, sqlite_store: FavoritesStore
) -> None:
    await sqlite_store.add(CHAT, FARGO)
    document, downloads = upload(LETTERBOXD.encode())
    (reply,) = await moviebot.document(CHAT, document, update_id=9001)
    assert downloads == [1]
    assert reply.text.startswith(
        "<b>Imported 3 movies</b> (1 favorites, 1 not for me, 1 seen) from ratings.csv."
    )
    assert "Already in your lists: 1." in reply.text
    assert reply.text.endswith(
        "Not in the catalog (2):\n• Parasite (2019)\n• Everything Everywhere All at Once (2022)"
    )
    state = await sqlite_store.state(CHAT)
    assert (state.favorites, state.dislikes, state.seen) == ((FARGO, GODFATHER), (1,), (HEAT,))
    ((undo,),) = reply.buttons
    assert undo.label == texts.BUTTON_UNDO_IMPORT
    assert undo.data == "imp:9001"
    # the same update delivered again writes nothing more
    again, _ = upload(LETTERBOXD.encode())
    await moviebot.document(CHAT, again, update_id=9001)
    assert (await sqlite_store.state(CHAT)).favorites == (FARGO, GODFATHER)
    # a movie liked after the import stays when it is undone; only the import's three go
    await sqlite_store.add(CHAT, 2571)
    answer = await moviebot.button(CHAT, undo.data, update_id=9002)
    assert answer.replies[0].text == texts.import_undone(3)
    state = await sqlite_store.state(CHAT)
    assert (state.favorites, state.dislikes, state.seen) == ((FARGO, 2571), (), ())
    answer = await moviebot.button(CHAT, undo.data, update_id=9003)
    assert answer.replies[0].text == texts.import_undone(0)


async def test_the_caps_stop_an_import_with_a_clear_message(
    recommender: Recommender, title_index: Any, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'capped.sqlite3'}"
    store = await FavoritesStore.open(url, limit=1, marks_limit=5)
    try:
        await store.add(CHAT, FARGO)
        bot = MovieBot(recommender, title_index, store, favorites_limit=1, marks_limit=5)
        document, _ = upload(LETTERBOXD.encode())
        (reply,) = await bot.document(CHAT, document, update_id=1)
        assert "<b>Imported 2 movies</b>" in reply.text
        assert "<b>One movie was not imported: your lists are full</b>" in reply.text
        state = await store.state(CHAT)
        assert (state.favorites, state.dislikes, state.seen) == ((FARGO,), (1,), (HEAT,))
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("data", "name", "size", "mime", "says", "downloaded"),
    [
        (b"x", "ratings.csv", 25_000_000, "text/csv", "the limit is 20 MB", False),
        (b"%PDF-1.4", "watchlist.pdf", None, "application/pdf", "not watchlist.pdf", False),
        (b"\x00\x01\x02PK\x00", "ratings.csv", None, "text/csv", "is not a CSV file", True),
        (b"", "ratings.csv", None, "text/csv", "That file is empty", True),
        (b"a,b,c\n1,2,3\n", "notes.csv", None, "text/csv", "is not a Letterboxd or IMDb", True),
        (b"Name,Year\n\xff\xfe\xfa,1999\n", "watched.csv", None, None, "is not UTF-8", True),
        (b"PK\x03\x04broken", "letterboxd.zip", None, "application/zip", "zip", True),
    ],
)
async def test_hostile_files_get_a_clear_message_and_change_nothing(
    moviebot: MovieBot,
    sqlite_store: FavoritesStore,
    data: bytes,
    name: str,
    size: int | None,
    mime: str | None,
    says: str,
    downloaded: bool,
) -> None:
    await sqlite_store.add(CHAT, FARGO)
    document, downloads = upload(data, name, size=size, mime=mime)
    (reply,) = await moviebot.document(CHAT, document, update_id=77)
    assert says in reply.text
    assert reply.text.endswith("Nothing was imported.")
    assert reply.buttons == ()
    assert bool(downloads) is downloaded
    assert (await sqlite_store.state(CHAT)).favorites == (FARGO,)


async def test_a_failed_download_is_said_and_nothing_is_written(
    moviebot: MovieBot, sqlite_store: FavoritesStore
) -> None:
    async def broken() -> bytes:
        raise OSError("connection reset")

    (reply,) = await moviebot.document(CHAT, Upload("ratings.csv", 100, "text/csv", broken))
    assert reply.text == texts.download_failed()
    assert await sqlite_store.favorites(CHAT) == []


async def test_not_in_the_catalog_is_clipped_to_telegram_s_limit(moviebot: MovieBot) -> None:
    rows = "".join(f"2020-01-01,Film Number {i} That Never Was,2021,u,4\n" for i in range(600))
    document, _ = upload(f"Date,Name,Year,Letterboxd URI,Rating\n{rows}".encode())
    (reply,) = await moviebot.document(CHAT, document)
    assert texts.utf16_len(reply.text) <= texts.MAX_MESSAGE
    assert "Not in the catalog (600):" in reply.text
    assert reply.text.endswith("more.</i>")


async def test_export_is_a_csv_the_import_reads_back(
    moviebot: MovieBot, sqlite_store: FavoritesStore
) -> None:
    (empty,) = await moviebot.command(CHAT, "export")
    assert empty.text == texts.export_empty()
    assert empty.document is None
    for movie in (GODFATHER, FARGO, 32):
        await sqlite_store.add(CHAT, movie)
    await sqlite_store.mark(CHAT, TOY_STORY, Mark.DISLIKE)
    await sqlite_store.mark(CHAT, HEAT, Mark.SEEN)
    (reply,) = await moviebot.command(CHAT, "export")
    assert reply.document is not None
    assert reply.document.name == EXPORT_NAME
    assert reply.text == texts.export_caption(5)
    rows = list(csv.DictReader(io.StringIO(reply.document.data.decode())))
    assert {"imdbID", "tmdbID", "Title", "Year", "Rating", "WatchedDate"} <= set(rows[0])
    assert rows[0]["imdbID"] == "tt0068646"
    # round trip: another chat imports the file and gets the same lists
    other = CHAT + 1
    document, _ = upload(reply.document.data, EXPORT_NAME, mime="text/csv")
    (summary,) = await moviebot.document(other, document)
    assert "<b>Imported 5 movies</b>" in summary.text
    mine, theirs = await sqlite_store.state(CHAT), await sqlite_store.state(other)
    assert set(theirs.favorites) == set(mine.favorites)
    assert (theirs.dislikes, theirs.seen) == (mine.dislikes, mine.seen)


def test_the_undo_button_is_parsed_strictly() -> None:
    action = parse_button("imp:9001")
    assert action is not None
    assert action.import_id == 9001
    assert parse_button("imp:0") is None
    assert parse_button("imp:abc") is None
    assert parse_button("imp:" + "9" * 19) is None
