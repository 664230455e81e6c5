"""bot.settings and .env.example: every setting documented, defaults and environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def test_env_example_documents_every_setting() -> None:
    text = (REPO / ".env.example").read_text()
    names = set(re.findall(r"^#?\s*(MOVIEBOT_[A-Z_]+)=", text, flags=re.MULTILINE))
    expected = {f"MOVIEBOT_{name.upper()}" for name in Settings.model_fields}
    assert names == expected
    lines = text.splitlines()
    for i, line in enumerate(lines):  # one comment right above each setting
        if re.match(r"^#?\s*MOVIEBOT_", line):
            assert lines[i - 1].startswith("# "), line


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env
    for key in list(__import__("os").environ):
        if key.startswith("MOVIEBOT_"):
            monkeypatch.delenv(key)
    default = Settings()
    assert default.telegram_token is None
    assert default.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert default.resolved_model_path == Path("data/models/ml-latest-small")
    assert default.flood_commands == 20
    monkeypatch.setenv("MOVIEBOT_TELEGRAM_TOKEN", "123:s3cr3tvalue")
    monkeypatch.setenv("MOVIEBOT_FLOOD_COMMANDS", "5")
    monkeypatch.setenv("MOVIEBOT_DATABASE_URL", "postgresql://u:p@h/db")
    configured = Settings()
    assert configured.telegram_token is not None
    assert configured.telegram_token.get_secret_value() == "123:s3cr3tvalue"
    assert "s3cr3tvalue" not in repr(configured)
    assert configured.flood_commands == 5
    assert configured.resolved_database_url == "postgresql://u:p@h/db"


def test_dotenv_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MOVIEBOT_POLLING_TIMEOUT", raising=False)
    (tmp_path / ".env").write_text("MOVIEBOT_POLLING_TIMEOUT=3\n")
    assert Settings().polling_timeout == 3


def test_reliability_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for key in list(__import__("os").environ):
        if key.startswith("MOVIEBOT_"):
            monkeypatch.delenv(key)
    default = Settings()
    assert default.webhook_listen == "127.0.0.1"  # the plain-HTTP server is for a local proxy
    assert default.log_update_contents is False
    assert default.database_wait_seconds == 60
    assert default.bot_token == ""
    monkeypatch.setenv("MOVIEBOT_TELEGRAM_TOKEN", "123:s3cr3tvalue\n")
    monkeypatch.setenv("MOVIEBOT_LOG_UPDATE_CONTENTS", "true")
    configured = Settings()
    assert configured.bot_token == "123:s3cr3tvalue"
    assert configured.secret_values == ["123:s3cr3tvalue\n"]
    assert configured.log_update_contents is True


# ---------------------------------------------------------------------------------------------
# The CLI boundary: a domain error is one line on stderr, never a traceback


def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **settings: str) -> None:
    monkeypatch.chdir(tmp_path)
    for key in list(__import__("os").environ):
        if key.startswith("MOVIEBOT_"):
            monkeypatch.delenv(key)
    for key, value in settings.items():
        monkeypatch.setenv(f"MOVIEBOT_{key.upper()}", value)


@pytest.mark.slow
def test_train_onto_an_existing_file_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    movielens_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    existing = tmp_path / "model.txt"
    existing.write_text("not a model")
    _clean_env(monkeypatch, tmp_path, movielens_dir=str(movielens_dir), log_level="WARNING")
    assert main(["train", "--out", str(existing)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("moviebot: ")
    assert str(existing) in err[-1]
    assert "Traceback" not in "\n".join(err)
    assert existing.read_text() == "not a model"  # nothing lost


@pytest.mark.parametrize("url", ["mysql://user@host/db", "::not a url::"])
def test_a_bad_database_url_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    trained_model_path: Path,
    capsys: pytest.CaptureFixture[str],
    url: str,
) -> None:
    from bot.cli import main

    _clean_env(
        monkeypatch,
        tmp_path,
        model_path=str(trained_model_path),
        dataset="ml-latest-small",
        database_url=url,
        log_level="WARNING",
    )
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(""))
    assert main(["console"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("moviebot: ")
    assert "MOVIEBOT_DATABASE_URL is invalid" in err
    assert len(err.splitlines()) == 1
