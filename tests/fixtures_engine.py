"""Fixtures owned by the engine part (see docs/architecture.md).

``trained_model_path`` trains ml-latest-small once per test session (with its tuned defaults) into
a temporary folder; ``recommender`` is that artifact loaded. Other parts use both by name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.artifact import save_artifact
from recsys.engine import Recommender, train
from recsys.movielens import DataPaths

ENGINE_DATASET = "ml-latest-small"


@pytest.fixture(scope="session")
def trained_model_path(movielens_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ml-latest-small model artifact folder, trained once per session (read-only)."""
    root = tmp_path_factory.mktemp("engine-model")
    paths = DataPaths(data_dir=root / "data", movielens_dir=movielens_dir)
    artifact = train(paths, ENGINE_DATASET, progress=False)
    return save_artifact(artifact, root / "models" / ENGINE_DATASET)


@pytest.fixture(scope="session")
def recommender(trained_model_path: Path) -> Recommender:
    """The session's ml-latest-small model, loaded (shared: never mutate it)."""
    return Recommender.load(trained_model_path)
