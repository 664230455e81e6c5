"""``moviebot recommend`` and ``moviebot similar`` on the session's ml-latest-small model."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest

from bot.cli import main
from recsys.engine import FilterError
from recsys.engine_cli import config_from_args, parse_years, register

TOY_STORY, TOY_STORY_2, MATRIX = 1, 3114, 2571


@pytest.fixture
def cli(
    trained_model_path: Path,
    movielens_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settings that point the CLI at the session's model (nothing is trained)."""
    monkeypatch.chdir(tmp_path)  # no .env of the developer
    monkeypatch.setenv("MOVIEBOT_DATASET", "ml-latest-small")
    monkeypatch.setenv("MOVIEBOT_MODEL_PATH", str(trained_model_path))
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOVIEBOT_MOVIELENS_DIR", str(movielens_dir))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1990-1999", (1990, 1999)),
        ("1990s", (1990, 1999)),
        ("1995", (1995, 1995)),
        ("1995-", (1995, None)),
        ("-1980", (None, 1980)),
    ],
)
def test_parse_years(text: str, expected: tuple[int | None, int | None]) -> None:
    assert parse_years(text) == expected


@pytest.mark.parametrize("text", ["", "-", "19x", "1995s", "1990-19x9", "nineties"])
def test_parse_years_rejects_nonsense(text: str) -> None:
    with pytest.raises(FilterError, match=r"year range|decade"):
        parse_years(text)


@pytest.mark.usefixtures("cli")
def test_recommend_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "recommend",
            "--json",
            "toy story",
            str(MATRIX),
            "--dislike",
            str(TOY_STORY_2),
            "--seen",
            "1196",
            "--genre",
            "comedy",
            "--years",
            "1990s",
        ]
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert len(out) == 1
    result = json.loads(out[0])
    assert result["favorites"] == [TOY_STORY, MATRIX]
    items = result["items"]
    assert len(items) == 10
    assert set(items[0]) == {"movie_id", "title", "score", "because"}
    ids = {i["movie_id"] for i in items}
    assert not ids & {TOY_STORY, MATRIX, TOY_STORY_2, 1196}
    assert all(set(i["because"]) <= {TOY_STORY, MATRIX} for i in items)
    assert all("(199" in i["title"] for i in items)


@pytest.mark.usefixtures("cli")
def test_similar_json_one_line_per_movie(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["similar", "--json", "-n", "5", "matrix", str(TOY_STORY)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["query"], x["movie_id"]) for x in lines] == [("matrix", MATRIX), ("1", TOY_STORY)]
    assert lines[0]["title"] == "Matrix, The (1999)"
    assert len(lines[1]["similar"]) == 5
    assert set(lines[1]["similar"][0]) == {"movie_id", "title", "score"}
    assert TOY_STORY_2 in {s["movie_id"] for s in lines[1]["similar"]}


@pytest.mark.usefixtures("cli")
def test_titles_reads_digits_as_a_title(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["similar", "--json", "--titles", "300"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "300 (2007)"


@pytest.mark.usefixtures("cli")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["recommend", "1", "--genre", "Bollywood"], "Unknown genre Bollywood; known genres:"),
        (["recommend", "1", "--years", "2000-1990"], "is empty"),
        (["recommend", "1", "--years", "soon"], "not a year range"),
        (["recommend", "qqqzzzxxyy"], "no movie matches"),
        (["recommend", "99999999"], "no movie has the movieId 99999999"),
        (["recommend", "1", "--dislike", "99999999"], "no movie has the movieId"),
        (["recommend", "-n", "0", "1"], "-n must be at least 1"),
        (["similar", "99999999"], "no movie has the movieId"),
    ],
)
def test_domain_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("moviebot: ")
    assert message in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.usefixtures("cli")
def test_recommend_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "-n", "3", "--discover", str(TOY_STORY)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("  1. ")
    assert "because of Toy Story (1995)" in lines[0]


def test_train_algorithm_ease_saves_an_ease_model_the_cli_serves(
    movielens_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "ease"
    monkeypatch.setenv("MOVIEBOT_DATASET", "ml-latest-small")
    monkeypatch.setenv("MOVIEBOT_MODEL_PATH", str(out))
    monkeypatch.setenv("MOVIEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOVIEBOT_MOVIELENS_DIR", str(movielens_dir))
    argv = ["train", "--algorithm", "ease", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    assert "It ranks with EASE item-item weights." in capsys.readouterr().out
    assert json.loads((out / "metadata.json").read_text())["algorithm"] == "ease"
    assert main(["recommend", "--json", str(TOY_STORY), str(TOY_STORY_2)]) == 0
    items = json.loads(capsys.readouterr().out)["items"]
    assert len(items) == 10
    assert not {TOY_STORY, TOY_STORY_2} & {i["movie_id"] for i in items}


def test_every_config_field_is_an_option_derived_from_train_config() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "train",
            "--factors",
            "32",
            "--weighting",
            "plain",
            "--fold-in-regularization",
            "5",
            "--discover-gem-share",
            "0.25",
            "--dislike-avoid-kind",
            "blend",
        ]
    )
    config = config_from_args(args, "ml-latest-small")
    assert (config.factors, config.scheme, config.fold_in_regularization) == (32, "plain", 5.0)
    assert (config.discover_gem_share, config.dislike_avoid_kind) == (0.25, "blend")
    untouched = config_from_args(parser.parse_args(["evaluate"]), "ml-latest-small")
    from recsys.defaults import TrainConfig, default_config

    assert untouched == default_config("ml-latest-small")
    for field in dataclasses.fields(TrainConfig):
        assert hasattr(args, field.name), f"no option for TrainConfig.{field.name}"
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--weighting", "tfidf"])  # choices come along
