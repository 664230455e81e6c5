"""Stored lists across a change of release (issue 10): the store and the service, in process.

Lists made on ml-latest-small, the bot restarted on ml-100k and back: no movie is replaced by
another, what ml-100k lacks is kept, hidden and reported once, and nothing is lost on the way
back. On SQLite and PostgreSQL (``store_url``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot import texts
from bot.service import MovieBot, Reply
from bot.store import FavoritesStore, Mark
from recsys.identity import IdentityIndex
from recsys.movielens import load_catalog

CHAT = 4242
OTHER = 77


class CatalogOnly:
    """What the service reads of a recommender when no recommendation is asked for."""

    def __init__(self, catalog: pd.DataFrame, release: str) -> None:
        self.catalog = catalog
        self.genres: tuple[str, ...] = ()
        self.metadata = {"release": release}


class NoTitles:
    def resolve(self, query: str) -> Any:  # pragma: no cover - not used here
        raise AssertionError("no title is resolved in these tests")

    def split(self, text: str) -> list[str]:  # pragma: no cover
        return [text]


@pytest.fixture(scope="module")
def releases(movielens_dir: Path) -> dict[str, tuple[pd.DataFrame, IdentityIndex]]:
    out = {}
    for name in ("ml-latest-small", "ml-100k"):
        catalog = load_catalog(movielens_dir / name, name)
        out[name] = (catalog, IdentityIndex.build(catalog))
    return out


async def start(
    url: str, releases: dict[str, tuple[pd.DataFrame, IdentityIndex]], name: str
) -> tuple[FavoritesStore, MovieBot]:
    """A bot start on a release: open the store, build the service, map the lists."""
    catalog, index = releases[name]
    store = await FavoritesStore.open(url)
    bot = MovieBot(CatalogOnly(catalog, name), NoTitles(), store, identity=index)  # type: ignore[arg-type]
    await bot.prepare()
    return store, bot


async def test_lists_survive_a_release_switch_and_back(
    store_url: str, releases: dict[str, tuple[pd.DataFrame, IdentityIndex]]
) -> None:
    # ml-latest-small: Toy Story, The Godfather, Fargo, Get Out; The Matrix not for me; Pulp
    # Fiction seen. Another chat likes The Godfather only.
    store, _ = await start(store_url, releases, "ml-latest-small")
    for movie in (1, 858, 608, 168250):
        await store.add(CHAT, movie)
    await store.mark(CHAT, 2571, Mark.DISLIKE)
    await store.mark(CHAT, 296, Mark.SEEN)
    await store.add(OTHER, 858)
    await store.close()

    # ml-100k numbers its movies itself: 858 there is "Amityville: Dollhouse".
    store, bot = await start(store_url, releases, "ml-100k")
    try:
        state = await store.state(CHAT)
        assert (state.favorites, state.dislikes, state.seen) == ((1, 127, 100), (), (56,))
        assert await store.favorites(OTHER) == [127]
        note, page = await bot.command(CHAT, "favorites")
        assert note == Reply(
            texts.missing_movies(
                [("like", "Get Out (2017)"), ("dislike", "Matrix, The (1999)")], "ml-100k"
            )
        )
        assert "One of your favorites and one of your" in note.text
        assert "Get Out (2017)" in note.text
        assert "The Matrix (1999)" in note.text
        assert "Godfather" in page.text
        assert "Amityville" not in page.text
        assert "Get Out" not in page.text
        # once: the next message is answered without it, and the other chat is never told
        (again,) = await bot.command(CHAT, "favorites")
        assert "not in this catalog" not in again.text
        (other,) = await bot.command(OTHER, "favorites")
        assert "not in this catalog" not in other.text
        # ml-100k's own 858 and Twelve Monkeys are new favorites, not the hidden movies
        assert str(await store.add(CHAT, 858)) == "added"
        assert str(await store.add(CHAT, 7)) == "added"
        assert await store.favorites(CHAT) == [1, 127, 100, 858, 7]
    finally:
        await store.close()

    # Back on ml-latest-small: everything as it was, plus the two added on ml-100k.
    store, bot = await start(store_url, releases, "ml-latest-small")
    try:
        state = await store.state(CHAT)
        assert state.favorites == (1, 858, 608, 168250, 1324, 32)
        assert (state.dislikes, state.seen) == ((2571,), (296,))
        assert await store.favorites(OTHER) == [858]
        (page,) = await bot.command(CHAT, "favorites")  # nothing missing: nothing to tell
        assert "Get Out" in page.text
        assert "not in this catalog" not in page.text
    finally:
        await store.close()

    # A restart on the same catalog changes nothing and tells nothing again.
    store, bot = await start(store_url, releases, "ml-latest-small")
    try:
        assert (await store.state(CHAT)).favorites == (1, 858, 608, 168250, 1324, 32)
    finally:
        await store.close()

    # /reset on ml-100k empties the list, hidden movies included: nothing comes back later.
    store, _ = await start(store_url, releases, "ml-100k")
    try:
        assert await store.clear(CHAT) == 5  # the five this catalog has; Get Out was hidden
    finally:
        await store.close()
    store, _ = await start(store_url, releases, "ml-latest-small")
    try:
        assert await store.favorites(CHAT) == []
    finally:
        await store.close()


async def test_missing_movies_are_told_again_after_a_new_switch(
    store_url: str, releases: dict[str, tuple[pd.DataFrame, IdentityIndex]]
) -> None:
    store, _ = await start(store_url, releases, "ml-latest-small")
    await store.add(CHAT, 168250)
    await store.close()
    for _ in range(2):  # small -> 100k (told), 100k -> small (back), small -> 100k (told again)
        store, bot = await start(store_url, releases, "ml-100k")
        try:
            assert await store.favorites(CHAT) == []
            note, _page = await bot.command(CHAT, "favorites")
            assert "Get Out (2017)" in note.text
        finally:
            await store.close()
        store, _ = await start(store_url, releases, "ml-latest-small")
        assert await store.favorites(CHAT) == [168250]
        await store.close()


async def test_rows_of_a_database_before_identities_get_them_from_the_catalog(
    store_url: str, releases: dict[str, tuple[pd.DataFrame, IdentityIndex]]
) -> None:
    """A database upgraded in place: its rows get identities at the first start, then map."""
    store = await FavoritesStore.open(store_url)  # no catalog yet: bare ids, as before
    await store.add(CHAT, 858)
    await store.add(CHAT, 5)  # Father of the Bride Part II
    await store.close()
    engine = create_async_engine(store_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT identity FROM favorites"))).all()
        assert rows == [(None,), (None,)]
        store, _ = await start(store_url, releases, "ml-latest-small")
        await store.close()
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT identity, release FROM favorites ORDER BY position")
                )
            ).all()
    finally:
        await engine.dispose()
    assert rows == [
        ("tt0068646||Godfather, The (1972)", "ml-latest-small"),
        ("tt0113041||Father of the Bride Part II (1995)", "ml-latest-small"),
    ]
    store, _ = await start(store_url, releases, "ml-100k")
    try:
        assert await store.favorites(CHAT) == [127, 756]
        assert releases["ml-100k"][0].loc[756, "title"] == "Father of the Bride Part II (1995)"
    finally:
        await store.close()


async def test_a_database_at_revision_0002_upgrades_in_place(
    store_url: str, releases: dict[str, tuple[pd.DataFrame, IdentityIndex]]
) -> None:
    """A database exactly as the code before identities left it: upgraded, nothing lost."""
    from alembic import command
    from alembic.config import Config

    def to_0002(conn: Any) -> None:
        config = Config()
        config.set_main_option("script_location", "bot:migrations")
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")

    engine = create_async_engine(store_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to_0002)
            for movie, position in ((858, 0), (608, 1)):
                await conn.execute(
                    text(
                        "INSERT INTO favorites (chat_id, movie_id, position, added_at) "
                        f"VALUES ({CHAT}, {movie}, {position}, '2026-11-01 12:00:00')"
                    )
                )
            await conn.execute(
                text(
                    "INSERT INTO marks (chat_id, movie_id, kind, position, added_at) "
                    f"VALUES ({CHAT}, 2571, 'dislike', 0, '2026-11-01 12:00:00')"
                )
            )
        async with engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert version == [("0002",)]
    finally:
        await engine.dispose()
    store, _ = await start(store_url, releases, "ml-latest-small")
    try:
        state = await store.state(CHAT)
        assert (state.favorites, state.dislikes) == ((858, 608), (2571,))
    finally:
        await store.close()
    store, _ = await start(store_url, releases, "ml-100k")
    try:
        state = await store.state(CHAT)
        assert (state.favorites, state.dislikes) == ((127, 100), ())
    finally:
        await store.close()
