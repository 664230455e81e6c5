"""Saving and loading model artifacts: round trip, and a clear error for every broken artifact."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.artifact import (
    CATALOG_FILE,
    FORMAT_VERSION,
    METADATA_FILE,
    MODEL_FILE,
    ArtifactError,
    load_artifact,
    read_metadata,
    save_artifact,
)
from recsys.engine import Recommender, load_or_train
from recsys.movielens import DataPaths, get_release, load_catalog, load_ratings


@pytest.fixture
def model_copy(trained_model_path: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "model"
    shutil.copytree(trained_model_path, dest)
    return dest


def test_round_trip_keeps_factors_catalog_and_metadata(
    trained_model_path: Path, movielens_dir: Path
) -> None:
    artifact = load_artifact(trained_model_path)
    folder = movielens_dir / "ml-latest-small"
    catalog = load_catalog(folder, "ml-latest-small", load_ratings(folder, "ml-latest-small"))
    pd.testing.assert_frame_equal(artifact.catalog, catalog)
    meta = artifact.metadata
    assert meta["release"] == "ml-latest-small"
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["checksums"]["ratings.csv"] == (
        "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646"
    )
    assert meta["config"]["factors"] == artifact.item_factors.shape[1]
    assert set(meta["libraries"]) >= {"implicit", "numpy"}
    assert meta["created"]
    assert artifact.item_factors.dtype == np.float32
    assert artifact.item_factors.shape[0] == artifact.item_ids.size == artifact.support.size
    assert (artifact.support >= 1).all()


def test_npz_files_load_without_pickle(trained_model_path: Path) -> None:
    for name in (MODEL_FILE, CATALOG_FILE):
        with np.load(trained_model_path / name, allow_pickle=False) as npz:
            for key in npz.files:
                assert npz[key].dtype != object


def test_save_replaces_an_existing_artifact(trained_model_path: Path, tmp_path: Path) -> None:
    artifact = load_artifact(trained_model_path)
    dest = tmp_path / "m"
    save_artifact(artifact, dest)
    (dest / "stray.txt").write_text("old")
    save_artifact(artifact, dest)
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [MODEL_FILE, CATALOG_FILE, METADATA_FILE]
    )
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folders left


def test_missing_artifact(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"No model at .*moviebot train"):
        load_artifact(tmp_path / "absent")


def test_truncated_factors(model_copy: Path) -> None:
    data = (model_copy / MODEL_FILE).read_bytes()
    (model_copy / MODEL_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match=r"truncated.*moviebot train --dataset ml-latest-small"):
        Recommender.load(model_copy)
    with pytest.raises(ArtifactError, match="corrupt"):
        load_artifact(model_copy, verify=False)


def test_missing_part(model_copy: Path) -> None:
    (model_copy / CATALOG_FILE).unlink()
    with pytest.raises(ArtifactError, match=f"{CATALOG_FILE} is missing"):
        Recommender.load(model_copy)
    (model_copy / METADATA_FILE).unlink()
    with pytest.raises(ArtifactError, match="not a complete model"):
        Recommender.load(model_copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": 999}, "format 999"),
        ({"files": None}, "lists no files"),
    ],
)
def test_incompatible_metadata(model_copy: Path, change: dict[str, object], message: str) -> None:
    meta = read_metadata(model_copy)
    meta.update(change)
    (model_copy / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=message):
        Recommender.load(model_copy)


def test_unreadable_metadata(model_copy: Path) -> None:
    (model_copy / METADATA_FILE).write_text('{"release": ')
    with pytest.raises(ArtifactError, match="unreadable"):
        Recommender.load(model_copy)


def test_factor_count_disagreeing_with_metadata(model_copy: Path) -> None:
    meta = read_metadata(model_copy)
    meta["config"]["factors"] += 1
    (model_copy / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="inconsistent"):
        Recommender.load(model_copy)


@pytest.mark.slow
def test_load_or_train_replaces_a_broken_or_foreign_artifact(
    model_copy: Path, movielens_dir: Path, tmp_path: Path
) -> None:
    paths = DataPaths(data_dir=tmp_path / "data", movielens_dir=movielens_dir)
    (model_copy / MODEL_FILE).write_bytes(b"garbage")
    rec = load_or_train(paths, "ml-latest-small", model_copy, progress=False)
    assert rec.knows(1)
    assert load_artifact(model_copy).metadata["release"] == "ml-latest-small"
    # an ml-latest-small model where ml-100k is configured is retrained on ml-100k
    rec = load_or_train(paths, "ml-100k", model_copy, progress=False)
    assert rec.metadata["release"] == "ml-100k"
    assert rec.catalog.shape[0] == 1682


@pytest.mark.slow
def test_load_or_train_trains_a_missing_model(movielens_dir: Path, tmp_path: Path) -> None:
    paths = DataPaths(data_dir=tmp_path / "data", movielens_dir=movielens_dir)
    target = tmp_path / "models" / "ml-100k"
    rec = load_or_train(paths, "ml-100k", target, progress=False)
    assert (target / METADATA_FILE).is_file()
    assert rec.metadata["release"] == get_release("ml-100k").name


# --------------------------------------------------------------------------------------------
# The similar-movies arrays (series codes, user-tag vectors): optional, validated


def _rewrite_model(folder: Path, change: Callable[[dict[str, np.ndarray]], None]) -> None:
    """Rewrite model.npz through ``change`` and record its new checksum (a consistent edit)."""
    with np.load(folder / MODEL_FILE, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    np.savez(folder / MODEL_FILE, allow_pickle=False, **arrays)
    meta = read_metadata(folder)
    meta["files"][MODEL_FILE] = hashlib.sha256((folder / MODEL_FILE).read_bytes()).hexdigest()
    (folder / METADATA_FILE).write_text(json.dumps(meta))


def test_similar_arrays_round_trip(trained_model_path: Path, tmp_path: Path) -> None:
    artifact = load_artifact(trained_model_path)
    n = artifact.item_ids.size
    assert artifact.series is not None
    assert artifact.series.shape == (n,)
    assert artifact.tag_vectors is not None
    assert artifact.tag_vectors.shape[0] == n
    assert artifact.tag_vectors.nnz > 1000  # ml-latest-small's tags.csv
    copy = load_artifact(save_artifact(artifact, tmp_path / "copy"))
    assert copy.series is not None
    assert copy.tag_vectors is not None
    np.testing.assert_array_equal(copy.series, artifact.series)
    assert (copy.tag_vectors != artifact.tag_vectors).nnz == 0


def test_an_artifact_without_similar_arrays_still_loads(model_copy: Path) -> None:
    def drop(arrays: dict[str, np.ndarray]) -> None:
        for key in [k for k in arrays if k == "series" or k.startswith("tags_")]:
            del arrays[key]

    _rewrite_model(model_copy, drop)
    artifact = load_artifact(model_copy)
    assert artifact.series is None
    assert artifact.tag_vectors is None
    rec = Recommender.load(model_copy)  # series read from the titles, no tags
    first = [s.title for s in rec.similar(2571, 2)]
    assert set(first) == {"Matrix Reloaded, The (2003)", "Matrix Revolutions, The (2003)"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda a: a.update(tags_indices=a["tags_indices"] + 10**6), "tag vectors are incons"),
        (lambda a: a.pop("tags_indptr"), "tag vectors are incomplete"),
        (lambda a: a.update(tags_shape=np.array([1, 1])), "tag vectors are inconsistent"),
        (lambda a: a.update(series=a["series"][:-1]), "series codes"),
        (lambda a: a.update(series=a["series"].astype(np.float32)), "series codes"),
    ],
)
def test_inconsistent_similar_arrays(
    model_copy: Path, edit: Callable[[dict[str, np.ndarray]], object], message: str
) -> None:
    def change(arrays: dict[str, np.ndarray]) -> None:
        edit(arrays)

    _rewrite_model(model_copy, change)
    with pytest.raises(ArtifactError, match=rf"{message}.*moviebot train --dataset ml-latest"):
        Recommender.load(model_copy)


# --------------------------------------------------------------------------------------------
# The algorithm an artifact holds: recorded, defaulted for older artifacts, validated


def test_an_artifact_records_its_algorithm_and_older_ones_hold_als(model_copy: Path) -> None:
    meta = read_metadata(model_copy)
    assert meta["algorithm"] == "als"
    del meta["algorithm"]  # an artifact from before the field
    (model_copy / METADATA_FILE).write_text(json.dumps(meta))
    artifact = load_artifact(model_copy)
    assert artifact.algorithm == "als"
    assert artifact.ease_weights is None
    assert Recommender(artifact).recommend([1], 3).items


def test_an_unknown_algorithm_is_refused_with_what_to_do(model_copy: Path) -> None:
    meta = read_metadata(model_copy)
    meta["algorithm"] = "slim"
    (model_copy / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"algorithm 'slim'.*moviebot train"):
        Recommender.load(model_copy)
