"""``moviebot train``, ``evaluate``, ``recommend`` and ``similar``.

``train`` builds a model artifact, ``evaluate`` measures its quality, ``recommend`` and ``similar``
serve it from a terminal (for scripts and checks), e.g.::

    moviebot recommend --dataset ml-latest-small --genre Comedy --years 1990s "toy story" 2571
    moviebot similar --dataset ml-latest-small --json matrix "the godfather"
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import json
import re
import sys
import typing
from pathlib import Path
from typing import Any

from recsys.defaults import TrainConfig, default_config
from recsys.matrix import SCHEMES
from recsys.movielens import DEFAULT_RELEASE, RELEASES, get_release
from recsys.scorer import ALGORITHMS

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
    register_serving(subparsers)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        choices=sorted(RELEASES),
        default=None,
        help=f"MovieLens release (default: the settings', else {DEFAULT_RELEASE})",
    )
    for option, kwargs in config_options():
        parser.add_argument(option, default=None, **kwargs)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


# A field's option is --its-name (scheme: --weighting), typed and described by TrainConfig itself.
_OPTION_NAMES = {"scheme": "weighting"}
_CHOICES: dict[str, tuple[str, ...]] = {"scheme": tuple(SCHEMES), "algorithm": tuple(ALGORITHMS)}


def _field_help() -> dict[str, str]:
    """Each TrainConfig field's description, from the Attributes section of its docstring."""
    doc = (inspect.getdoc(TrainConfig) or "").split("Attributes:", 1)[-1]
    out: dict[str, str] = {}
    name = ""
    for line in doc.splitlines():
        entry = re.match(r"^    (\w+): (.*)$", line)
        if entry:
            name = entry.group(1)
            out[name] = entry.group(2)
        elif name and line.startswith("        "):
            out[name] += " " + line.strip()
    return out


def config_options() -> list[tuple[str, dict[str, Any]]]:
    """``(--option, add_argument keywords)`` for every field of :class:`TrainConfig`."""
    hints = typing.get_type_hints(TrainConfig)
    described = _field_help()
    options: list[tuple[str, dict[str, Any]]] = []
    for field in dataclasses.fields(TrainConfig):
        kind = next(
            t
            for t in typing.get_args(hints[field.name]) or (hints[field.name],)
            if t is not type(None)
        )
        kwargs: dict[str, Any] = {
            "dest": field.name,
            "type": kind,
            "help": described.get(field.name, field.name).replace("%", "%%"),
        }
        if field.name in _CHOICES:
            kwargs["choices"] = _CHOICES[field.name]
        name = _OPTION_NAMES.get(field.name, field.name).replace("_", "-")
        options.append((f"--{name}", kwargs))
    return options


def config_from_args(args: argparse.Namespace, dataset: str) -> TrainConfig:
    """The release's tuned defaults overridden by the options given."""
    return default_config(dataset).with_(
        **{f.name: getattr(args, f.name, None) for f in dataclasses.fields(TrainConfig)}
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
        + (" It ranks with EASE item-item weights." if config.algorithm == "ease" else "")
    )
    if evaluation:
        print(f"Recall@20 {evaluation['recall']:.3f} (popular {evaluation['popular_recall']:.3f})")
    return 0


def _run_evaluation(
    settings: Any, dataset: str, config: TrainConfig, seeds: list[int], progress: bool
) -> Any:
    from recsys.evaluate import evaluate
    from recsys.movielens import load_catalog, load_ratings

    release = get_release(dataset)
    folder = settings.paths.release_folder(dataset, progress=progress)
    ratings = load_ratings(folder, release)
    catalog = load_catalog(folder, release, ratings)

    def report_seed(result: Any) -> None:
        if progress:
            print(
                f"seed {result.seed}: Recall@20 {result.model.recall:.3f} "
                f"(popular {result.popular.recall:.3f})",
                file=sys.stderr,
            )

    return evaluate(ratings, release, config, seeds, on_seed=report_seed, catalog=catalog)


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
    name = str(report["config"].get("algorithm", "als")).upper()
    seeds = ",".join(str(s) for s in report["seeds"])
    lines = [
        f"{report['release']}, seeds {seeds}, K={report['k']}",
        f"config: {json.dumps(report['config'], sort_keys=True)}",
        f"{'':36}{'Recall@20':>10}{'NDCG@20':>10}",
        f"{name + ', default ranking (80% in)':36}{m['recall']:>10.4f}{m['ndcg']:>10.4f}",
        f"{name + ', plain ranking':36}{m['recall_plain']:>10.4f}{m['ndcg_plain']:>10.4f}",
        f"{'most popular':36}{m['popular_recall']:>10.4f}{m['popular_ndcg']:>10.4f}",
        f"{name + ' (new chat: 5 likes)':36}{m['new_chat_recall']:>10.4f}"
        f"{m['new_chat_ndcg']:>10.4f}",
        f"{name + ' plain (new chat)':36}{m['new_chat_recall_plain']:>10.4f}",
        f"{'most popular (new chat)':36}{m['new_chat_popular_recall']:>10.4f}"
        f"{m['new_chat_popular_ndcg']:>10.4f}",
        f"genre miscalibration C_KL of the top 10: {m['miscalibration']:.4f} "
        f"(plain {m['miscalibration_plain']:.4f})",
        f"discover: tail share of the top 10 {m['discover_tail_share']:.3f}, tail Recall@10 "
        f"{m['discover_tail_recall']:.4f} (most-liked tail movies "
        f"{m['discover_tail_recall_popular']:.4f})",
        f"dislikes ({m['dislike_users']:.0f} users per seed): hidden dislikes in the top 20 "
        f"{m['dislike_hits']:.4f} (likes only {m['dislike_hits_plain']:.4f}), Recall@20 "
        f"{m['dislike_recall']:.4f} (likes only {m['dislike_recall_plain']:.4f})",
        f"held-out users per seed: {m['users']:.0f} (new chat: {m['new_chat_users']:.0f})",
        f"similar movies with < 10 likes (top-200 movies, 10 each): "
        f"{100 * m['low_support_share']:.2f}%",
        f"similar movies also liked by the held-out user (precision@10): "
        f"{m['similar_precision']:.4f}",
        f"time: {m['seconds']:.1f} s",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# moviebot recommend / moviebot similar: the serving functions from a terminal


class CliError(Exception):
    """A problem with the command's input; the message is printed as one line."""


def register_serving(subparsers: Any) -> None:
    """Add the ``recommend`` and ``similar`` subcommands."""
    movie_help = (
        "a movieId (all digits) or a title, resolved as the bot does; --titles reads every "
        "MOVIE as a title (for films called '300' or '1917')"
    )
    recommend = subparsers.add_parser(
        "recommend",
        help="recommend movies for a set of favorites",
        description="Fold the favorites into the trained model and print recommendations "
        "(the bot's /recommend). Options that take several values end at the next option; "
        "put MOVIEs first or after '--'.",
    )
    _add_serving_common(recommend)
    recommend.add_argument("movies", nargs="+", metavar="MOVIE", help=f"favorites: {movie_help}")
    recommend.add_argument("-n", type=int, default=10, help="how many recommendations (default 10)")
    recommend.add_argument(
        "--dislike",
        nargs="+",
        action="extend",
        default=[],
        metavar="ID",
        help="movies that are not for me (never recommended; steer the list away)",
    )
    recommend.add_argument(
        "--seen",
        nargs="+",
        action="extend",
        default=[],
        metavar="ID",
        help="movies seen or hidden (never recommended)",
    )
    recommend.add_argument(
        "--genre",
        nargs="+",
        action="extend",
        default=[],
        metavar="G",
        help="only movies with any of these genres (MovieLens names, e.g. Sci-Fi)",
    )
    recommend.add_argument(
        "--exclude-genre",
        nargs="+",
        action="extend",
        default=[],
        metavar="G",
        help="no movie with any of these genres",
    )
    recommend.add_argument(
        "--years", default=None, metavar="A-B", help="release years: 1990-1999, 1990s, 1995-, -1980"
    )
    recommend.add_argument(
        "--recent", action="store_true", help="only the newest 10%% of the catalog"
    )
    recommend.add_argument("--discover", action="store_true", help="hidden gems: less-known movies")
    recommend.set_defaults(func=run_recommend)

    similar = subparsers.add_parser(
        "similar",
        help="movies similar to a movie",
        description="Print the movies most similar to each MOVIE (the bot's /similar).",
    )
    _add_serving_common(similar)
    similar.add_argument("movies", nargs="+", metavar="MOVIE", help=movie_help)
    similar.add_argument("-n", type=int, default=10, help="how many similar movies (default 10)")
    similar.set_defaults(func=run_similar)


def _add_serving_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        choices=sorted(RELEASES),
        default=None,
        help=f"MovieLens release (default: the settings', else {DEFAULT_RELEASE}); its model is "
        "loaded, or trained first when there is none",
    )
    parser.add_argument("--json", action="store_true", help="print JSON (one object per line)")
    parser.add_argument("--titles", action="store_true", help="read every MOVIE as a title")


def _serving(args: argparse.Namespace, settings: Any) -> tuple[Any, Any]:
    """(Recommender, TitleIndex) of the chosen release."""
    from recsys.engine import load_or_train
    from recsys.titles import TitleIndex

    dataset = _dataset(args, settings)
    path = (
        settings.resolved_model_path
        if dataset == getattr(settings, "dataset", None)
        else Path(settings.data_dir) / "models" / dataset
    )
    rec = load_or_train(settings.paths, dataset, path, progress=not args.json)
    return rec, TitleIndex.build(rec.catalog)


def resolve_movie(query: str, rec: Any, titles: Any, *, as_title: bool = False) -> int:
    """A movieId for MOVIE: all digits is a movieId, else a title resolved as the bot does."""
    from recsys.titles import MatchStatus

    text = query.strip()
    if text.isascii() and text.isdigit() and not as_title:
        movie_id = int(text)
        if movie_id not in rec.catalog.index:
            raise CliError(f"no movie has the movieId {movie_id} (use --titles for a title)")
        return movie_id
    res = titles.resolve(text)
    if res.status == MatchStatus.MATCHED and res.movie_id is not None:
        return int(res.movie_id)
    if res.error:
        raise CliError(f"{query!r}: {res.error}")
    options = "; ".join(f"{c.title} = {c.movie_id}" for c in res.candidates)
    if res.status == MatchStatus.AMBIGUOUS:
        raise CliError(f"{query!r} could be several movies: {options}; give the movieId")
    hint = f"; did you mean {options}?" if options else ""
    raise CliError(f"no movie matches {query!r}{hint}")


def parse_years(text: str) -> tuple[int | None, int | None]:
    """``1990-1999``, ``1990s`` (a decade), ``1995``, ``1995-`` or ``-1980`` → (first, last)."""
    from recsys.engine import FilterError

    value = text.strip().lower()
    try:
        if value.endswith("s") and value[:-1].isdigit() and len(value) == 5:
            start = int(value[:-1])
            if start % 10:
                raise FilterError(f"{text!r} is not a decade (say 1990s)")
            return start, start + 9
        if value.isdigit():
            return int(value), int(value)
        first, sep, last = value.partition("-")
        if sep and (first or last):
            return (int(first) if first else None), (int(last) if last else None)
    except ValueError:
        pass
    raise FilterError(f"{text!r} is not a year range; say 1990-1999, 1990s, 1995, 1995- or -1980")


def _print_error(message: str) -> None:
    print(f"moviebot: {message}", file=sys.stderr)


def run_recommend(args: argparse.Namespace, settings: Any) -> int:
    """``moviebot recommend``."""
    from recsys.artifact import ArtifactError
    from recsys.engine import FilterError, Filters

    try:
        rec, titles = _serving(args, settings)
        favorites = [resolve_movie(m, rec, titles, as_title=args.titles) for m in args.movies]
        dislikes = [resolve_movie(m, rec, titles) for m in args.dislike]
        seen = [resolve_movie(m, rec, titles) for m in args.seen]
        years = parse_years(args.years) if args.years else (None, None)
        filters = Filters(
            genres=frozenset(args.genre),
            exclude_genres=frozenset(args.exclude_genre),
            year_min=years[0],
            year_max=years[1],
            recent=args.recent,
        )
        if args.n < 1:
            raise CliError("-n must be at least 1")
        result = rec.recommend(
            favorites,
            args.n,
            dislikes=dislikes,
            seen=seen,
            filters=filters,
            discover=args.discover,
        )
    except (CliError, FilterError, ArtifactError) as exc:
        _print_error(str(exc))
        return 1
    _use_utf8()
    if args.json:
        print(json.dumps(recommend_json(result, favorites), ensure_ascii=False))
        return 0
    if result.fallback:
        print("None of the favorites is known to the model: the most-liked movies instead.")
    for movie in result.ignored:
        print(f"Not in the model (nobody liked it in the training data): {rec.title(movie)}")
    for movie in result.contradictory:
        print(f"Both liked and disliked, counted as disliked: {rec.title(movie)}")
    for i, item in enumerate(result.items, 1):
        because = ", ".join(rec.title(m) for m in item.because)
        tail = f"  (because of {because})" if because else ""
        print(f"{i:3}. {item.title} [{item.movie_id}]{tail}")
    if not result.items:
        print("No movie passes these filters.")
    return 0


def recommend_json(result: Any, favorites: list[int]) -> dict[str, Any]:
    """The JSON object of ``moviebot recommend --json``."""
    return {
        "favorites": favorites,
        "items": [
            {
                "movie_id": item.movie_id,
                "title": item.title,
                "score": round(item.score, 6),
                "because": list(item.because),
            }
            for item in result.items
        ],
        "fallback": result.fallback,
        "ignored": list(result.ignored),
        "contradictory": list(result.contradictory),
    }


def run_similar(args: argparse.Namespace, settings: Any) -> int:
    """``moviebot similar``: one block (or JSON line) per MOVIE; errors go to stderr."""
    from recsys.artifact import ArtifactError

    try:
        rec, titles = _serving(args, settings)
    except ArtifactError as exc:
        _print_error(str(exc))
        return 1
    if args.n < 1:
        _print_error("-n must be at least 1")
        return 1
    _use_utf8()
    status = 0
    for query in args.movies:
        try:
            movie_id = resolve_movie(query, rec, titles, as_title=args.titles)
            if not rec.knows(movie_id):
                raise CliError(
                    f"{rec.title(movie_id)} has no likes in the training data: "
                    "the model knows no similar movies"
                )
        except CliError as exc:
            _print_error(str(exc))
            status = 1
            continue
        similar = rec.similar(movie_id, args.n)
        if args.json:
            out = {
                "query": query,
                "movie_id": movie_id,
                "title": rec.title(movie_id),
                "similar": [
                    {"movie_id": s.movie_id, "title": s.title, "score": round(s.score, 6)}
                    for s in similar
                ],
            }
            print(json.dumps(out, ensure_ascii=False), flush=True)
            continue
        print(f"Similar to {rec.title(movie_id)} [{movie_id}]:")
        for i, s in enumerate(similar, 1):
            print(f"{i:3}. {s.title} [{s.movie_id}]")
    return status


def _use_utf8() -> None:
    """Write UTF-8 whatever the locale, so titles like "Léon" always print."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):
            reconfigure(encoding="utf-8", errors="replace")
