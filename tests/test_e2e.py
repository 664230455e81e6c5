"""End to end: the real ``moviebot run`` process, over HTTP, against the Bot API emulator.

One bot process (SQLite store) serves the whole module; every test talks in chats of its own.
Every test ends by checking that the emulator rejected nothing the bot sent and that every pressed
button was answered.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bot.store import ChatState, FavoritesStore
from recsys.engine import Recommender
from recsys.titles import TitleIndex
from tests.botproc import BotProcess, movie_pool
from tests.emulator import BotCall, Emulator, fake_token
from tests.fixtures_e2e import serve_bot, stored_favorites

pytestmark = pytest.mark.slow

TRANSCRIPT = (
    ("Toystory", "Toy Story (1995)"),
    ("Lionking", "Lion King, The (1994)"),
    ("Showman", "The Greatest Showman (2017)"),
    ("Sing", "Sing (2016)"),
    ("spongebob", "SpongeBob SquarePants Movie, The (2004)"),
)
_chats = itertools.count(10_001)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(fake_token()) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("e2e-db")
    return f"sqlite+aiosqlite:///{folder / 'favorites.sqlite3'}"


@pytest.fixture(scope="module")
def bot(
    emu: Emulator,
    trained_model_path: Path,
    movielens_dir: Path,
    db_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BotProcess]:
    yield from serve_bot(
        emu,
        tmp_path_factory.mktemp("e2e-bot"),
        model_path=trained_model_path,
        movielens_dir=movielens_dir,
        database_url=db_url,
        extra={"MOVIEBOT_LOG_LEVEL": "DEBUG"},
    )


@pytest.fixture
def chat(bot: BotProcess, emu: Emulator) -> Iterator[int]:
    """A fresh private chat; afterwards nothing the bot sent may have been rejected."""
    yield next(_chats)
    assert emu.problems() == []
    assert emu.unanswered_queries() == []
    assert bot.running, bot.tail()


@pytest.fixture(scope="module")
def catalog(recommender: Recommender) -> pd.DataFrame:
    return recommender.catalog


def movie_id(catalog: pd.DataFrame, title: str) -> int:
    matches = catalog.index[catalog["title"] == title]
    assert len(matches) == 1, title
    return int(matches[0])


async def press(
    emu: Emulator,
    chat_id: int,
    message: BotCall,
    data: str,
    method: str = "sendMessage",
    **kwargs: Any,
) -> tuple[BotCall, BotCall]:
    """Press a button of ``message``; returns the callback answer and the bot's next message."""
    assert message.message_id is not None
    after = emu.mark()
    answer = await emu.click(chat_id, message.message_id, data, **kwargs)
    reply = await emu.wait_for_reply(chat_id, after=after, methods=[method])
    return answer, reply


async def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def genres(catalog: pd.DataFrame, titles: list[str]) -> list[str]:
    by_title = dict(zip(catalog["title"], catalog["genres"], strict=False))
    return [by_title[t] for t in titles]


def card_movies(reply: BotCall) -> list[int]:
    """The movie ids of a recommendation card, in order (from its 👍 buttons)."""
    return [int(d.rsplit(":", 1)[1]) for d in reply.button_data() if d.startswith("rl:")]


def numbered_titles(reply: BotCall) -> list[str]:
    """The movie titles of a numbered list (``1. Title``), in order."""
    lines = [
        line.split(". ", 1)[1]
        for line in reply.text.splitlines()
        if line[:1].isdigit() and ". " in line
    ]
    return lines


async def test_issue_transcript(
    emu: Emulator, chat: int, db_url: str, catalog: pd.DataFrame
) -> None:
    for query, title in TRANSCRIPT:
        reply = await emu.ask(chat, f"/like {query}")
        assert reply.text.startswith(f"Added {title} to your favorites"), reply.text
    liked = [movie_id(catalog, title) for _, title in TRANSCRIPT]
    assert await stored_favorites(db_url, chat) == liked

    recommended = await emu.ask(chat, "/recommend")
    movies = card_movies(recommended)
    assert len(numbered_titles(recommended)) == len(movies) == 10
    assert recommended.text.count("because you liked") == 10
    assert not set(movies) & set(liked)
    titles = [str(catalog.at[m, "title"]) for m in movies]
    family = [g for g in genres(catalog, titles) if "Children" in g or "Animation" in g]
    assert len(family) >= 5, titles
    assert len(recommended.button_data()) == 41  # 👍 👎 👁 🔎 per movie, and More

    similar = await emu.ask(chat, "/similar matrix")
    assert similar.text.startswith("Movies similar to Matrix, The (1999)")
    similar_titles = numbered_titles(similar)
    assert len(similar_titles) == 10
    action = [g for g in genres(catalog, similar_titles) if "Sci-Fi" in g or "Action" in g]
    assert len(action) >= 5, similar_titles

    why = await emu.ask(chat, "/why aladdin")
    assert "Aladdin (1992)" in why.text
    assert "push it up" in why.text

    confirm = await emu.ask(chat, "/reset")
    assert "Remove all 5 movies" in confirm.text
    assert await stored_favorites(db_url, chat) == liked  # nothing happens before the confirmation
    _, done = await press(emu, chat, confirm, "reset:yes:5", "editMessageText")
    assert done.message_id == confirm.message_id
    assert done.text.startswith("Done: removed 5 movies")
    assert await stored_favorites(db_url, chat) == []
    empty = await emu.ask(chat, "/favorites")
    assert "empty" in empty.text


async def test_ambiguous_title_gives_buttons_to_pick(emu: Emulator, chat: int, db_url: str) -> None:
    reply = await emu.ask(chat, "/like star wars")
    assert reply.text.startswith("Several movies match")
    assert "like:260" in reply.button_data()
    assert len(reply.button_data()) >= 2
    answer, added = await press(emu, chat, reply, "like:260")
    assert answer.params.get("text", "").startswith("Added Star Wars: Episode IV")
    assert added.text.startswith("Added Star Wars: Episode IV - A New Hope (1977)")
    assert await stored_favorites(db_url, chat) == [260]


async def test_did_you_mean_and_not_found(emu: Emulator, chat: int, db_url: str) -> None:
    reply = await emu.ask(chat, "/like pulp fictoin tarantino")
    assert reply.text.startswith("I couldn't find")
    assert "Close in spelling:" in reply.text
    assert reply.button_data()[0] == "like:296"
    await press(emu, chat, reply, "like:296")
    assert await stored_favorites(db_url, chat) == [296]
    nothing = await emu.ask(chat, "/like qwxzzy")
    assert nothing.buttons == []
    assert "couldn't find" in nothing.text
    assert await stored_favorites(db_url, chat) == [296]  # never a phantom


async def test_like_and_similar_from_recommendations(emu: Emulator, chat: int, db_url: str) -> None:
    await emu.ask(chat, "/like toy story")
    recommended = await emu.ask(chat, "/recommend")
    likes = [d for d in recommended.button_data() if d.startswith("rl:")]
    sims = [d for d in recommended.button_data() if d.startswith("sim:")]
    assert len(likes) == len(sims) == 10
    first = int(likes[0].rsplit(":", 1)[1])
    answer, edited = await press(emu, chat, recommended, likes[0], method="editMessageText")
    assert answer.params["text"].startswith("Added")
    assert edited.message_id == recommended.message_id  # the card is edited in place
    assert "👍 liked" in edited.text
    assert await stored_favorites(db_url, chat) == [1, first]
    _, similar = await press(emu, chat, recommended, sims[1])
    assert similar.text.startswith("Movies similar to")
    assert len(numbered_titles(similar)) == 10


async def test_undo_and_remove_from_favorites(emu: Emulator, chat: int, db_url: str) -> None:
    added = await emu.ask(chat, "/like toy story")
    _, removed = await press(emu, chat, added, "un:1")
    assert removed.text.startswith("Removed Toy Story (1995)")
    assert await stored_favorites(db_url, chat) == []
    _, back = await press(emu, chat, removed, "like:1")
    assert back.text.startswith("Added Toy Story (1995)")
    await emu.ask(chat, "/like shrek")
    page = await emu.ask(chat, "/favorites")
    assert numbered_titles(page) == ["Toy Story (1995)", "Shrek (2001)"]
    assert page.button_data() == ["un:1:0", "un:4306:0"]
    answer, edited = await press(emu, chat, page, "un:1:0", "editMessageText")
    assert answer.params["text"] == "Removed Toy Story (1995)"
    assert edited.message_id == page.message_id
    assert numbered_titles(edited) == ["Shrek (2001)"]
    assert await stored_favorites(db_url, chat) == [4306]
    # The same (now stale) button, pressed again from an old client: nothing is removed twice.
    stale = await emu.click(chat, page.message_id or 0, "un:1:0", forge=True)
    assert "already removed" in stale.params["text"]
    # The bot re-renders the page, identical now: Telegram says "not modified", the bot shrugs.
    await wait_until(lambda: any(r.benign for r in emu.rejected))
    assert await stored_favorites(db_url, chat) == [4306]


async def test_reset_cancel_keeps_the_list(emu: Emulator, chat: int, db_url: str) -> None:
    await emu.ask(chat, "/like toy story")
    confirm = await emu.ask(chat, "/reset")
    _, kept = await press(emu, chat, confirm, "reset:no", "editMessageText")
    assert kept.text.startswith("OK, your favorites stay")
    assert kept.buttons == []
    assert await stored_favorites(db_url, chat) == [1]
    nothing = await emu.ask(chat + 500_000, "/reset")
    assert nothing.text == "Your favorites list is already empty."


async def test_forged_and_stale_buttons_expire(emu: Emulator, chat: int, db_url: str) -> None:
    added = await emu.ask(chat, "/like toy story")
    for data in ("like:999999999", "drop table favorites", "reset:maybe", "un:1:0:0", "x" * 64):
        after = emu.mark()
        answer = await emu.click(chat, added.message_id or 0, data, forge=True)
        assert answer.params["text"] == "This button has expired."
        reply = await emu.wait_for_reply(chat, after=after)
        assert reply.text.startswith("This button has expired.")
    assert await stored_favorites(db_url, chat) == [1]


async def test_plain_text_offers_to_like(emu: Emulator, chat: int, db_url: str) -> None:
    offer = await emu.ask(chat, "the lion king")
    assert offer.text.startswith("Did you mean Lion King, The (1994)?")
    _, added = await press(emu, chat, offer, "like:364")
    assert added.text.startswith("Added Lion King, The (1994)")
    assert await stored_favorites(db_url, chat) == [364]


async def test_group_chat_with_bot_username(emu: Emulator, chat: int, db_url: str) -> None:
    group = -1_000_000_000 - chat
    kw: dict[str, Any] = {"chat_type": "supergroup", "title": "Film club"}
    added = await emu.ask(group, f"/like@{emu.username} toy story", user_id=11, **kw)
    assert added.text.startswith("Added Toy Story (1995)")
    await emu.ask(group, "/like shrek", user_id=12, **kw)
    listed = await emu.ask(group, f"/favorites@{emu.username}", user_id=13, **kw)
    assert numbered_titles(listed) == ["Toy Story (1995)", "Shrek (2001)"]  # the group's list
    assert await stored_favorites(db_url, group) == [1, 4306]
    after = emu.mark()
    emu.user_sends(group, "/like@some_other_bot alien", user_id=11, **kw)
    emu.user_sends(group, "alien", user_id=11, **kw)  # chatter, not for the bot
    emu.user_sends(group, "/dance@some_other_bot", user_id=11, **kw)
    unknown = await emu.ask(group, f"/dance@{emu.username}", user_id=11, **kw)
    assert unknown.text.startswith("I don't know the command /dance")
    assert len(emu.calls_in(group, after=after)) == 1  # only the command addressed to us
    confirm = await emu.ask(group, "/reset", user_id=12, **kw)
    await press(emu, group, confirm, "reset:yes:2", "editMessageText", user_id=12)  # who asked
    assert await stored_favorites(db_url, group) == []


async def test_edits_and_media(emu: Emulator, chat: int, db_url: str) -> None:
    sent = emu.user_sends(chat, "/like toy story")
    await emu.wait_for_reply(chat)
    after = emu.mark()
    edit = emu.edit_message(chat, sent["message"]["message_id"], "/like shrek")
    after_sticker = emu.mark()
    emu.user_sends_media(chat, "sticker")
    reply = await emu.wait_for_reply(chat, after=after_sticker)
    assert reply.text == "I only understand text. Send me a movie title, or /help."
    # The bot does not ask for edited messages: the edit is never delivered, never applied.
    assert edit["update_id"] not in emu.delivery_counts
    assert len(emu.calls_in(chat, after=after)) == 1
    assert await stored_favorites(db_url, chat) == [1]


async def test_clean_restart_repeats_nothing_and_keeps_favorites(
    emu: Emulator, bot: BotProcess, chat: int, db_url: str
) -> None:
    await emu.ask(chat, "/like toy story")
    mark = emu.mark()
    assert bot.stop() == 0
    assert emu.pending_update_ids() == []  # the last batch was confirmed on the way out
    bot.start()
    listed = await emu.ask(chat, "/favorites")
    assert numbered_titles(listed) == ["Toy Story (1995)"]
    assert len(emu.calls_in(chat, after=mark)) == 1  # nothing was answered twice
    assert await stored_favorites(db_url, chat) == [1]


async def test_transient_telegram_errors_are_retried(emu: Emulator, chat: int) -> None:
    emu.inject_failure("sendMessage", 502, "Bad Gateway")
    reply = await emu.ask(chat, "/help", timeout=20)
    assert reply.text.startswith("What I can do")
    emu.inject_failure("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    reply = await emu.ask(chat, "/start", timeout=20)
    assert reply.text.startswith("Hi! I recommend movies")
    emu.inject_failure("getUpdates", 502, "Bad Gateway", count=2)
    reply = await emu.ask(chat, "/favorites", timeout=30)
    assert "empty" in reply.text


async def test_unlike_and_favorites_pages(
    emu: Emulator, chat: int, db_url: str, catalog: pd.DataFrame
) -> None:
    pool = movie_pool(catalog, TitleIndex.build(catalog).resolve, size=16)
    liked = [movie.title for movie in pool]
    for title in liked:
        reply = await emu.ask(chat, f"/like {title}")
        assert reply.text.startswith(f"Added {title}")
    first = await emu.ask(chat, "/favorites")
    assert numbered_titles(first) == liked[:15]
    assert first.button_data()[-1] == "fav:1"
    _, second = await press(emu, chat, first, "fav:1", "editMessageText")
    assert numbered_titles(second) == liked[15:]
    assert second.button_data()[-1] == "fav:0"
    # This chat is close to the per-chat flood limit (20 commands, 2 more per second).
    await asyncio.sleep(1.5)
    removed = await emu.ask(chat, f"/unlike {liked[0]}")
    assert removed.text.startswith(f"Removed {liked[0]}")
    again = await emu.ask(chat, f"/unlike {liked[0]}")
    assert again.text == f"{liked[0]} is not in your favorites."
    assert await stored_favorites(db_url, chat) == [movie_id(catalog, t) for t in liked[1:]]


# Last: the log then holds everything this module made the bot do.
def test_commands_registered_and_token_never_logged(emu: Emulator, bot: BotProcess) -> None:
    commands = {c["command"] for c in emu.commands()}
    assert {"like", "unlike", "favorites", "recommend", "similar", "why", "reset"} <= commands
    log = bot.log()
    assert "polling" in log  # the log is really captured (DEBUG level)
    # python-telegram-bot logs the Bot API URL at DEBUG: the token was there, and was scrubbed.
    assert f"{emu.base_url}<redacted>" in log
    secret = emu.token.split(":", 1)[1]
    assert emu.token not in log
    assert secret not in log
    assert not any(secret in text for text in emu.iter_texts())


async def test_issue9_feedback_more_and_filters(
    emu: Emulator, chat: int, db_url: str, catalog: pd.DataFrame
) -> None:
    for query in ("toy story", "finding nemo", "shrek", "the lion king 1994", "aladdin 1992"):
        assert (await emu.ask(chat, f"/like {query}")).text.startswith("Added")
    first = await emu.ask(chat, "/recommend")
    movies = card_movies(first)
    assert len(movies) == 10
    one, two = movies[0], movies[1]

    answer, edited = await press(emu, chat, first, f"rn:1:{one}", method="editMessageText")
    assert answer.params["text"].startswith("Not for me:")
    assert edited.message_id == first.message_id  # the same message, edited in place
    assert "👎 not for me" in edited.text
    assert f"ru:1:{one}" in edited.button_data()  # with an undo
    answer, edited = await press(emu, chat, first, f"rs:1:{two}", method="editMessageText")
    assert answer.params["text"].startswith("Seen:")
    assert "👁 seen" in edited.text
    state = await chat_state(db_url, chat)
    assert (state.dislikes, state.seen) == ((one,), (two,))  # stored before the answer

    again = await emu.ask(chat, "/recommend")
    again_movies = card_movies(again)
    assert len(again_movies) == 10
    assert one not in again_movies
    assert two not in again_movies
    more_data = again.button_data()[-1]
    assert more_data == "more:2"
    _, more = await press(emu, chat, again, more_data)
    more_movies = card_movies(more)
    assert len(more_movies) == 10
    assert not set(more_movies) & (set(again_movies) | {one, two})
    assert numbered_titles(more)[0].startswith("11. ") or "(11–20)" in more.text

    comedy = await emu.ask(chat, "/recommend comedy")
    assert "Filter: comedy" in comedy.text
    assert all("Comedy" in str(catalog.at[m, "genres"]) for m in card_movies(comedy))
    nineties = await emu.ask(chat, "/recommend 90s")
    assert all(1990 <= int(catalog.at[m, "year"]) <= 1999 for m in card_movies(nineties))
    gems = await emu.ask(chat, "/recommend gems")
    assert "discover" in gems.text

    # undo from the first card (an older list: stored, the old message is left as it is)
    assert first.message_id is not None
    answer = await emu.click(chat, first.message_id, f"ru:1:{one}")
    assert answer.params["text"].startswith("Undone:")
    assert (await chat_state(db_url, chat)).dislikes == ()


async def chat_state(db_url: str, chat_id: int) -> ChatState:
    store = await FavoritesStore.open(db_url)
    try:
        return await store.state(chat_id)
    finally:
        await store.close()


async def test_several_titles_small_talk_and_the_catalog(
    emu: Emulator, chat: int, db_url: str
) -> None:
    summary = await emu.ask(chat, "/like toy story, the matrix 1999, godzilla, qwzxqwzx")
    assert summary.text.startswith("Added 2 movies (2 movies now):")
    assert "Which one do you mean for “godzilla”?" in summary.text  # namesakes, all liked
    assert "Not found: “qwzxqwzx” — probably not in my catalog (MovieLens ml-latest-small: " in (
        summary.text
    )
    assert any(d.startswith("like:") for d in summary.button_data())
    assert await stored_favorites(db_url, chat) == [1, 2571]
    lines = await emu.ask(chat, "fargo\nalien")  # one title a line, as plain text
    assert lines.text.startswith("Added 2 movies (4 movies now):")
    talk = await emu.ask(chat, "what should I watch tonight?")
    assert talk.text.startswith("Hi! I recommend movies")
    assert await stored_favorites(db_url, chat) == [1, 2571, 608, 1214]


# ---------------------------------------------------------------------------------------------
# Import (a document) and /export, over the real Bot API calls (getFile, the file download,
# sendDocument)

LETTERBOXD = (
    "Date,Name,Year,Letterboxd URI,Rating\n"
    "2020-01-01,The Godfather,1972,https://boxd.it/a,5\n"
    "2020-01-02,Toy Story,1995,https://boxd.it/b,1\n"
    "2020-01-03,Heat,1995,https://boxd.it/c,3\n"
    "2020-01-05,Parasite,2019,https://boxd.it/e,4.5\n"
)


async def send_document(emu: Emulator, chat: int, data: bytes, name: str, **kw: object) -> BotCall:
    after = emu.mark()
    emu.user_sends_document(chat, data, name, **kw)  # type: ignore[arg-type]
    return await emu.wait_for_reply(chat, after=after, timeout=90)


async def test_a_document_is_imported_with_one_summary_and_undone(
    emu: Emulator, chat: int, db_url: str
) -> None:
    offered = emu.downloads_offered
    summary = await send_document(emu, chat, LETTERBOXD.encode(), "ratings.csv")
    assert emu.downloads_offered == offered + 1  # getFile, then the download
    assert summary.text.startswith(
        "Imported 3 movies (1 favorites, 1 not for me, 1 seen) from ratings.csv."
    )
    assert summary.text.endswith("Not in the catalog (1):\n• Parasite (2019)")
    assert await stored_favorites(db_url, chat) == [858]
    (undo,) = summary.button_data()
    _answer, undone = await press(emu, chat, summary, undo)
    assert undone.text == "Undone: 3 movies removed from your lists."
    assert await stored_favorites(db_url, chat) == []
    store = await FavoritesStore.open(db_url)
    try:
        state = await store.state(chat)
    finally:
        await store.close()
    assert (state.dislikes, state.seen) == ((), ())


@pytest.mark.parametrize(
    ("data", "name", "extra", "says", "downloads"),
    [
        (b"Name,Year\n", "ratings.csv", {"file_size": 25_000_000}, "the limit is 20 MB", 0),
        (b"%PDF-1.7", "list.pdf", {"mime_type": "application/pdf"}, "not list.pdf", 0),
        (b"\x00\x01\x02\x03", "ratings.csv", {}, "is not a CSV file", 1),
        (b"", "ratings.csv", {}, "That file is empty", 1),
        (b"a,b\n1,2\n", "notes.csv", {}, "not a Letterboxd or IMDb export", 1),
    ],
)
async def test_hostile_documents_get_a_clear_message(
    emu: Emulator,
    chat: int,
    db_url: str,
    data: bytes,
    name: str,
    extra: dict[str, object],
    says: str,
    downloads: int,
) -> None:
    offered = emu.downloads_offered
    reply = await send_document(emu, chat, data, name, **extra)
    assert says in reply.text
    assert reply.text.endswith("Nothing was imported.")
    assert reply.buttons == []
    assert emu.downloads_offered == offered + downloads
    assert await stored_favorites(db_url, chat) == []


async def test_export_sends_a_file_that_imports_back(emu: Emulator, chat: int, db_url: str) -> None:
    await send_document(emu, chat, LETTERBOXD.encode(), "ratings.csv")
    after = emu.mark()
    emu.user_sends(chat, "/export")
    sent = await emu.wait_for_reply(chat, after=after, methods=["sendDocument"])
    assert sent.params["document"]["file_name"] == "moviebot-lists.csv"
    assert sent.result["caption"].startswith("Your lists: 3 movies.")
    data = emu.file_bytes(sent.result["document"]["file_id"])
    assert data.startswith(b"imdbID,tmdbID,Title,Year,Rating,WatchedDate")
    other = next(_chats)
    back = await send_document(emu, other, data, "moviebot-lists.csv")
    assert back.text.startswith("Imported 3 movies (1 favorites, 1 not for me, 1 seen)")
    assert await stored_favorites(db_url, other) == [858]
