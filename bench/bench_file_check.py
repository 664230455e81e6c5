"""The cost of detecting a deleted or replaced SQLite file: one ``stat`` before each COMMIT.

Runs ``FavoritesStore.add`` (with an ``update_id``, as the bot does) on a fresh SQLite file in a
temporary folder, alternating rounds with the check on and with it replaced by a no-op (the
reference, in the same process), and prints the median CPU and wall time per change of each and
the difference; plus the bare ``os.stat`` of the file.

    nice .venv/bin/python -m bench.bench_file_check            # --rounds 10 --calls 300
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot.store import FavoritesStore, _SqliteDatabase


async def measure(
    store: FavoritesStore, chat: int, calls: int, first_update: int
) -> tuple[float, float]:
    """Median CPU and wall seconds of ``calls`` adds in one chat."""
    cpu: list[float] = []
    wall: list[float] = []
    for i in range(calls):
        c0, w0 = time.process_time(), time.perf_counter()
        await store.add(chat, 1 + i, update_id=first_update + i)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


async def main(rounds: int, calls: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        store = await FavoritesStore.open(f"sqlite:///{path}", limit=calls + 1)
        check = _SqliteDatabase.check_file
        results: dict[str, list[tuple[float, float]]] = {"with the check": [], "without": []}
        update = 1
        try:
            await measure(store, 0, 50, 10**9)  # warm up
            for r in range(rounds):
                for name in (
                    ("with the check", "without") if r % 2 else ("without", "with the check")
                ):
                    if name == "without":
                        _SqliteDatabase.check_file = lambda self: None  # type: ignore[method-assign]
                    else:
                        _SqliteDatabase.check_file = check  # type: ignore[method-assign]
                    results[name].append(
                        await measure(store, 1000 * r + len(results[name]) + 1, calls, update)
                    )
                    update += calls
        finally:
            _SqliteDatabase.check_file = check  # type: ignore[method-assign]
            await store.close()
        database = store._database
        assert isinstance(database, _SqliteDatabase)
        database.pin()  # the store was closed above: pin again for the direct timing
        n = 100_000
        t0 = time.perf_counter()
        for _ in range(n):
            database.check_file()
        check_us = (time.perf_counter() - t0) / n * 1e6
    print(f"SQLite add with update_id, {rounds} rounds x {calls} calls, median per call:")
    medians = {}
    for name, values in results.items():
        cpu = statistics.median(v[0] for v in values) * 1e3
        wall = statistics.median(v[1] for v in values) * 1e3
        medians[name] = (cpu, wall)
        print(f"  {name:15} CPU {cpu:.3f} ms   wall {wall:.3f} ms")
    on, off = medians["with the check"], medians["without"]
    cpu_us, wall_us = 1e3 * (on[0] - off[0]), 1e3 * (on[1] - off[1])
    print(f"  difference      CPU {cpu_us:+.1f} us   wall {wall_us:+.1f} us")
    print(f"check_file alone (stat + compare): {check_us:.2f} us per call")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=300)
    options = parser.parse_args()
    asyncio.run(main(options.rounds, options.calls))
