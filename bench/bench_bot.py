"""CPU time per /like and per /recommend through the whole Telegram Application.

Each command is a real ``Update`` fed to ``app.process_update`` (handlers, service, title
resolution, model, SQLite store, rendering, and the request layer that records the Bot API calls
instead of sending them). The figure is ``time.process_time`` (CPU of every thread of the process,
so the worker threads of ``asyncio.to_thread`` and aiosqlite count) per command: median and p90.
For reference, the same process measures the parts alone: ``TitleIndex.resolve``,
``Recommender.recommend`` and ``FavoritesStore.add``.

Target (issue 4): median <= 5 ms per /like and per /recommend on ml-latest-small; issue 9: the
same for /recommend with a filter and with 20 dislikes/seen, printed beside the plain /recommend
of the same run.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_bot.py [--likes 400] [--recommends 200]

The model comes from MOVIEBOT_MODEL_PATH, else data/models/ml-latest-small (trained there from
MOVIEBOT_MOVIELENS_DIR, default ../shared/data/movielens, if missing).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from telegram import (  # noqa: E402
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)

from bot import telegram_app  # noqa: E402
from bot.service import MovieBot, Rows  # noqa: E402
from bot.store import FavoritesStore, Mark  # noqa: E402
from recsys.engine import Recommender, load_or_train  # noqa: E402
from recsys.movielens import DataPaths  # noqa: E402
from recsys.titles import TitleIndex  # noqa: E402
from tests.fixtures_bot import message_update, start_harness  # noqa: E402


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


def summary(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    return f"median {statistics.median(ms):6.2f} ms   p90 {p90:6.2f} ms   (n={len(ms)})"


async def cpu_each(calls: list[Callable[[], Awaitable[Any]]]) -> list[float]:
    samples = []
    for call in calls:
        start = time.process_time()
        await call()
        samples.append(time.process_time() - start)
    return samples


def cpu_each_sync(calls: list[Callable[[], Any]]) -> list[float]:
    samples = []
    for call in calls:
        start = time.process_time()
        call()
        samples.append(time.process_time() - start)
    return samples


async def main(likes: int, recommends: int) -> None:
    rec = model()
    titles = TitleIndex.build(rec.catalog)
    popular = rec.catalog.sort_values("likes", ascending=False)
    queries = [str(t) for t in popular["title"].head(likes)]
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

        # warm-up: first calls load caches and thread pools
        for call in [feed(1, "/like toy story"), feed(1, "/recommend"), feed(1, "/help")]:
            await call()
        like_cpu = await cpu_each(
            [feed(1000 + i % 40, f"/like {q}") for i, q in enumerate(queries)]
        )
        added = sum([len(await store.favorites(1000 + c)) for c in range(40)])
        rec_cpu = await cpu_each([feed(1000 + i % 40, "/recommend") for i in range(recommends)])
        filter_cpu = await cpu_each(
            [feed(1000 + i % 40, "/recommend comedy 90s") for i in range(recommends)]
        )
        # 20 dislikes and seen movies per chat (10 each), from the popular end of the catalog
        for chat in range(40):
            for k, m in enumerate(popular.index[likes : likes + 20]):
                kind = Mark.DISLIKE if k % 2 else Mark.SEEN
                await store.mark(1000 + chat, int(m), kind)
        marked_cpu = await cpu_each([feed(1000 + i % 40, "/recommend") for i in range(recommends)])
        sent = len(harness.request.sent())
        # The same /recommend with PTB's own keyboard objects instead of bot.telegram_app.Keyboard
        # (does the keyboard fast path matter?).
        fast_keyboard = telegram_app.keyboard
        telegram_app.keyboard = ptb_keyboard
        try:
            ptb_cpu = await cpu_each([feed(1000 + i % 40, "/recommend") for i in range(recommends)])
        finally:
            telegram_app.keyboard = fast_keyboard

        favorites = await store.favorites(1000)
        resolve_cpu = cpu_each_sync([partial(titles.resolve, q) for q in queries])
        recommend_cpu = cpu_each_sync([lambda: rec.recommend(favorites, 10)] * recommends)
        add_cpu = await cpu_each([partial(store.add, 5000, int(m)) for m in popular.index[:likes]])
        rows = (await moviebot.command(1000, "recommend"))[0].buttons
        keyboard_cpu = cpu_each_sync([lambda: telegram_app.Keyboard(rows).to_dict()] * 1000)
        ptb_cpu_alone = cpu_each_sync([lambda: ptb_json(rows)] * 1000)
        await harness.app.shutdown()
        await store.close()

    print(
        f"ml-latest-small, {rec.n_items} movies in the model; {added} favorites added by "
        f"{likes} /like over 40 chats; {sent} messages recorded"
    )
    print(f"/like       through the Application: {summary(like_cpu)}")
    print(
        f"/recommend  through the Application: {summary(rec_cpu)}"
        f"  (chats with ~{added // 40} favorites)"
    )
    print(f"/recommend comedy 90s (a filter):        {summary(filter_cpu)}")
    print(f"/recommend, 10 dislikes + 10 seen a chat: {summary(marked_cpu)}")
    print(f"/recommend  with PTB's keyboard objects: {summary(ptb_cpu)}")
    print("reference, the parts alone:")
    print(f"  TitleIndex.resolve:        {summary(resolve_cpu)}")
    print(f"  Recommender.recommend:     {summary(recommend_cpu)}  ({len(favorites)} favorites)")
    print(f"  FavoritesStore.add:        {summary(add_cpu)}")
    print(f"  Keyboard JSON ({sum(map(len, rows))} buttons): {summary(keyboard_cpu)}")
    print(f"  PTB's keyboard objects:    {summary(ptb_cpu_alone)}")
    print("target: median <= 5 ms per /like and per /recommend")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--likes", type=int, default=400)
    parser.add_argument("--recommends", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.likes, args.recommends))
