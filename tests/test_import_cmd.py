"""``moviebot import --chat ID FILE`` writes into the configured store (the real process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_console import moviebot

LETTERBOXD = (
    "Date,Name,Year,Letterboxd URI,Rating\n"
    "2020-01-01,The Godfather,1972,https://boxd.it/a,5\n"
    "2020-01-02,Toy Story,1995,https://boxd.it/b,1\n"
    "2020-01-05,Parasite,2019,https://boxd.it/e,4.5\n"
)


@pytest.mark.slow
def test_the_command_imports_into_a_chat_and_the_console_sees_it(
    movielens_dir: Path, trained_model_path: Path, tmp_path: Path
) -> None:
    export = tmp_path / "ratings.csv"
    export.write_text(LETTERBOXD, encoding="utf-8")
    where = {"movielens_dir": movielens_dir, "model": trained_model_path, "tmp_path": tmp_path}
    chat = "0"  # the console's chat (MOVIEBOT_CONSOLE_CHAT_ID's default)

    done = moviebot(f"import --chat {chat} {export}", "", **where)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Imported 2 movies (1 favorites, 1 not for me) from ratings.csv.")
    assert "Not in the catalog (1):\n• Parasite (2019)" in done.stdout

    again = moviebot(f"import --chat {chat} {export}", "", **where)
    assert again.returncode == 0, again.stderr
    assert "Already in your lists: 2." in again.stdout

    listed = moviebot("console", "/favorites\n/favorites dislikes\n", **where)
    assert "Godfather" in listed.stdout
    assert "Toy Story" in listed.stdout

    for args, status, says in [
        (f"import {export}", 2, "--chat ID"),
        (f"import --chat {chat} --json {export}", 2, "--json goes with --dry-run"),
        (f"import --chat {chat} {tmp_path / 'nope.csv'}", 1, "cannot read"),
    ]:
        done = moviebot(args, "", **where)
        assert done.returncode == status, (args, done.stdout, done.stderr)
        assert says in done.stderr
    notes = tmp_path / "notes.csv"
    notes.write_text("a,b\n1,2\n", encoding="utf-8")
    refused = moviebot(f"import --chat {chat} {notes}", "", **where)
    assert refused.returncode == 1
    assert "not a Letterboxd or IMDb export" in refused.stdout
