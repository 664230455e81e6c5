"""Model artifacts: a folder with the factors, the catalog and JSON metadata — no pickle anywhere.

Layout of an artifact folder::

    model.npz       item_factors (float32), item_ids (movieId per column), support (likes per
                    column in the training matrix), idf (BM25 weights per column),
                    similar_factors when similar movies have their own factors, and, for similar
                    movies, optionally series (series code per column, -1: none) and the user-tag
                    vectors as a CSR matrix (tags_data, tags_indices, tags_indptr, tags_shape);
                    an EASE model adds ease_weights (items × items float32); optionally
                    the dislike statistics (dislike_prior, dislike_indptr, dislike_indices,
                    dislike_knn, dislike_codis, dislike_favdis: recsys.dislike) and the
                    joint like/dislike model's joint_factors (2 × items rows: recsys.joint)
    catalog.npz     the catalog as one array per column (fixed-width unicode, ints and masks)
    metadata.json   format version, algorithm ("als" or "ease"; absent: "als"), release,
                    file checksums of the ratings it was trained on,
                    configuration, weighting, evaluation figures, library versions, time, and
                    the SHA-256 of both npz files

:func:`save_artifact` writes into a temporary folder next to the destination and renames it into
place, so an interrupted save never leaves something that looks complete. :func:`load_artifact`
checks every part and raises :class:`ArtifactError` saying what to do.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from recsys.dislike import DislikeStats
from recsys.movielens import file_digest
from recsys.scorer import ALGORITHMS

FORMAT_VERSION = 1
MODEL_FILE = "model.npz"
CATALOG_FILE = "catalog.npz"
METADATA_FILE = "metadata.json"

_STR_COLUMNS = ("title", "name", "genres")
_INT_COLUMNS = ("year", "imdb_id", "tmdb_id")


# Every artifact carries ALS item factors (similar movies and the dislike resemblance use them);
# an "ease" one also holds the EASE weights that rank its recommendations.


class ArtifactError(RuntimeError):
    """A model artifact is missing, truncated or incompatible; the message says what to do."""


@dataclass(frozen=True)
class ModelArtifact:
    """Everything a :class:`recsys.engine.Recommender` is built from."""

    item_factors: np.ndarray
    item_ids: np.ndarray
    support: np.ndarray
    idf: np.ndarray | None
    catalog: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)
    similar_factors: np.ndarray | None = None
    series: np.ndarray | None = None  # series code per column (-1: none), for similar movies
    tag_vectors: csr_matrix | None = None  # unit TF-IDF user-tag rows per column
    ease_weights: np.ndarray | None = None  # EASE item-item weights (algorithm "ease")
    dislike: DislikeStats | None = None  # dislike statistics (recsys.dislike), optional
    joint_factors: np.ndarray | None = None  # the joint like/dislike model (recsys.joint)

    @property
    def algorithm(self) -> str:
        """The scorer that ranks recommendations: ``"als"`` or ``"ease"``."""
        return algorithm_of(self.metadata)


def algorithm_of(metadata: dict[str, Any]) -> str:
    """The algorithm recorded in ``metadata`` (artifacts older than the field hold ALS)."""
    return str(metadata.get("algorithm") or "als")


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model depends on."""
    out: dict[str, str] = {}
    for name in ("implicit", "numpy", "scipy", "pandas"):
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


# --------------------------------------------------------------------------------------------
# Catalog as plain arrays


_SEP = "\x00"


def _encode_strings(values: Any) -> np.ndarray:
    """Strings as one NUL-separated UTF-8 byte array (compact, and no pickle)."""
    texts = [str(v) for v in values]
    if any(_SEP in t for t in texts):
        raise ValueError("a catalog string contains a NUL character")
    return np.frombuffer(_SEP.join(texts).encode("utf-8"), dtype=np.uint8)


def _decode_strings(blob: np.ndarray, n: int) -> np.ndarray:
    texts = np.asarray(blob, dtype=np.uint8).tobytes().decode("utf-8").split(_SEP) if n else []
    if len(texts) != n:
        raise ValueError(f"expected {n} strings, found {len(texts)}")
    out = np.empty(n, dtype=object)
    out[:] = texts
    return out


def catalog_to_arrays(catalog: pd.DataFrame) -> dict[str, np.ndarray]:
    """The catalog frame as plain numpy arrays (no object dtype, so no pickle)."""
    arrays: dict[str, np.ndarray] = {"movie_id": catalog.index.to_numpy(np.int64)}
    for col in _STR_COLUMNS:
        arrays[col] = _encode_strings(catalog[col].fillna(""))
    for col in _INT_COLUMNS:
        values = catalog[col].astype("Int64")
        arrays[col] = values.fillna(0).to_numpy(np.int64)
        arrays[f"{col}_na"] = values.isna().to_numpy(bool)
    search = catalog["imdb_search"]
    arrays["imdb_search"] = _encode_strings(search.where(search.notna(), ""))
    arrays["imdb_search_na"] = search.isna().to_numpy(bool)
    arrays["likes"] = catalog["likes"].to_numpy(np.int64)
    return arrays


def catalog_from_arrays(arrays: Any) -> pd.DataFrame:
    """Inverse of :func:`catalog_to_arrays`."""
    index = pd.Index(np.asarray(arrays["movie_id"], dtype=np.int32), name="movie_id")
    n = index.size
    data: dict[str, Any] = {col: _decode_strings(arrays[col], n) for col in _STR_COLUMNS}
    data["year"] = pd.array(np.asarray(arrays["year"]), dtype="Int32")
    data["year"][np.asarray(arrays["year_na"])] = pd.NA
    for col in ("imdb_id", "tmdb_id"):
        values = pd.array(np.asarray(arrays[col]), dtype="Int64")
        values[np.asarray(arrays[f"{col}_na"])] = pd.NA
        data[col] = values
    search = _decode_strings(arrays["imdb_search"], n)
    search[np.asarray(arrays["imdb_search_na"])] = None
    data["imdb_search"] = search
    data["likes"] = np.asarray(arrays["likes"], dtype=np.int64)
    frame = pd.DataFrame(data, index=index)
    return frame[["title", "name", "year", "genres", "imdb_id", "tmdb_id", "imdb_search", "likes"]]


# --------------------------------------------------------------------------------------------
# Save / load


def save_artifact(artifact: ModelArtifact, path: Path) -> Path:
    """Write ``artifact`` to the folder ``path`` atomically (replacing what was there)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
    try:
        model_arrays: dict[str, np.ndarray] = {
            "item_factors": np.ascontiguousarray(artifact.item_factors, dtype=np.float32),
            "item_ids": np.asarray(artifact.item_ids, dtype=np.int64),
            "support": np.asarray(artifact.support, dtype=np.int64),
        }
        if artifact.idf is not None:
            model_arrays["idf"] = np.asarray(artifact.idf, dtype=np.float32)
        if artifact.similar_factors is not None:
            model_arrays["similar_factors"] = np.ascontiguousarray(
                artifact.similar_factors, dtype=np.float32
            )
        if artifact.ease_weights is not None:
            model_arrays["ease_weights"] = np.ascontiguousarray(
                artifact.ease_weights, dtype=np.float32
            )
        model_arrays.update(_similar_arrays(artifact))
        if artifact.dislike is not None:
            model_arrays.update(artifact.dislike.arrays())
        if artifact.joint_factors is not None:
            model_arrays["joint_factors"] = np.ascontiguousarray(
                artifact.joint_factors, dtype=np.float32
            )
        np.savez(tmp / MODEL_FILE, allow_pickle=False, **model_arrays)
        np.savez(tmp / CATALOG_FILE, allow_pickle=False, **catalog_to_arrays(artifact.catalog))
        meta = dict(artifact.metadata)
        meta.update(
            {
                "format_version": FORMAT_VERSION,
                "algorithm": artifact.algorithm,
                "files": {
                    MODEL_FILE: file_digest(tmp / MODEL_FILE),
                    CATALOG_FILE: file_digest(tmp / CATALOG_FILE),
                },
                "shape": list(artifact.item_factors.shape),
            }
        )
        meta.setdefault("libraries", library_versions())
        meta.setdefault("created", datetime.now(UTC).isoformat(timespec="seconds"))
        (tmp / METADATA_FILE).write_text(
            json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        _replace_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _similar_arrays(artifact: ModelArtifact) -> dict[str, np.ndarray]:
    """The optional similar-movies arrays of an artifact (series codes, tag vectors)."""
    out: dict[str, np.ndarray] = {}
    if artifact.series is not None:
        out["series"] = np.asarray(artifact.series, dtype=np.int32)
    tags = artifact.tag_vectors
    if tags is not None:
        tags = csr_matrix(tags, dtype=np.float32)
        out["tags_data"] = tags.data
        out["tags_indices"] = tags.indices.astype(np.int32)
        out["tags_indptr"] = tags.indptr.astype(np.int64)
        out["tags_shape"] = np.asarray(tags.shape, dtype=np.int64)
    return out


def _similar_from_arrays(
    model: dict[str, np.ndarray], n_items: int, problems: list[str]
) -> tuple[np.ndarray | None, csr_matrix | None]:
    """Series codes and tag vectors of a loaded model (None when absent; older artifacts)."""
    series = model.get("series")
    if series is not None and (series.shape != (n_items,) or series.dtype.kind != "i"):
        problems.append("series codes do not match the items")
        series = None
    parts = ("tags_data", "tags_indices", "tags_indptr", "tags_shape")
    if not any(p in model for p in parts):
        return series, None
    if not all(p in model for p in parts):
        problems.append("the tag vectors are incomplete")
        return series, None
    data, indices, indptr, shape = (model[p] for p in parts)
    valid = (
        shape.shape == (2,)
        and int(shape[0]) == n_items
        and indptr.shape == (n_items + 1,)
        and data.shape == indices.shape
        and indptr[0] == 0
        and int(indptr[-1]) == data.size
        and bool(np.all(np.diff(indptr) >= 0))
        and (indices.size == 0 or (indices.min() >= 0 and indices.max() < int(shape[1])))
        and bool(np.isfinite(data).all())
    )
    if not valid:
        problems.append("the tag vectors are inconsistent")
        return series, None
    tags = csr_matrix((data, indices, indptr), shape=(int(shape[0]), int(shape[1])))
    return series, tags


def _replace_dir(src: Path, dest: Path) -> None:
    if dest.is_dir():
        old = dest.with_name(f".{dest.name}-old-{os.getpid()}")
        os.replace(dest, old)
        os.replace(src, dest)
        shutil.rmtree(old, ignore_errors=True)
    elif dest.exists():
        raise ArtifactError(
            f"{dest} exists and is not a model folder; remove it or choose another --out."
        )
    else:
        os.replace(src, dest)


def _retrain_hint(meta: dict[str, Any] | None = None, algorithm: str | None = None) -> str:
    release = (meta or {}).get("release") or "NAME"
    option = f" --algorithm {algorithm}" if algorithm and algorithm != "als" else ""
    return f"run `moviebot train --dataset {release}{option}` to build it again"


def read_metadata(path: Path) -> dict[str, Any]:
    """The metadata of the artifact folder ``path`` (validated as JSON only)."""
    path = Path(path)
    meta_path = path / METADATA_FILE
    if not path.exists():
        raise ArtifactError(
            f"No model at {path}: run `moviebot train` (it writes the model "
            "there) or set MOVIEBOT_MODEL_PATH to an existing model."
        )
    if not meta_path.is_file():
        raise ArtifactError(
            f"{path} is not a complete model (no {METADATA_FILE}); {_retrain_hint()}."
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{meta_path} is unreadable ({exc}); {_retrain_hint()}.") from exc
    if not isinstance(meta, dict):
        raise ArtifactError(f"{meta_path} is not a metadata object; {_retrain_hint()}.")
    return meta


def load_artifact(path: Path, *, verify: bool = True) -> ModelArtifact:
    """Load and validate the artifact folder ``path``.

    Args:
        path: the artifact folder.
        verify: check the SHA-256 of the npz files against the metadata (detects truncation).

    Raises:
        ArtifactError: missing, truncated, corrupt or incompatible; the message says what to do.
    """
    path = Path(path)
    meta = read_metadata(path)
    hint = _retrain_hint(meta)
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"{path} is a model of format {version!r}, this version reads format "
            f"{FORMAT_VERSION}; {hint}."
        )
    files = meta.get("files")
    if not isinstance(files, dict):
        raise ArtifactError(f"{path}/{METADATA_FILE} lists no files; {hint}.")
    for name in (MODEL_FILE, CATALOG_FILE):
        file = path / name
        if not file.is_file():
            raise ArtifactError(f"{file} is missing; {hint}.")
        if verify and file_digest(file) != files.get(name):
            raise ArtifactError(
                f"{file} is truncated or was changed after training (checksum mismatch); {hint}."
            )
    try:
        model = _read_npz(path / MODEL_FILE)
        catalog = catalog_from_arrays(_read_npz(path / CATALOG_FILE))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise ArtifactError(f"{path} is corrupt ({exc}); {hint}.") from exc
    return _validated(path, meta, model, catalog, hint)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    # opened here so that the file is closed even when numpy fails on a broken archive
    with path.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _validated(
    path: Path, meta: dict[str, Any], model: dict[str, np.ndarray], catalog: pd.DataFrame, hint: str
) -> ModelArtifact:
    missing = {"item_factors", "item_ids", "support"} - set(model)
    if missing:
        raise ArtifactError(f"{path}/{MODEL_FILE} lacks {', '.join(sorted(missing))}; {hint}.")
    factors, item_ids, support = model["item_factors"], model["item_ids"], model["support"]
    n_items = item_ids.shape[0]
    config = meta.get("config") or {}
    problems = []
    if factors.ndim != 2 or factors.shape[0] != n_items or support.shape != (n_items,):
        problems.append("array shapes disagree")
    elif config.get("factors") not in (None, factors.shape[1]):
        problems.append(f"{factors.shape[1]} factors but the metadata says {config['factors']}")
    if "idf" in model and model["idf"].shape != (n_items,):
        problems.append("idf has the wrong length")
    similar = model.get("similar_factors")
    if similar is not None and (
        similar.ndim != 2 or similar.shape[0] != n_items or not np.isfinite(similar).all()
    ):
        problems.append("similar_factors do not match the items")
    if n_items and not np.isin(item_ids, catalog.index.to_numpy()).all():
        problems.append("some modelled movies are not in its catalog")
    if not np.isfinite(factors).all():
        problems.append("factors contain NaN or infinity")
    series, tags = _similar_from_arrays(model, n_items, problems)
    dislike = DislikeStats.from_arrays(model, n_items)
    if dislike is None and any(k.startswith("dislike_") for k in model):
        problems.append("the dislike statistics are incomplete or inconsistent")
    joint = model.get("joint_factors")
    if joint is not None and (
        joint.ndim != 2
        or joint.shape[0] != 2 * n_items
        or config.get("dislike_joint_factors") not in (None, joint.shape[1])
        or not np.isfinite(joint).all()
    ):
        problems.append("joint_factors do not match the items")
    algorithm = algorithm_of(meta)
    if algorithm not in ALGORITHMS:
        raise ArtifactError(
            f"{path} holds a model of algorithm {algorithm!r}, this version serves "
            f"{' and '.join(ALGORITHMS)}; {_retrain_hint(meta)}."
        )
    ease = model.get("ease_weights")
    if algorithm == "ease":
        if ease is None:
            problems.append("an EASE model without ease_weights")
        elif ease.shape != (n_items, n_items) or not np.isfinite(ease).all():
            problems.append("ease_weights do not match the items")
        hint = _retrain_hint(meta, algorithm)
    if problems:
        raise ArtifactError(f"{path} is inconsistent ({'; '.join(problems)}); {hint}.")
    return ModelArtifact(
        item_factors=factors,
        item_ids=item_ids,
        support=support,
        idf=model.get("idf"),
        catalog=catalog,
        metadata=meta,
        similar_factors=similar,
        series=series,
        tag_vectors=tags,
        ease_weights=ease if algorithm == "ease" else None,
        dislike=dislike,
        joint_factors=joint,
    )
