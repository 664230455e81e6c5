"""``moviebot train`` and ``moviebot evaluate``: build a model artifact, measure its quality."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from recsys.defaults import TrainConfig, default_config
from recsys.matrix import SCHEMES
from recsys.movielens import DEFAULT_RELEASE, RELEASES, get_release

DEFAULT_SEEDS = "0,1,2,3,4"


def register(subparsers: Any) -> None:
    """Add the ``train`` and ``evaluate`` subcommands."""
    train = subparsers.add_parser(
        "train",
        help="train the recommendation model and save it",
        description="Train implicit ALS on a MovieLens release and write a model artifact "
        "(factors, catalog, metadata). Unset options take the release's tuned "
        "defaults.",
    )
    _add_common(train)
    train.add_argument(
        "--out",
        type=Path,
        default=None,
        help="artifact folder (default: the model path of the settings)",
    )
    train.add_argument(
        "--evaluate",
        action="store_true",
        help="also run the evaluation (seeds 0-4) and store its figures",
    )
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser(
        "evaluate",
        help="measure Recall@20/NDCG@20 on held-out users",
        description="Held-out-users evaluation (20% of users per seed; 80/20 fold-in/targets; "
        "'new chat': 5 likes folded in) against a most-popular baseline.",
    )
    _add_common(evaluate)
    evaluate.add_argument(
        "--seeds", default=DEFAULT_SEEDS, help=f"comma-separated seeds (default {DEFAULT_SEEDS})"
    )
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.set_defaults(func=run_evaluate)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        choices=sorted(RELEASES),
        default=None,
        help=f"MovieLens release (default: the settings', else {DEFAULT_RELEASE})",
    )
    parser.add_argument("--factors", type=int, default=None, help="latent factors")
    parser.add_argument("--regularization", type=float, default=None, help="L2 regularization")
    parser.add_argument("--alpha", type=float, default=None, help="confidence scale")
    parser.add_argument("--iterations", type=int, default=None, help="ALS iterations")
    parser.add_argument("--weighting", choices=SCHEMES, default=None, help="confidence weighting")
    parser.add_argument("--k1", type=float, default=None, help="BM25 K1")
    parser.add_argument("--b", type=float, default=None, help="BM25 B")
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="like threshold of the training matrix (default: the release's)",
    )
    parser.add_argument(
        "--fold-in-regularization",
        type=float,
        default=None,
        help="L2 regularization of a new user's factors (default: training's)",
    )
    parser.add_argument(
        "--similar-factors",
        type=int,
        default=None,
        help="factors of a separate similar-movies model (0: share the recommendation factors)",
    )
    parser.add_argument(
        "--similar-regularization",
        type=float,
        default=None,
        help="regularization of the similar-movies model",
    )
    parser.add_argument(
        "--min-support", type=int, default=None, help="similar movies need at least this many likes"
    )
    parser.add_argument("--shrink", type=float, default=None, help="similar-movie shrinkage")
    parser.add_argument(
        "--candidate-min-support",
        type=int,
        default=None,
        help="recommend only movies with at least this many likes (0: all)",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed of the model")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def config_from_args(args: argparse.Namespace, dataset: str) -> TrainConfig:
    """The release's tuned defaults overridden by the options given."""
    return default_config(dataset).with_(
        factors=args.factors,
        regularization=args.regularization,
        alpha=args.alpha,
        iterations=args.iterations,
        scheme=args.weighting,
        k1=args.k1,
        b=args.b,
        threshold=args.threshold,
        min_support=args.min_support,
        shrink=args.shrink,
        candidate_min_support=args.candidate_min_support,
        fold_in_regularization=args.fold_in_regularization,
        similar_factors=args.similar_factors,
        similar_regularization=args.similar_regularization,
        seed=args.seed,
    )


def _dataset(args: argparse.Namespace, settings: Any) -> str:
    return str(args.dataset or getattr(settings, "dataset", None) or DEFAULT_RELEASE)


def run_train(args: argparse.Namespace, settings: Any) -> int:
    """``moviebot train``."""
    from recsys.artifact import save_artifact
    from recsys.engine import train

    dataset = _dataset(args, settings)
    config = config_from_args(args, dataset)
    progress = not args.no_progress
    evaluation = None
    if args.evaluate:
        report = _run_evaluation(settings, dataset, config, [0, 1, 2, 3, 4], progress)
        evaluation = {"seeds": report.seeds, **report.mean}
    artifact = train(
        settings.paths, dataset, config=config, progress=progress, evaluation=evaluation
    )
    out = args.out or (
        settings.resolved_model_path
        if args.dataset in (None, settings.dataset)
        else Path(settings.data_dir) / "models" / dataset
    )
    save_artifact(artifact, out)
    meta = artifact.metadata
    print(
        f"Saved the {dataset} model to {out}: {meta['training']['items']} movies × "
        f"{config.factors} factors from {meta['training']['likes']} likes of "
        f"{meta['training']['users']} users in {meta['training']['seconds']:.1f} s."
    )
    if evaluation:
        print(f"Recall@20 {evaluation['recall']:.3f} (popular {evaluation['popular_recall']:.3f})")
    return 0


def _run_evaluation(
    settings: Any, dataset: str, config: TrainConfig, seeds: list[int], progress: bool
) -> Any:
    from recsys.evaluate import evaluate
    from recsys.movielens import load_ratings

    release = get_release(dataset)
    folder = settings.paths.release_folder(dataset, progress=progress)
    ratings = load_ratings(folder, release)

    def report_seed(result: Any) -> None:
        if progress:
            print(
                f"seed {result.seed}: Recall@20 {result.model.recall:.3f} "
                f"(popular {result.popular.recall:.3f})",
                file=sys.stderr,
            )

    return evaluate(ratings, release, config, seeds, on_seed=report_seed)


def run_evaluate(args: argparse.Namespace, settings: Any) -> int:
    """``moviebot evaluate``."""
    dataset = _dataset(args, settings)
    try:
        seeds = [int(s) for s in str(args.seeds).split(",") if s.strip()]
    except ValueError:
        print(
            f"moviebot: --seeds takes comma-separated integers, not {args.seeds!r}", file=sys.stderr
        )
        return 2
    if not seeds:
        print("moviebot: --seeds needs at least one seed", file=sys.stderr)
        return 2
    config = config_from_args(args, dataset)
    report = _run_evaluation(
        settings, dataset, config, seeds, not args.no_progress and not args.json
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report.to_dict()))
    return 0


def format_report(report: dict[str, Any]) -> str:
    """A human-readable table of an evaluation report."""
    m = report["mean"]
    seeds = ",".join(str(s) for s in report["seeds"])
    lines = [
        f"{report['release']}, seeds {seeds}, K={report['k']}",
        f"config: {json.dumps(report['config'], sort_keys=True)}",
        f"{'':28}{'Recall@20':>10}{'NDCG@20':>10}",
        f"{'ALS (80% folded in)':28}{m['recall']:>10.4f}{m['ndcg']:>10.4f}",
        f"{'most popular':28}{m['popular_recall']:>10.4f}{m['popular_ndcg']:>10.4f}",
        f"{'ALS (new chat: 5 likes)':28}{m['new_chat_recall']:>10.4f}{m['new_chat_ndcg']:>10.4f}",
        f"{'most popular (new chat)':28}{m['new_chat_popular_recall']:>10.4f}"
        f"{m['new_chat_popular_ndcg']:>10.4f}",
        f"held-out users per seed: {m['users']:.0f} (new chat: {m['new_chat_users']:.0f})",
        f"similar movies with < 10 likes (top-200 movies, 10 each): "
        f"{100 * m['low_support_share']:.2f}%",
        f"similar movies also liked by the held-out user (precision@10): "
        f"{m['similar_precision']:.4f}",
        f"time: {m['seconds']:.1f} s",
    ]
    return "\n".join(lines)
