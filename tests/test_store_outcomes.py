"""The store's part of issue 11, items 5 and 6, on SQLite and PostgreSQL: a clear that checks the
count a confirmation showed, and the recorded outcome a redelivery is answered from."""

from __future__ import annotations

from bot.store import FavoritesStore

CHAT = 5005


async def test_clear_with_an_expected_count(store: FavoritesStore) -> None:
    for movie in (1, 2, 3):
        await store.add(CHAT, movie)
    assert await store.clear(CHAT, expected=1, update_id=901) == -1  # the list changed
    assert await store.favorites(CHAT) == [1, 2, 3]
    assert await store.clear(CHAT, expected=1, update_id=901) == -1  # replayed: same answer
    assert await store.outcome(901) == -1
    assert await store.clear(CHAT, expected=3, update_id=902) == 3
    assert await store.favorites(CHAT) == []
    await store.add(CHAT, 4)
    assert await store.clear(CHAT, expected=3, update_id=902) == 3  # replayed: nothing removed
    assert await store.favorites(CHAT) == [4]


async def test_the_outcome_of_a_removal_names_the_movie(store: FavoritesStore) -> None:
    await store.add(CHAT, 2571)
    assert await store.outcome(903) is None
    assert await store.remove(CHAT, 2571, update_id=903) is True
    assert await store.outcome(903) == -2571
    assert await store.remove(CHAT, 2571, update_id=903) is True  # replayed
    assert await store.remove(CHAT, 2571, update_id=904) is False
    assert await store.outcome(904) == 0
