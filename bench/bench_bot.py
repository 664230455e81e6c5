"""CPU time per /like and per /recommend through the whole Telegram Application.

Each command is a real ``Update`` fed to ``app.process_update`` (handlers, service, title
resolution, model, SQLite store, rendering, and the request layer that records the Bot API calls
instead of sending them). The figure is ``time.process_time`` (CPU of every thread of the process,
so the worker threads of ``asyncio.to_thread`` and of the store count) per command: median and
p90. For reference, the same process measures the parts alone: ``TitleIndex.resolve``,
``Recommender.recommend``, the store's ``add``, ``favorites``, ``state``, ``save_shown`` and
``make_shown`` (what /recommend runs: the state read, the pick and the write in one transaction).

Target (issue 4): median <= 5 ms per /like and per /recommend on ml-latest-small; issue 9: the
same for /recommend with a filter and with 20 dislikes/seen; issue 8: not worse than the code
before the refactor. ``--reference PATH`` (repeatable) compares this tree with other checkouts
(e.g. ``git worktree add --detach ../ref-d43644e d43644e``) in the same run: each tree runs the
same scenario in its own process (``PYTHONPATH`` = that tree, this venv), the trees alternate
for ``--rounds`` rounds, and the pooled medians are printed side by side. A scenario a tree's
code does not have (filters, dislikes before issue 9) is left out for that tree. CPU time moves
by +-30 % with the machine's load; ``--calls main|workers`` counts Python function calls per
command instead (the event loop's thread, or the worker threads), the same in every run, and
``--count-calls`` adds those counts for every tree of a ``--reference`` run. bench/README.md
has the figures.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_bot.py [--likes 400] [--recommends 200]
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_bot.py --rounds 12 --recommends 100 \
        --count-calls --reference ../ref-d43644e --reference ../ref-325d195

The model comes from MOVIEBOT_MODEL_PATH, else data/models/ml-latest-small (trained there from
MOVIEBOT_MOVIELENS_DIR, default ../shared/data/movielens, if missing). A reference tree gets its
own model, trained by its own code into data/models/bench-<commit>/ of this tree.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
TREE = Path(os.environ.get("MOVIEBOT_BENCH_TREE", REPO))
"""The checkout whose code is measured (set by ``--reference`` for its worker processes)."""
sys.path.insert(0, str(TREE))

from telegram import (  # noqa: E402
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)

import bot.store as bot_store  # noqa: E402
from bot import telegram_app  # noqa: E402
from bot.service import MovieBot, Rows  # noqa: E402
from bot.store import FavoritesStore  # noqa: E402
from recsys.engine import Recommender, load_or_train  # noqa: E402
from recsys.movielens import DataPaths  # noqa: E402
from recsys.titles import TitleIndex  # noqa: E402
from tests.fixtures_bot import message_update, start_harness  # noqa: E402

RESULT = "BENCH-RESULT "
"""The prefix of a worker's one line of JSON on stdout."""

LIKE = "/like"
RECOMMEND = "/recommend"
FILTER = "/recommend comedy 90s"
MARKED = "/recommend, 10 dislikes + 10 seen a chat"
PTB_KEYBOARD = "/recommend with PTB's keyboard objects"
COMMANDS = (LIKE, RECOMMEND, FILTER, MARKED, PTB_KEYBOARD)

Samples = dict[str, list[float]]


def model() -> Recommender:
    movielens = Path(
        os.environ.get("MOVIEBOT_MOVIELENS_DIR", REPO.parent / "shared" / "data" / "movielens")
    )
    path = Path(os.environ.get("MOVIEBOT_MODEL_PATH", REPO / "data" / "models" / "ml-latest-small"))
    paths = DataPaths(data_dir=REPO / "data", movielens_dir=movielens)
    return load_or_train(paths, "ml-latest-small", path, progress=False)


def ptb_keyboard(rows: Rows) -> InlineKeyboardMarkup | None:
    """The keyboard built from PTB's objects (what bot.telegram_app.Keyboard replaces)."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.label, url=b.url)
                if b.url is not None
                else InlineKeyboardButton(b.label, callback_data=b.data)
                for b in row
            ]
            for row in rows
        ]
    )


def ptb_json(rows: Rows) -> object:
    markup = ptb_keyboard(rows)
    return markup.to_dict() if markup is not None else None


def ms(samples: list[float]) -> tuple[float, float]:
    """Median and p90 of ``samples`` (seconds), in milliseconds."""
    values = sorted(s * 1000 for s in samples)
    return statistics.median(values), values[min(len(values) - 1, int(0.9 * len(values)))]


def summary(samples: list[float]) -> str:
    median, p90 = ms(samples)
    return f"median {median:6.2f} ms   p90 {p90:6.2f} ms   (n={len(samples)})"


METER: Callable[[], float] = time.process_time
"""What a sample measures: CPU seconds, or with ``--calls`` Python function calls (see
:func:`count_calls`), which do not vary with the machine's load."""


async def cpu_each(calls: list[Callable[[], Awaitable[Any]]]) -> list[float]:
    samples = []
    for call in calls:
        start = METER()
        await call()
        samples.append(METER() - start)
    return samples


def cpu_each_sync(calls: list[Callable[[], Any]]) -> list[float]:
    samples = []
    for call in calls:
        start = METER()
        call()
        samples.append(METER() - start)
    return samples


def count_calls(threads: str) -> None:
    """Make :data:`METER` count Python function calls, in the ``main`` thread or the ``workers``.

    The event loop's thread runs the handlers, the service, the texts and python-telegram-bot;
    the worker threads the store's transactions, title resolution and the model. A count is the
    same in every run of the same code: a comparison that the machine's load cannot blur.
    """
    main = threading.get_ident()
    counts: dict[int, int] = {}

    def hook(frame: object, event: str, arg: object) -> None:
        if event == "call":  # each thread writes only its own key: no count is lost
            ident = threading.get_ident()
            counts[ident] = counts.get(ident, 0) + 1

    def meter() -> float:
        if threads == "main":
            return counts.get(main, 0) / 1e6  # printed "in ms": thousands of calls
        return sum(n for ident, n in counts.items() if ident != main) / 1e6

    global METER
    METER = meter
    threading.setprofile(hook)  # threads started from now on (the store's, asyncio's pool)
    sys.setprofile(hook)


async def scenario(likes: int, recommends: int) -> dict[str, Any]:
    """Run every command this tree's code has; CPU samples per command and per part alone."""
    # dislikes, seen and filters arrived with issue 9: a tree without them skips those commands
    marks = importlib.util.find_spec("bot.steering") is not None and hasattr(bot_store, "Mark")
    rec = model()
    titles = TitleIndex.build(rec.catalog)
    popular = rec.catalog.sort_values("likes", ascending=False)
    queries = [str(t) for t in popular["title"].head(likes)]
    commands: Samples = {}
    parts: Samples = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = await FavoritesStore.open(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}")
        # The recording layer answers canned JSON without validating (validation is the
        # tests' job, and its HTML parser would cost more than the bot itself).
        moviebot = MovieBot(rec, titles, store)
        harness = await start_harness(moviebot, validate=False)
        bot = harness.app.bot

        def feed(chat: int, text: str) -> Callable[[], Awaitable[None]]:
            return lambda: harness.app.process_update(
                Update.de_json(message_update(chat, text), bot)
            )

        def recommend(text: str) -> list[Callable[[], Awaitable[None]]]:
            return [feed(1000 + i % 40, text) for i in range(recommends)]

        # warm-up: first calls load caches and thread pools
        for call in [feed(1, "/like toy story"), feed(1, "/recommend"), feed(1, "/help")]:
            await call()
        commands[LIKE] = await cpu_each(
            [feed(1000 + i % 40, f"/like {q}") for i, q in enumerate(queries)]
        )
        added = sum([len(await store.favorites(1000 + c)) for c in range(40)])
        commands[RECOMMEND] = await cpu_each(recommend("/recommend"))
        if marks:
            commands[FILTER] = await cpu_each(recommend("/recommend comedy 90s"))
            # 20 dislikes and seen movies per chat (10 each), from the popular end of the catalog
            for chat in range(40):
                for k, m in enumerate(popular.index[likes : likes + 20]):
                    kind = bot_store.Mark.DISLIKE if k % 2 else bot_store.Mark.SEEN
                    await store.mark(1000 + chat, int(m), kind)
            commands[MARKED] = await cpu_each(recommend("/recommend"))
        # The same /recommend with PTB's own keyboard objects instead of bot.telegram_app.Keyboard
        # (does the keyboard fast path matter?).
        fast_keyboard = getattr(telegram_app, "keyboard", None)
        if fast_keyboard is not None:
            telegram_app.keyboard = ptb_keyboard
            try:
                commands[PTB_KEYBOARD] = await cpu_each(recommend("/recommend"))
            finally:
                telegram_app.keyboard = fast_keyboard
        sent = len(harness.request.sent())

        favorites = await store.favorites(1000)
        parts["TitleIndex.resolve"] = cpu_each_sync([partial(titles.resolve, q) for q in queries])
        parts[f"Recommender.recommend ({len(favorites)} favorites)"] = cpu_each_sync(
            [lambda: rec.recommend(favorites, 10)] * recommends
        )
        parts["FavoritesStore.add"] = await cpu_each(
            [partial(store.add, 5000, int(m)) for m in popular.index[:likes]]
        )
        chats = [1000 + i % 40 for i in range(recommends)]
        parts["FavoritesStore.favorites"] = await cpu_each(
            [partial(store.favorites, c) for c in chats]
        )
        if marks:  # what /recommend reads and writes since issue 9
            parts["FavoritesStore.state"] = await cpu_each([partial(store.state, c) for c in chats])
            shown = await store.shown(1000)
            assert shown is not None
            new_list = bot_store.ShownList(0, shown.query, shown.movies, shown.because)
            parts["FavoritesStore.save_shown"] = await cpu_each(
                [
                    partial(store.save_shown, c, new_list, update_id=10**6 + i)
                    for i, c in enumerate(chats)
                ]
            )
            if hasattr(store, "make_shown"):  # /recommend's one transaction (state, pick, save)
                parts["FavoritesStore.make_shown"] = await cpu_each(
                    [
                        partial(
                            store.make_shown, c, lambda state: new_list, update_id=2 * 10**6 + i
                        )
                        for i, c in enumerate(chats)
                    ]
                )
        if fast_keyboard is not None:
            rows = (await moviebot.command(1000, "recommend"))[0].buttons
            buttons = sum(map(len, rows))
            parts[f"Keyboard JSON ({buttons} buttons)"] = cpu_each_sync(
                [lambda: telegram_app.Keyboard(rows).to_dict()] * 1000
            )
            parts["PTB's keyboard objects"] = cpu_each_sync([lambda: ptb_json(rows)] * 1000)
        await harness.app.shutdown()
        await store.close()
    info = (
        f"ml-latest-small, {rec.n_items} movies in the model; {added} favorites added by "
        f"{likes} /like over 40 chats (~{added // 40} a chat); {sent} messages recorded"
    )
    return {"commands": commands, "parts": parts, "info": info}


def print_single(result: dict[str, Any], calls: str | None = None) -> None:
    print(result["info"])
    if calls:
        print(f"Python function calls in the {calls} thread(s), in thousands where it says ms")
    for name, samples in result["commands"].items():
        print(f"{name:42} {summary(samples)}")
    print("reference, the parts alone:")
    for name, samples in result["parts"].items():
        print(f"  {name:40} {summary(samples)}")
    print("target: median <= 5 ms per /like and per /recommend")


# ---------------------------------------------------------------------------------------------
# Several trees in the same run


def label(tree: Path) -> str:
    """The tree's short commit, ``+changes`` when its work tree differs from it."""
    git = ["git", "-C", str(tree)]
    commit = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (commit or tree.name) + ("+changes" if dirty else "")


def run_worker(tree: Path, likes: int, recommends: int, calls: str | None = None) -> dict[str, Any]:
    """The scenario in a fresh process on ``tree``'s code (this venv, this script)."""
    env = dict(os.environ, MOVIEBOT_BENCH_TREE=str(tree), PYTHONPATH=str(tree))
    if tree != REPO:  # its own artifact: another version may not read (or may replace) ours
        commit = label(tree).removesuffix("+changes")
        env["MOVIEBOT_MODEL_PATH"] = str(
            REPO / "data" / "models" / f"bench-{commit}" / "ml-latest-small"
        )
    command = [sys.executable, __file__, "--worker", "--likes", str(likes)]
    command += ["--recommends", str(recommends), *(["--calls", calls] if calls else [])]
    done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"the benchmark failed on {tree}:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix(RESULT))
    return result


def compare(
    trees: list[Path], rounds: int, likes: int, recommends: int, *, calls: bool = False
) -> None:
    """Alternate the trees ``rounds`` times; print each command's pooled median per tree.

    With ``calls``, each tree also runs once counting Python function calls (the main thread,
    then the worker threads; 50 of each /recommend).
    """
    names = [label(t) for t in trees]
    pooled: list[dict[str, Samples]] = [{"commands": {}, "parts": {}} for _ in trees]
    info = ""
    load = [os.getloadavg()[0]]
    for r in range(rounds):
        order = list(range(len(trees)))
        order = order[r % len(order) :] + order[: r % len(order)]
        for i in order:
            start = time.perf_counter()
            result = run_worker(trees[i], likes, recommends)
            print(f"round {r + 1}: {names[i]} ({time.perf_counter() - start:.0f} s)", flush=True)
            info = result["info"] if i == 0 else info
            for kind in ("commands", "parts"):
                for name, samples in result[kind].items():
                    pooled[i][kind].setdefault(name, []).extend(samples)
            load.append(os.getloadavg()[0])
    print(info)
    print(
        f"{rounds} rounds, trees alternating; load average {min(load):.1f}-{max(load):.1f}; "
        "CPU per command, median (p90) in ms; - : the tree has no such command"
    )
    table(names, pooled, ("commands", "parts"))
    if not calls:
        return
    counted: list[Samples] = [{} for _ in trees]
    for i, tree in enumerate(trees):
        for threads in ("main", "workers"):
            result = run_worker(tree, likes, min(recommends, 50), threads)
            for name, samples in result["commands"].items():
                counted[i][f"{name} [{threads}]"] = samples
    print(
        "Python function calls per command, median (p90) in thousands: [main] the event loop's "
        "thread (handlers, service, texts, python-telegram-bot), [workers] the worker threads "
        "(store, title resolution, model)"
    )
    rows = [(f"{c} [{t}]") for t in ("main", "workers") for c in COMMANDS]
    table(names, [{"calls": {r: c[r] for r in rows if r in c}} for c in counted], ("calls",))


def table(names: list[str], pooled: list[dict[str, Samples]], kinds: tuple[str, ...]) -> None:
    """One row per measured thing, one column per tree: median (p90)."""
    width = max(16, *(len(n) + 2 for n in names))
    print(f"{'':50}" + "".join(f"{n:>{width}}" for n in names))
    for kind in kinds:
        if kind == "parts":
            print("reference, the parts alone:")
        rows = list(dict.fromkeys(name for p in pooled for name in p[kind]))
        for row in rows:
            cells = []
            for p in pooled:
                samples = p[kind].get(row)
                cell = "-" if not samples else "{:.2f} ({:.2f})".format(*ms(samples))
                cells.append(f"{cell:>{width}}")
            print(f"{row:50}" + "".join(cells))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--likes", type=int, default=400)
    parser.add_argument("--recommends", type=int, default=200)
    parser.add_argument(
        "--reference",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="another checkout to measure in the same run (repeatable)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="with --reference: runs per tree")
    parser.add_argument(
        "--calls",
        choices=("main", "workers"),
        help="count Python function calls (thousands) instead of CPU time, in those threads",
    )
    parser.add_argument(
        "--count-calls",
        action="store_true",
        help="with --reference: also count each tree's function calls (main and worker threads)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.calls and not args.reference:
        count_calls(args.calls)
    if args.reference:
        trees = [REPO, *(p.resolve() for p in args.reference)]
        compare(trees, args.rounds, args.likes, args.recommends, calls=args.count_calls)
    elif args.worker:
        result = asyncio.run(scenario(args.likes, args.recommends))
        print(RESULT + json.dumps(result), flush=True)
    else:
        print_single(asyncio.run(scenario(args.likes, args.recommends)), args.calls)
