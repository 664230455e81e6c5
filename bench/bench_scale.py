"""Training at ml-32m's scale: the engine's whole pipeline against a plain implicit fit.

On the synthetic release written by :mod:`bench.synthetic` (a folder ``ml-32m/`` with
``movies.csv`` and ``ratings.csv``, read through ``DataPaths(movielens_dir=...)``), in one run:

1. **pipeline** (a fresh process): ``recsys.engine.train(paths, "ml-32m", config=...)`` and
   ``recsys.artifact.save_artifact`` — parsing, catalog, likes matrix, weighting, ALS, checksums,
   artifact — exactly what ``moviebot train --dataset ml-32m`` runs. The engine's own functions are
   wrapped (not replaced) to time each stage and each ALS iteration; the weighted matrix handed to
   ALS is written to disk for step 2, and that write is excluded from the pipeline's time.
2. **plain** (a fresh process): ``implicit.cpu.als.AlternatingLeastSquares(...).fit`` on that same
   matrix with the same parameters (factors, regularization, alpha, iterations, seed, threads);
   its item factors are compared with the pipeline's artifact.

Printed: time per ALS iteration, total time and peak memory (``ru_maxrss`` of each process) of
both, and the pipeline's overhead over the plain fit (target: at most +30%).

Parameters: the engine's defaults for ml-32m (``recsys.defaults.default_config``) with 128 factors
and 15 iterations unless ``--factors`` / ``--iterations`` say otherwise; implicit uses every core
(``num_threads=0``, as ``moviebot train`` does) and BLAS one thread.

Usage::

    .venv/bin/python -m bench.synthetic --scale 0.05          # once, ~15 s
    nice .venv/bin/python -m bench.bench_scale --scale 0.05   # development, ~1 min
    nohup nice .venv/bin/python -m bench.bench_scale --generate > data/bench_scale.log 2>&1 &
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import dataclasses
import functools
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TARGET_OVERHEAD = 0.30


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StageTimer:
    """Wall time per named stage, from wrappers around the engine's own functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.excluded = 0.0

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` unchanged, except that its wall time is added to stage ``name``."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

        return timed


def pipeline_child(
    data: Path, out: Path, matrix_path: Path, factors: int, iterations: int
) -> dict[str, Any]:
    """Step 1, in a fresh process: the engine's train + save, timed stage by stage."""
    import numpy as np
    from scipy.sparse import save_npz

    import recsys.engine as engine
    from recsys import matrix
    from recsys.artifact import save_artifact
    from recsys.defaults import default_config
    from recsys.movielens import DataPaths

    import_peak = peak_rss_mib()
    timer = StageTimer()
    for name in (
        "load_ratings",
        "load_catalog",
        "build_interactions",
        "release_checksums",
        "make_artifact",
    ):
        setattr(engine, name, timer.wrap(name, getattr(engine, name)))
    weighting_cls = matrix.Weighting
    fit_function = vars(weighting_cls)["fit"].__func__  # the function under the classmethod
    weighting_cls.fit = classmethod(  # type: ignore[method-assign,assignment]
        timer.wrap("weighting", fit_function)
    )
    weighting_cls.apply = timer.wrap("weighting", weighting_cls.apply)  # type: ignore[method-assign]
    iteration_s: list[float] = []
    seen: dict[str, Any] = {}
    fit_item_factors = getattr(engine, "fit_item_factors")  # noqa: B009 - patched below

    def fit_and_record(weighted: Any, params: Any, **kwargs: Any) -> Any:
        fits = seen.setdefault("fits", [])
        fits.append(dataclasses.asdict(params))
        if len(fits) == 1:  # the recommendation model; a similar-movies model may follow
            start = time.perf_counter()
            save_npz(matrix_path, weighted, compressed=False)
            timer.excluded += time.perf_counter() - start
            seen.update(
                params=dataclasses.asdict(params),
                num_threads=kwargs.get("num_threads", 0),
                shape=list(weighted.shape),
                nnz=int(weighted.nnz),
            )
        theirs = kwargs.pop("on_iteration", None)

        def on_iteration(iteration: int, elapsed: float) -> None:
            iteration_s.append(elapsed)
            if theirs is not None:
                theirs(iteration, elapsed)

        return timer.wrap("als", fit_item_factors)(
            weighted, params, on_iteration=on_iteration, **kwargs
        )

    setattr(engine, "fit_item_factors", fit_and_record)  # noqa: B010 - time the ALS stage
    config = default_config("ml-32m").with_(factors=factors, iterations=iterations)
    paths = DataPaths(data_dir=out.parent, movielens_dir=data)
    start = time.perf_counter()
    artifact = engine.train(paths, "ml-32m", config=config, progress=False)
    trained = time.perf_counter()
    save_artifact(artifact, out)
    done = time.perf_counter()
    timer.seconds["save_artifact"] = done - trained
    total = done - start - timer.excluded
    timer.seconds["other"] = total - sum(timer.seconds.values())
    return {
        "total_s": total,
        "stages_s": timer.seconds,
        "iteration_s": iteration_s,
        "peak_mib": peak_rss_mib(),
        "import_peak_mib": import_peak,
        "config": config.to_dict(),
        "als": seen,
        "factors_shape": list(np.shape(artifact.item_factors)),
    }


def plain_child(
    matrix_path: Path, params: dict[str, Any], threads: int, artifact: Path
) -> dict[str, Any]:
    """Step 2, in a fresh process: a plain implicit fit on the pipeline's matrix."""
    import numpy as np
    from implicit.cpu.als import AlternatingLeastSquares
    from scipy.sparse import load_npz
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    weighted = load_npz(matrix_path).tocsr()
    loaded_peak = peak_rss_mib()
    model = AlternatingLeastSquares(
        factors=params["factors"],
        regularization=params["regularization"],
        alpha=params["alpha"],
        iterations=params["iterations"],
        random_state=int(params["seed"]),
        num_threads=threads,
        dtype=np.float32,
    )
    iteration_s: list[float] = []
    start = time.perf_counter()
    model.fit(
        weighted,
        show_progress=False,
        callback=lambda _it, elapsed, _loss: iteration_s.append(elapsed),
    )
    fit_s = time.perf_counter() - start
    theirs = np.load(artifact / "model.npz", allow_pickle=False)["item_factors"]
    ours = np.asarray(model.item_factors, dtype=np.float32)
    return {
        "total_s": fit_s,
        "iteration_s": iteration_s,
        "peak_mib": peak_rss_mib(),
        "loaded_peak_mib": loaded_peak,
        "max_factor_diff": float(np.abs(theirs - ours).max())
        if theirs.shape == ours.shape
        else None,
    }


def run_child(args: list[str]) -> dict[str, Any]:
    """Run this module with ``args`` in a new interpreter; return the JSON it printed last."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_scale", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def describe(data: Path) -> str:
    """What the synthetic release holds (from the generator's summary)."""
    summary_path = data / "ml-32m" / "SYNTHETIC.json"
    if not summary_path.is_file():
        return f"{data / 'ml-32m'} (no SYNTHETIC.json: not written by bench.synthetic)"
    s = json.loads(summary_path.read_text())
    return (
        f"{s['folder']}: {s['n_users']:,} users x {s['n_items']:,} movies, "
        f"{s['n_ratings']:,} ratings ({s['n_likes']:,} likes), {s['bytes'] / 2**20:,.0f} MiB "
        f"CSV, written in {s['seconds']:.0f} s"
    )


def report(pipe: dict[str, Any], plain: dict[str, Any]) -> list[str]:
    """The comparison, one figure per line."""
    import numpy as np

    lines = []
    stages = pipe["stages_s"]
    lines.append("pipeline stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()))
    for name, r in (("pipeline", pipe), ("plain fit", plain)):
        it = np.asarray(r["iteration_s"])
        lines.append(
            f"{name:<10} total {r['total_s']:7.1f} s; ALS iteration median "
            f"{np.median(it):6.2f} s (min {it.min():.2f}, max {it.max():.2f}, "
            f"{len(it)} iterations); peak RSS {r['peak_mib']:,.0f} MiB"
        )
    overhead = pipe["total_s"] / plain["total_s"] - 1
    verdict = "met" if overhead <= TARGET_OVERHEAD else "MISSED"
    lines.append(
        f"pipeline overhead over the plain fit: {overhead:+.1%} "
        f"(target <= +{TARGET_OVERHEAD:.0%}: {verdict}); ALS inside the pipeline "
        f"{stages.get('als', float('nan')):.1f} s vs plain {plain['total_s']:.1f} s"
    )
    outside = pipe["total_s"] - stages.get("als", 0.0)
    lines.append(
        f"pipeline stages outside ALS (parsing, matrix, weighting, checksums, saving): "
        f"{outside:.1f} s = {outside / plain['total_s']:+.1%} of the plain fit "
        "(the overhead without the run-to-run noise of ALS itself)"
    )
    fits = pipe["als"].get("fits", [])
    if len(fits) > 1:
        lines.append(
            f"note: the pipeline trained {len(fits)} ALS models ({fits}); the plain fit "
            "reproduces the first one only"
        )
    lines.append(f"same model: max |item factor difference| = {plain['max_factor_diff']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Parent: make sure the data exists, run both steps, print the comparison."""
    from bench.synthetic import default_folder

    parser = argparse.ArgumentParser(description="Whole pipeline vs plain implicit fit at scale.")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--likes-only", action="store_true")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="folder holding ml-32m/ (default: bench.synthetic's for the scale)",
    )
    parser.add_argument("--generate", action="store_true", help="write the data if missing")
    parser.add_argument("--factors", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--child", choices=["pipeline", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--params", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    data = args.data or default_folder(args.scale, args.likes_only)
    work = args.work or data / "bench-scale-work"
    if args.child == "pipeline":
        result = pipeline_child(
            data, work / "artifact", work / "weighted.npz", args.factors, args.iterations
        )
        print(json.dumps(result))
        return 0
    if args.child == "plain":
        result = plain_child(
            work / "weighted.npz", json.loads(args.params), args.threads, work / "artifact"
        )
        print(json.dumps(result))
        return 0
    return run_parent(args, data, work)


def run_parent(args: argparse.Namespace, data: Path, work: Path) -> int:
    """Generate if asked, then run the pipeline and the plain fit, each in its own process."""
    import shutil

    from bench.synthetic import Spec, generate

    if not (data / "ml-32m" / "ratings.csv").is_file():
        if not args.generate:
            print(
                f"No synthetic release in {data}: run `python -m bench.synthetic --scale "
                f"{args.scale:g}` first, or pass --generate.",
                file=sys.stderr,
            )
            return 2
        generate(data, Spec.scaled(args.scale, likes_only=args.likes_only))
    print(describe(data), flush=True)
    work.mkdir(parents=True, exist_ok=True)
    common = ["--data", str(data), "--work", str(work)]
    print(time.strftime("%H:%M:%S"), "pipeline ...", flush=True)
    pipe = run_child(
        [
            "--child",
            "pipeline",
            *common,
            "--factors",
            str(args.factors),
            "--iterations",
            str(args.iterations),
        ]
    )
    print(
        time.strftime("%H:%M:%S"),
        f"pipeline done in {pipe['total_s']:.0f} s; plain fit ...",
        flush=True,
    )
    plain = run_child(
        [
            "--child",
            "plain",
            *common,
            "--params",
            json.dumps(pipe["als"]["params"]),
            "--threads",
            str(pipe["als"]["num_threads"]),
        ]
    )
    print(time.strftime("%H:%M:%S"), "done", flush=True)
    print(
        f"parameters: {json.dumps(pipe['als'])}; implicit threads "
        f"{pipe['als']['num_threads'] or 'all'} of {os.cpu_count()}, BLAS 1"
    )
    for line in report(pipe, plain):
        print(line)
    (work / "result.json").write_text(json.dumps({"pipeline": pipe, "plain": plain}, indent=2))
    shutil.rmtree(work / "artifact", ignore_errors=True)
    (work / "weighted.npz").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
