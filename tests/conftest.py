"""Shared fixtures: where the MovieLens copies are, and a data folder per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]


def _movielens_dir() -> Path:
    configured = os.environ.get("MOVIEBOT_MOVIELENS_DIR")
    if configured:
        return Path(configured)
    return REPO.parent / "shared" / "data" / "movielens"


MOVIELENS_DIR = _movielens_dir()


@pytest.fixture(scope="session")
def movielens_dir() -> Path:
    """The folder holding extracted MovieLens releases (read-only)."""
    if not (MOVIELENS_DIR / "ml-latest-small" / "ratings.csv").is_file():
        pytest.fail(f"MovieLens copies not found in {MOVIELENS_DIR}; set MOVIEBOT_MOVIELENS_DIR")
    return MOVIELENS_DIR


# Each part keeps its shared fixtures in its own plugin module, so parts never edit one file.
pytest_plugins = [
    "tests.fixtures_engine",
    "tests.fixtures_store",
    "tests.fixtures_bot",
    "tests.fixtures_e2e",
]
