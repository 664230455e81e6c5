"""The benchmark scripts: the synthetic ml-32m-shaped release, the scale reference fit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.synthetic import Spec, format_rows, generate, read_movie_ids, sample_items
from recsys.movielens import DataPaths, load_catalog, load_ratings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny_movies(tmp_path: Path) -> Path:
    """A movies.csv with 40 non-contiguous ids, one title quoted as MovieLens does."""
    path = tmp_path / "movies.csv"
    rows = ["movieId,title,genres"]
    rows += [f"{3 * i + 7},Movie {i} (2001),Drama" for i in range(39)]
    rows.append('500000,"Good, the Bad (1966)",Western')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _read(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "ml-32m" / "ratings.csv")


def test_format_rows_matches_python_formatting() -> None:
    users = np.array([1, 9, 10, 200948])
    items = np.array([0, 10, 99999, 292757])
    ratings = np.array([0, 1, 6, 9])  # 0.5, 1.0, 3.5, 5.0
    stamps = np.array([0, 789652009, 1000000000, 1697163360])
    text = format_rows(users, items, ratings, stamps).decode()
    expected = "".join(
        f"{u},{m},{r:.1f},{t}\n"
        for u, m, r, t in zip(users, items, [0.5, 1.0, 3.5, 5.0], stamps, strict=True)
    )
    assert text == expected


def test_sample_items_never_repeats_a_pair_and_meets_every_quota() -> None:
    rng = np.random.default_rng(1)
    n_items = 30
    cdf = np.cumsum(np.arange(1, n_items + 1, dtype=float) ** -2)
    cdf /= cdf[-1]
    taken = np.array([0 * n_items + 5, 2 * n_items + 29])  # seeds of users 0 and 2
    need = np.array([25, 1, 29, 0])  # user 2 ends up with every item
    keys = sample_items(need, cdf, taken, rng)
    assert len(np.unique(keys)) == len(keys)
    assert set(taken) <= set(keys)
    per_user = np.bincount(keys // n_items, minlength=4)
    assert per_user.tolist() == [26, 1, 30, 0]


def test_generated_release_has_the_requested_shape(tiny_movies: Path, tmp_path: Path) -> None:
    spec = Spec(n_users=30, n_ratings=900, seed=3, min_user_ratings=5, max_user_share=0.9)
    summary = generate(tmp_path / "out", spec, tiny_movies, progress=False)
    ratings = _read(tmp_path / "out")
    movie_ids = read_movie_ids(tiny_movies)

    assert list(ratings.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert len(ratings) == 900 == summary.n_ratings
    assert not ratings.duplicated(["userId", "movieId"]).any()
    assert sorted(ratings["userId"].unique()) == list(range(1, 31))
    assert set(ratings["movieId"]) == set(movie_ids)  # every movie is rated (900 >= 2 x 40)
    assert set(ratings["rating"]) <= {x / 2 for x in range(1, 11)}
    assert ratings.groupby("userId")["movieId"].count().min() >= 5
    liked = ratings[ratings["rating"] >= 3.5]
    assert liked["userId"].nunique() == 30  # every user likes something
    assert liked["movieId"].nunique() == 40  # and every movie is liked by someone
    assert summary.n_likes == len(liked)
    order = ratings.sort_values(["userId", "movieId"]).index
    assert (order == ratings.index).all()
    assert (tmp_path / "out" / "ml-32m" / "movies.csv").read_bytes() == tiny_movies.read_bytes()


def test_likes_only_and_determinism(tiny_movies: Path, tmp_path: Path) -> None:
    spec = Spec(
        n_users=20, n_ratings=400, seed=7, min_user_ratings=5, likes_only=True, max_user_share=0.9
    )
    generate(tmp_path / "a", spec, tiny_movies, progress=False)
    generate(tmp_path / "b", spec, tiny_movies, progress=False)
    a = (tmp_path / "a" / "ml-32m" / "ratings.csv").read_bytes()
    assert a == (tmp_path / "b" / "ml-32m" / "ratings.csv").read_bytes()
    assert (_read(tmp_path / "a")["rating"] >= 3.5).all()


def test_engine_loader_reads_it_with_real_ml32m_ids(movielens_dir: Path, tmp_path: Path) -> None:
    movies = movielens_dir / "ml-32m" / "movies.csv"
    spec = Spec(n_users=40, n_ratings=4000, seed=0)
    generate(tmp_path, spec, movies, progress=False)
    folder = DataPaths(data_dir=tmp_path / "unused", movielens_dir=tmp_path).release_folder(
        "ml-32m", progress=False
    )
    ratings = load_ratings(folder, "ml-32m")
    catalog = load_catalog(folder, "ml-32m", ratings)
    assert len(ratings) == 4000
    assert len(catalog) == 87_585
    assert ratings["movie_id"].isin(catalog.index).all()
    assert catalog["likes"].sum() == (ratings["rating"] >= 3.5).sum()


def test_benchmark_scripts_import_against_the_engine_api() -> None:
    import bench.bench_recommend
    import bench.bench_scale
    import bench.bench_train

    assert callable(bench.bench_recommend.main)
    assert callable(bench.bench_scale.main)
    assert callable(bench.bench_train.main)


@pytest.mark.slow
def test_scale_bench_plain_fit_reproduces_the_pipeline_model(
    tiny_movies: Path, tmp_path: Path
) -> None:
    """The reference fit gets exactly the pipeline's matrix and parameters: same factors."""
    spec = Spec(n_users=60, n_ratings=1500, seed=1, min_user_ratings=5, max_user_share=0.9)
    generate(tmp_path, spec, tiny_movies, progress=False)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bench_scale",
            "--data",
            str(tmp_path),
            "--factors",
            "8",
            "--iterations",
            "2",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "max |item factor difference| = 0.0" in out
    assert '"factors": 8' in out
    assert '"iterations": 2' in out
    for stage in ("load_ratings", "build_interactions", "weighting", "als", "save_artifact"):
        assert f"{stage} " in out
    assert "2 iterations" in out
