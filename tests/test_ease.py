"""EASE, the second scorer: known answers on tiny data, the evaluation protocol on real data."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from recsys.artifact import (
    METADATA_FILE,
    MODEL_FILE,
    ArtifactError,
    load_artifact,
    read_metadata,
    save_artifact,
)
from recsys.defaults import TrainConfig, default_config
from recsys.ease import MAX_ITEMS, EaseScorer, check_size, fit_ease
from recsys.engine import Filters, Recommender, train
from recsys.evaluate import evaluate
from recsys.matrix import rows_from_columns
from recsys.movielens import DataPaths, get_release, load_ratings


def _blocks() -> csr_matrix:
    """20 users: the first 10 like items 0-4, the others items 5-9 (each misses one)."""
    dense = np.zeros((20, 10), dtype=np.float32)
    for u in range(20):
        block = range(0, 5) if u < 10 else range(5, 10)
        for i in block:
            if i != (u % 5) + (0 if u < 10 else 5):
                dense[u, i] = 1.0
    return csr_matrix(dense)


def test_ease_weights_solve_the_closed_form() -> None:
    x = _blocks()
    lam = 2.0
    weights = fit_ease(x, lam)
    gram = (x.T @ x).toarray().astype(np.float64) + lam * np.eye(10)
    p = np.linalg.inv(gram)
    expected = np.eye(10) - p / np.diag(p)[None, :]
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(weights, expected, atol=1e-4)
    assert np.all(np.diag(weights) == 0)


def test_ease_recommends_within_the_block_and_never_a_liked_item() -> None:
    scorer = EaseScorer(fit_ease(_blocks(), 1.0))
    ids, scores = scorer.recommend(rows_from_columns([[0, 1], [7], []], 10), 3)
    assert set(ids[0].tolist()) == {2, 3, 4}
    assert set(ids[1].tolist()) <= {5, 6, 8, 9}
    assert np.all(np.diff(scores[0]) <= 0)
    many, _ = scorer.recommend(rows_from_columns([list(range(9))], 10), 5)
    assert many[0].tolist() == [9, -1, -1, -1, -1]  # padded, never a liked item
    with pytest.raises(ValueError, match="columns"):
        scorer.recommend(rows_from_columns([[1]], 11), 3)


def test_ease_evaluates_on_the_same_protocol(movielens_dir: Path) -> None:
    release = get_release("ml-100k")
    ratings = load_ratings(movielens_dir / "ml-100k", release)
    config = TrainConfig(algorithm="ease", ease_regularization=500.0)
    m = evaluate(ratings, release, config, [0]).mean
    assert m["recall"] > m["popular_recall"] + 0.1
    assert m["recall"] == m["recall_plain"]
    assert m["users"] > 150


# --------------------------------------------------------------------------------------------
# An EASE artifact: trained, saved, loaded and served through the same re-ranking steps


@pytest.fixture(scope="module")
def ease_model(movielens_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    paths = DataPaths(data_dir=tmp_path_factory.mktemp("data"), movielens_dir=movielens_dir)
    config = default_config("ml-latest-small").with_(algorithm="ease")
    artifact = train(paths, "ml-latest-small", config=config, progress=False)
    return save_artifact(artifact, tmp_path_factory.mktemp("models") / "ease")


TOY_STORY, TOY_STORY_2, MONSTERS_INC = 1, 3114, 4886


def test_an_ease_artifact_round_trips_and_recommends(ease_model: Path) -> None:
    artifact = load_artifact(ease_model)
    assert artifact.algorithm == "ease"
    assert read_metadata(ease_model)["algorithm"] == "ease"
    n = artifact.item_ids.size
    assert artifact.ease_weights is not None
    assert artifact.ease_weights.shape == (n, n)
    rec = Recommender.load(ease_model)
    result = rec.recommend([TOY_STORY, TOY_STORY_2], 10, dislikes=[MONSTERS_INC])
    ids = [r.movie_id for r in result.items]
    assert len(ids) == 10
    assert not {TOY_STORY, TOY_STORY_2, MONSTERS_INC} & set(ids)
    genres = rec.catalog["genres"].reindex(ids).astype(str)
    assert sum("Animation" in g for g in genres) >= 5, list(genres)
    # "because" names favorites by their EASE weight on the recommended movie
    assert all(set(r.because) <= {TOY_STORY, TOY_STORY_2} for r in result.items)
    assert any(r.because for r in result.items)
    # the same scorer in a batch, and in why() (contributions sum to the score)
    batch, fallback = rec.recommend_batch([np.array([TOY_STORY, TOY_STORY_2])], 10)
    plain = rec.recommend([TOY_STORY, TOY_STORY_2], 10, rerank=False)
    assert not fallback[0]
    assert batch[0, 0] in [r.movie_id for r in plain.items]
    why = rec.why(ids[0], [TOY_STORY, TOY_STORY_2])
    assert why.score is not None
    assert why.rank is not None
    assert sum(s for _, s in why.contributions) == pytest.approx(why.score, rel=1e-4)
    # filters and similar movies keep working
    only = rec.recommend([TOY_STORY], 5, filters=Filters(exclude_genres=frozenset({"Animation"})))
    assert len(only.items) == 5
    assert not any("Animation" in str(rec.catalog.at[r.movie_id, "genres"]) for r in only.items)
    gems = rec.recommend([TOY_STORY, TOY_STORY_2], 10, discover=True)
    assert len(gems.items) == 10
    assert set(ids[:3]).isdisjoint(r.movie_id for r in gems.items)  # the tail, not the head
    assert rec.similar(TOY_STORY, 3)


def test_a_seen_movie_is_never_recommended_by_ease(ease_model: Path) -> None:
    rec = Recommender.load(ease_model)
    first = rec.recommend([TOY_STORY], 5).items[0].movie_id
    again = rec.recommend([TOY_STORY], 5, seen=[first])
    assert first not in [r.movie_id for r in again.items]


def test_an_ease_artifact_without_weights_names_the_retrain(
    ease_model: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(ease_model, copy)
    with np.load(copy / MODEL_FILE, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "ease_weights"}
    np.savez(copy / MODEL_FILE, allow_pickle=False, **arrays)
    meta = read_metadata(copy)
    meta["files"][MODEL_FILE] = hashlib.sha256((copy / MODEL_FILE).read_bytes()).hexdigest()
    (copy / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"without ease_weights.*--algorithm ease"):
        Recommender.load(copy)


def test_ease_refuses_a_catalog_too_large_for_its_matrix() -> None:
    check_size(MAX_ITEMS)
    with pytest.raises(ValueError, match="84,000 movies would take 28 GB"):
        check_size(84_000)


def test_recsys_never_imports_the_bot_or_telegram() -> None:
    """The seam: a scorer (EASE included) arrives in recsys/ without any bot/ or Telegram code."""
    import ast

    for path in (Path(__file__).resolve().parents[1] / "recsys").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in {"bot", "telegram"}, f"{path.name} imports {name}"
