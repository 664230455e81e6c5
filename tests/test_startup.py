"""Start-up: the database is waited for (bounded, logged backoff); configuration errors are one
line each, without a traceback and without the password."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.app_cli import open_store
from bot.settings import Settings
from tests.webhookproc import free_port

PASSWORD = "hunter22-Secret"


def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, wait: float) -> Settings:
    monkeypatch.chdir(tmp_path)  # no developer .env
    for key in list(__import__("os").environ):
        if key.startswith("MOVIEBOT_"):
            monkeypatch.delenv(key)
    return Settings(database_url=url, database_wait_seconds=wait)  # type: ignore[arg-type]


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert PASSWORD not in err
    return lines[0]


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (f"not a url :{PASSWORD}@", "is not a database URL"),
        (f"mysql://u:{PASSWORD}@db.invalid/x", "must be sqlite+aiosqlite"),
        (f"postgresql+asyncpg://u:{PASSWORD}@127.0.0.1:notaport/x", "is invalid"),
    ],
)
async def test_configuration_errors_are_one_line(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    url: str,
    said: str,
) -> None:
    assert await open_store(settings(monkeypatch, tmp_path, url, 30)) is None
    line = one_line(capsys)
    assert line.startswith("moviebot: cannot open the favorites database")
    assert said in line


async def test_unreachable_database_is_retried_then_given_up(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"postgresql+asyncpg://u:{PASSWORD}@127.0.0.1:{free_port()}/x"
    with caplog.at_level(logging.WARNING, logger="bot.app_cli"):
        assert await open_store(settings(monkeypatch, tmp_path, url, 1.6)) is None
    attempts = [r.getMessage() for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(attempts) >= 2, attempts
    assert all(PASSWORD not in a for a in attempts)
    assert "attempt 1, next in 0.5 s" in attempts[0]
    line = one_line(capsys)
    assert "gave up after" in line
    assert "MOVIEBOT_DATABASE_WAIT_SECONDS" in line


@pytest.mark.postgres
async def test_wrong_password_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    postgres_url: str,
) -> None:
    url = make_url(postgres_url).set(password=PASSWORD).render_as_string(hide_password=False)
    assert await open_store(settings(monkeypatch, tmp_path, url, 30)) is None
    assert "refused the login" in one_line(capsys)


@pytest.mark.postgres
async def test_start_waits_for_the_database(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    postgres_control: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if postgres_control.running():
        await asyncio.to_thread(postgres_control.stop)
    try:
        config = settings(monkeypatch, tmp_path, postgres_control.url, 60)
        with caplog.at_level(logging.WARNING, logger="bot.app_cli"):
            opening = asyncio.create_task(open_store(config))
            await asyncio.sleep(1.5)
            assert not opening.done()
            await asyncio.to_thread(postgres_control.start)
            store = await asyncio.wait_for(opening, 30)
        assert store is not None
        try:
            assert await store.favorites(1) == []
        finally:
            await store.close()
        assert any("cannot be reached" in r.getMessage() for r in caplog.records)
    finally:
        if not postgres_control.running():
            await asyncio.to_thread(postgres_control.start)
