"""``moviebot console``: the issue's transcript on the real ml-latest-small model, and the console's
own rendering (numbered buttons, plain text) on fakes."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

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
    """Run ``moviebot COMMAND`` in an empty folder with only these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOVIEBOT_")}
    env.update(
        MOVIEBOT_MOVIELENS_DIR=str(movielens_dir),
        MOVIEBOT_DATA_DIR=str(tmp_path / "data"),
        MOVIEBOT_MODEL_PATH=str(model),
        OPENBLAS_NUM_THREADS="1",
        PYTHONPATH=str(REPO),
    )
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", command],
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
    assert all(any(t in r for t in favorite_titles) for r in reasons)
    assert not any(t in e for t in favorite_titles for e in entries)

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
