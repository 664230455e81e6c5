"""``moviebot console``: the issue's transcript on the real ml-latest-small model, and the console's
own rendering (numbered buttons, plain text) on fakes."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot import texts
from bot.console import Console, parse_command, plain
from bot.service import MovieBot
from bot.store import FavoritesStore
from tests.fixtures_bot import FakeRecommender, FakeTitles

REPO = Path(__file__).resolve().parents[1]

TRANSCRIPT = [
    "/like Toystory",
    "/like Lionking",
    "/like Showman",
    "/like Sing",
    "/like spongebob",
    "/favorites",
    "/recommend",
    "/similar matrix",
    "/reset",
    "1",
    "/favorites",
]

# Films a Matrix fan would expect next to it: its sequels and the sci-fi/action canon.
MATRIX_FAN = {
    "Matrix Reloaded, The (2003)",
    "Matrix Revolutions, The (2003)",
    "Fight Club (1999)",
    "Terminator 2: Judgment Day (1991)",
    "Terminator, The (1984)",
    "Inception (2010)",
    "Star Wars: Episode IV - A New Hope (1977)",
    "Star Wars: Episode V - The Empire Strikes Back (1980)",
    "Star Wars: Episode VI - Return of the Jedi (1983)",
    "Dark Knight, The (2008)",
    "Lord of the Rings: The Fellowship of the Ring, The (2001)",
    "Lord of the Rings: The Two Towers, The (2002)",
    "Lord of the Rings: The Return of the King, The (2003)",
    "Gladiator (2000)",
    "Memento (2000)",
    "Minority Report (2002)",
    "Total Recall (1990)",
    "Aliens (1986)",
    "Alien (1979)",
    "Blade Runner (1982)",
    "Fifth Element, The (1997)",
    "Men in Black (a.k.a. MIB) (1997)",
    "Back to the Future (1985)",
    "Independence Day (a.k.a. ID4) (1996)",
    "Jurassic Park (1993)",
    "Raiders of the Lost Ark (Indiana Jones and the Raiders of the Lost Ark) (1981)",
    "Twelve Monkeys (a.k.a. 12 Monkeys) (1995)",
    "Gattaca (1997)",
    "Equilibrium (2002)",
    "Dark City (1998)",
    "V for Vendetta (2006)",
    "Batman Begins (2005)",
    "Kill Bill: Vol. 1 (2003)",
    "Die Hard (1988)",
    "Speed (1994)",
    "Face/Off (1997)",
    "Rock, The (1996)",
    "X-Men (2000)",
    "Spider-Man (2002)",
    "Star Trek (2009)",
    "Avatar (2009)",
    "Iron Man (2008)",
}


def blocks(output: str) -> dict[str, list[str]]:
    """The console's answer to each input line (``> line`` opens a block)."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in output.splitlines():
        if line.startswith("> "):
            current = found.setdefault(line[2:], [])
        else:
            current.append(line)
    return found


def moviebot(
    command: str, stdin: str, *, movielens_dir: Path, model: Path, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``moviebot COMMAND ARGS`` (split at spaces) in an empty folder with these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOVIEBOT_")}
    env.update(
        MOVIEBOT_MOVIELENS_DIR=str(movielens_dir),
        MOVIEBOT_DATA_DIR=str(tmp_path / "data"),
        MOVIEBOT_MODEL_PATH=str(model),
        OPENBLAS_NUM_THREADS="1",
        PYTHONPATH=str(REPO),
    )
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *command.split()],
        cwd=tmp_path,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_the_issue_transcript(
    movielens_dir: Path, trained_model_path: Path, tmp_path: Path
) -> None:
    done = moviebot(
        "console",
        "\n".join(TRANSCRIPT) + "\n",
        movielens_dir=movielens_dir,
        model=trained_model_path,
        tmp_path=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # nothing noisy
    out = blocks(done.stdout)
    assert list(out)[: len(TRANSCRIPT) - 1] == TRANSCRIPT[:-1]

    for query, title in [
        ("Toystory", "Toy Story (1995)"),
        ("Lionking", "Lion King, The (1994)"),
        ("Showman", "The Greatest Showman (2017)"),
        ("Sing", "Sing (2016)"),
        ("spongebob", "SpongeBob SquarePants Movie, The (2004)"),
    ]:
        assert out[f"/like {query}"][0].startswith(f"Added {title} to your favorites"), out
    favorites = "\n".join(out["/favorites"][:8])
    assert "(5 movies)" in favorites

    recommend = out["/recommend"]
    entries = [line for line in recommend if re.match(r"^\d+\. ", line)]
    reasons = [line for line in recommend if line.strip().startswith("because you liked ")]
    assert len(entries) == 10
    assert len(reasons) == 10
    favorite_titles = (
        "Toy Story (1995)",
        "Lion King, The (1994)",
        "The Greatest Showman (2017)",
        "Sing (2016)",
        "SpongeBob SquarePants Movie, The (2004)",
    )
    short = [texts.short_title(t) for t in favorite_titles]  # "The Lion King"
    assert all(any(t in r for t in short) for r in reasons)
    assert not any(texts.display_title(t) in e for t in favorite_titles for e in entries)

    similar = out["/similar matrix"]
    assert similar[0] == "Movies similar to Matrix, The (1999)"
    titles = [
        re.sub(r"^\d+\. (.*) <https?://[^>]+>$", r"\1", line)
        for line in similar
        if re.match(r"^\d+\. ", line)
    ]
    assert len(titles) == 10
    assert len(MATRIX_FAN.intersection(titles)) >= 5, titles

    assert "Remove all 5 movies" in out["/reset"][0]
    assert "[1] 🗑 Yes, remove all" in out["/reset"][1]
    assert out["1"][0] == "Done: removed 5 movies. Your favorites list is empty."
    assert out["/favorites"][-2] == "Your favorites list is empty. Add movies with /like <title>."


@pytest.mark.slow
def test_run_without_token_points_to_the_console_and_start_opens_it(
    movielens_dir: Path, trained_model_path: Path, tmp_path: Path
) -> None:
    run = moviebot(
        "run", "", movielens_dir=movielens_dir, model=trained_model_path, tmp_path=tmp_path
    )
    assert run.returncode == 2
    assert "MOVIEBOT_TELEGRAM_TOKEN" in run.stderr
    assert "moviebot console" in run.stderr
    start = moviebot(
        "start",
        "/like toy story\n",
        movielens_dir=movielens_dir,
        model=trained_model_path,
        tmp_path=tmp_path,
    )
    assert start.returncode == 0, start.stderr
    assert "starting the console" in start.stderr
    assert "Added Toy Story (1995)" in start.stdout


# ---------------------------------------------------------------------------------------------
# Rendering, on fakes


def test_plain_text_rendering() -> None:
    html = (
        '<b>Movies</b> &amp; <i>more</i>\n1. <a href="https://example.org/?a=1&amp;b=2">'
        "Up &lt;3</a>"
    )
    assert plain(html) == "Movies & more\n1. Up <3 <https://example.org/?a=1&b=2>"
    assert parse_command("/like@SomeBot  toy story ") == ("like", "toy story")
    assert parse_command("/recommend") == ("recommend", "")


async def test_numbered_buttons_can_be_typed(tmp_path: Path) -> None:
    store = await FavoritesStore.open(f"sqlite+aiosqlite:///{tmp_path / 'c.sqlite3'}")
    try:
        out = io.StringIO()
        console = Console(MovieBot(FakeRecommender(), FakeTitles(), store), out, chat_id=0)
        script = io.StringIO("/like alien\n2\n9\n/favorites\n1\n/quit\n/like matrix\n")
        await console.run(script)
        text = out.getvalue()
        assert "  [1] 👍 Alien (1979)" in text
        assert "  [2] 👍 Aliens (1986)" in text
        assert "Added Aliens (1986) to your favorites" in text
        assert "There is no button 9; choose 1–2." in text
        assert "Removed Aliens (1986)" in text
        assert await store.favorites(0) == []
        assert "/like matrix" not in text  # /quit ended the session
    finally:
        await store.close()


async def test_a_number_without_buttons_is_a_title(tmp_path: Path) -> None:
    store = await FavoritesStore.open(f"sqlite+aiosqlite:///{tmp_path / 'c.sqlite3'}")
    try:
        out = io.StringIO()
        console = Console(MovieBot(FakeRecommender(), FakeTitles(), store), out)
        await console.handle("/help")
        await console.handle("1984")
        assert "couldn't find “1984”" in out.getvalue()
    finally:
        await store.close()


# ---------------------------------------------------------------------------------------------
# Issue 9's transcript: the chat teaches the bot (real ml-latest-small model, in-process console)

ISSUE9_LIKES = ["toy story", "finding nemo", "shrek", "the lion king 1994", "aladdin 1992"]
ENTRY = re.compile(r"^(\d+)\. (.*?)(?: <https?://[^>]+>)?(?: · (.*))?$")


class CheckedBot:
    """Wraps a MovieBot: every reply it gives is checked as Telegram would (HTML, limits)."""

    def __init__(self, inner: MovieBot) -> None:
        self.inner = inner
        self.count = 0

    def _check(self, replies: tuple[Any, ...]) -> tuple[Any, ...]:
        from tests.emulator import render_text

        for reply in replies:
            render_text(reply.text, "HTML", None)  # raises on invalid Telegram HTML
            assert texts.utf16_len(reply.text) <= 4096
            for row in reply.buttons:
                for button in row:
                    assert button.data is None or len(button.data.encode()) <= 64
            self.count += 1
        return replies

    async def command(self, *args: Any, **kw: Any) -> Any:
        return self._check(await self.inner.command(*args, **kw))

    async def text(self, *args: Any, **kw: Any) -> Any:
        return self._check(await self.inner.text(*args, **kw))

    async def button(self, *args: Any, **kw: Any) -> Any:
        answer = await self.inner.button(*args, **kw)
        self._check(answer.replies)
        return answer


def entries(block: list[str]) -> list[tuple[str, str, str]]:
    """(number, title, genres) of each movie of a list."""
    return [m.groups("") for line in block if (m := ENTRY.match(line))]  # type: ignore[misc]


def button_number(block: list[str], label: str) -> str:
    """The number the console gave the button labelled ``label``."""
    for line in block:
        if m := re.search(rf"\[(\d+)\] {re.escape(label)}(?:\s{{2,}}|$)", line):
            return m.group(1)
    raise AssertionError(f"no button {label!r} in {block}")


async def run_console(console: Console, out: io.StringIO, line: str) -> list[str]:
    start = len(out.getvalue())
    await console.handle(line)
    return out.getvalue()[start:].splitlines()


@pytest.mark.slow
async def test_issue9_transcript(
    recommender: Any, title_index: Any, sqlite_store: FavoritesStore
) -> None:
    out = io.StringIO()
    checked = CheckedBot(MovieBot(recommender, title_index, sqlite_store))
    console = Console(checked, out, chat_id=9)  # type: ignore[arg-type]
    for query in ISSUE9_LIKES:
        assert (await run_console(console, out, f"/like {query}"))[0].startswith("Added ")
    first = await run_console(console, out, "/recommend")
    listed = entries(first)
    assert len(listed) == 10
    one, two = listed[0][1], listed[1][1]

    pressed = await run_console(console, out, button_number(first, "👎"))  # 👎 on #1
    assert pressed[0].startswith("Not for me: ")
    assert "👎 not for me" in "\n".join(pressed)
    assert entries(pressed) == listed  # the same message, edited in place
    seen = await run_console(console, out, button_number(pressed, "👁"))  # 👁 on #2
    assert seen[0].startswith("Seen: ")
    assert "👁 seen" in "\n".join(seen)
    assert "2. ↩ Undo" in "\n".join(seen)

    again = entries(await run_console(console, out, "/recommend"))
    titles_again = [t for _, t, _ in again]
    assert len(again) == 10
    assert one not in titles_again
    assert two not in titles_again

    assert console.buttons[-1].label == "More ▶"
    more = await run_console(console, out, str(len(console.buttons)))
    more_titles = [t for _, t, _ in entries(more)]
    assert [n for n, _, _ in entries(more)] == [str(i) for i in range(11, 21)]
    assert not set(more_titles) & set(titles_again)  # never repeats the current list
    assert one not in more_titles
    assert two not in more_titles

    comedy = await run_console(console, out, "/recommend comedy")
    assert "Filter: comedy" in comedy
    assert len(entries(comedy)) == 10
    assert all("Comedy" in genres.split(", ") for _, _, genres in entries(comedy))

    nineties = await run_console(console, out, "/recommend 90s")
    assert "Filter: 1990s" in nineties
    years = [int(re.search(r"\((\d{4})\)$", t).group(1)) for _, t, _ in entries(nineties)]  # type: ignore[union-attr]
    assert len(years) == 10
    assert all(1990 <= y <= 1999 for y in years)

    gems = await run_console(console, out, "/recommend gems")
    assert "discover" in gems[0]
    assert len(entries(gems)) == 10

    not_understood = await run_console(console, out, "/recommend 5")
    assert not_understood[0] == "I didn't understand “5”. /recommend understands:"

    disliked = await run_console(console, out, "/dislike titanic 1997")
    assert (
        disliked[0]
        == "Noted: Titanic (1997) is not for you. I won't recommend it, and it steers your picks."
    )
    listing = await run_console(console, out, "/favorites dislikes")
    assert "Titanic (1997)" in "\n".join(listing)
    undone = await run_console(console, out, button_number(listing, "↩ Titanic (1997)"))
    assert undone[0] == "OK, Titanic (1997) can be recommended again."

    marked = await run_console(console, out, "/seen the matrix")
    assert marked[0].startswith("Noted: you've seen Matrix, The (1999)")
    undo = await run_console(console, out, button_number(marked, "↩ Undo"))
    assert undo[0] == "OK, Matrix, The (1999) can be recommended again."
    seen_list = await run_console(console, out, "/favorites seen")
    assert "Matrix" not in "\n".join(seen_list)
    assert two in "\n".join(seen_list)  # the 👁 press is still there

    state = await sqlite_store.state(9)
    assert len(state.favorites) == 5
    assert len(state.dislikes) == 1
    assert len(state.seen) == 1
    assert checked.count >= 15


@pytest.mark.slow
async def test_issue9_feedback_steers_and_gems_are_lesser_known(
    recommender: Any, title_index: Any, sqlite_store: FavoritesStore
) -> None:
    out = io.StringIO()
    console = Console(MovieBot(recommender, title_index, sqlite_store), out, chat_id=10)
    for query in ISSUE9_LIKES:
        await run_console(console, out, f"/like {query}")
    first = [t for _, t, _ in entries(await run_console(console, out, "/recommend"))]
    await run_console(console, out, "2")  # 👎 on #1
    await run_console(console, out, "5")  # 👁 on #2 (row 1 has two buttons now)
    again = [t for _, t, _ in entries(await run_console(console, out, "/recommend"))]
    # beyond dropping the two, the dislike changed the ranking of the rest
    assert first[2:][: len(again) - 2] != again[: len(again) - 2]

    gems = entries(await run_console(console, out, "/recommend gems"))
    # outside the most-liked fifth of the training movies, ties at the mark counted inside
    support = dict(
        zip(recommender.items.item_ids.tolist(), recommender.support.tolist(), strict=True)
    )
    likes = sorted(support.values(), reverse=True)
    mark = likes[-(-len(likes) // 5) - 1]
    display = {texts.display_title(t): m for m, t in recommender.catalog["title"].items()}
    outside = [t for _, t, _ in gems if support.get(display.get(t, -1), mark) < mark]
    assert len(outside) >= len(gems) / 2


async def test_import_and_export_in_the_console(
    recommender: Any, title_index: Any, tmp_path: Path
) -> None:
    store = await FavoritesStore.open(f"sqlite+aiosqlite:///{tmp_path / 'c.sqlite3'}")
    try:
        (tmp_path / "ratings.csv").write_text(
            "Date,Name,Year,Letterboxd URI,Rating\n2020-01-01,The Godfather,1972,u,5\n",
            encoding="utf-8",
        )
        out = io.StringIO()
        console = Console(MovieBot(recommender, title_index, store), out, folder=tmp_path)
        await console.run(io.StringIO("/import ratings.csv\n/import nope.csv\n/export\n/export\n"))
        text = out.getvalue()
        assert "Imported one movie (1 favorites) from ratings.csv." in text
        assert "[1] ↩ Undo import" in text
        assert "Cannot read nope.csv" in text
        assert f"Saved {tmp_path / 'moviebot-lists.csv'}" in text
        assert f"Saved {tmp_path / 'moviebot-lists-2.csv'}" in text
        saved = (tmp_path / "moviebot-lists.csv").read_text(encoding="utf-8")
        assert "tt0068646" in saved
        assert await store.favorites(0) == [858]
    finally:
        await store.close()
