"""Fixtures owned by the end-to-end part (see docs/e2e.md).

``emu``
    A fresh Bot API emulator on 127.0.0.1 for each test (modules that share one bot process across
    their tests override it with a module-scoped one).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import FavoritesStore
from tests.botproc import BotConfig, BotProcess
from tests.emulator import Emulator, fake_token


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A Bot API emulator with a fake token of the real shape, stopped after the test."""
    with Emulator(fake_token()) as emulator:
        yield emulator


def serve_bot(
    emu: Emulator,
    folder: Path,
    *,
    model_path: Path,
    movielens_dir: Path,
    database_url: str,
    extra: dict[str, str] | None = None,
) -> Iterator[BotProcess]:
    """The real ``moviebot run`` process for a module's tests (a fixture body); always stopped."""
    config = BotConfig(
        model_path=model_path,
        movielens_dir=movielens_dir,
        data_dir=folder / "data",
        database_url=database_url,
        extra=extra or {},
    )
    process = BotProcess(emu, config, folder / "bot.log")
    try:
        process.start()
        yield process
    finally:
        process.close()


async def stored_favorites(database_url: str, chat_id: int) -> list[int]:
    """A chat's favorites as the database holds them (read with a store of its own)."""
    store = await FavoritesStore.open(database_url)
    try:
        return await store.favorites(chat_id)
    finally:
        await store.close()
