"""Training time and peak memory of the engine's pipeline on ml-latest-small and ml-100k.

Each run is ``recsys.engine.train`` (MovieLens folder → ratings → catalog → likes matrix →
weighting → ALS with the release's tuned defaults) followed by ``recsys.artifact.save_artifact``:
what ``moviebot train`` does. Every run happens in a fresh Python process, so each peak resident
set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is that run's own; the peak right after
the imports (before any data is read) is printed too, so what training adds is visible.

BLAS is single-threaded; implicit uses its default of every core (``num_threads=0``), as
``moviebot train`` does.

Usage::

    nice .venv/bin/python -m bench.bench_train [--repeats 3] [--datasets ml-latest-small,ml-100k]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parents[1]


def movielens_dir() -> Path:
    """The folder of extracted releases (``MOVIEBOT_MOVIELENS_DIR`` or ``../shared``)."""
    configured = os.environ.get("MOVIEBOT_MOVIELENS_DIR")
    return Path(configured) if configured else REPO.parent / "shared" / "data" / "movielens"


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(dataset: str, out: Path) -> dict[str, object]:
    """One training run in this (fresh) process; returns its figures."""
    start = time.perf_counter()
    from recsys.artifact import save_artifact
    from recsys.engine import train
    from recsys.movielens import DataPaths

    imported = time.perf_counter()
    import_peak = peak_rss_mib()
    paths = DataPaths(data_dir=out.parent, movielens_dir=movielens_dir())
    artifact = train(paths, dataset, progress=False)
    trained = time.perf_counter()
    save_artifact(artifact, out)
    saved = time.perf_counter()
    meta = artifact.metadata
    return {
        "dataset": dataset,
        "import_s": imported - start,
        "train_s": trained - imported,
        "fit_s": float(meta["training"]["seconds"]),
        "save_s": saved - trained,
        "total_s": saved - imported,
        "import_peak_mib": import_peak,
        "peak_mib": peak_rss_mib(),
        "users": meta["training"]["users"],
        "items": meta["training"]["items"],
        "likes": meta["training"]["likes"],
        "config": meta["config"],
    }


def run_child(dataset: str, tmp: Path) -> dict[str, object]:
    """Run :func:`child` in a new interpreter and return what it printed (JSON)."""
    out = tmp / f"{dataset}-{time.monotonic_ns()}"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_train", "--child", dataset, "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"training {dataset} failed:\n{proc.stderr}")
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def report(dataset: str, runs: list[dict[str, object]]) -> str:
    """One line per dataset: medians of the times, the largest peak."""

    def med(key: str) -> float:
        return median(float(r[key]) for r in runs)  # type: ignore[arg-type]

    first = runs[0]
    cfg = first["config"]
    assert isinstance(cfg, dict)
    return (
        f"{dataset:<16} {first['users']} users x {first['items']} movies, "
        f"{first['likes']} likes; {cfg['factors']} factors"
        + (
            f" (+ a {cfg['similar_factors']}-factor similar-movies model)"
            if cfg.get("similar_factors")
            else ""
        )
        + f", {cfg['iterations']} iterations, {cfg['scheme']}\n"
        f"{'':<16} train {med('train_s'):6.2f} s (matrix+weighting+ALS {med('fit_s'):5.2f} s)"
        f" + save {med('save_s'):5.2f} s = {med('total_s'):6.2f} s;  peak RSS "
        f"{max(float(r['peak_mib']) for r in runs):6.0f} MiB "  # type: ignore[arg-type]
        f"(after imports {med('import_peak_mib'):4.0f} MiB);  median of {len(runs)} runs"
    )


def main(argv: list[str] | None = None) -> int:
    """Run each dataset ``--repeats`` times, each in its own process, and print the figures."""
    parser = argparse.ArgumentParser(description="Training time and peak memory.")
    parser.add_argument("--datasets", default="ml-latest-small,ml-100k")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.out)))
        return 0
    print(
        f"{os.cpu_count()} cores; each run in a fresh process; BLAS 1 thread, implicit "
        "num_threads=0 (all cores)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        for dataset in args.datasets.split(","):
            runs = [run_child(dataset, Path(tmp)) for _ in range(args.repeats)]
            print(report(dataset, runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
