"""Start and stop the real ``moviebot run`` process against the Bot API emulator.

The process runs in a folder of its own (so no developer ``.env`` is read), with a fake token of
the right shape, every ``MOVIEBOT_*`` variable of the caller removed, and its stdout and stderr in
one log file that tests read to check that the token never appears. :meth:`BotProcess.kill`
sends SIGKILL (the crash a test wants), :meth:`BotProcess.stop` SIGTERM (a clean stop); both are
safe to call twice, and fixtures call :meth:`BotProcess.close` in their finalizer so a bot process
never outlives its test.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.emulator import BotCall, Emulator

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class BotConfig:
    """Everything a bot process needs besides the emulator."""

    model_path: Path
    movielens_dir: Path
    data_dir: Path
    database_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def env(self, emulator: Emulator) -> dict[str, str]:
        """The process environment: the caller's, minus its MOVIEBOT_*, plus this config."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOVIEBOT_")}
        env.update(
            OPENBLAS_NUM_THREADS="1",
            PYTHONUNBUFFERED="1",
            MOVIEBOT_TELEGRAM_TOKEN=emulator.token,
            MOVIEBOT_TELEGRAM_API_URL=emulator.base_url,
            MOVIEBOT_MOVIELENS_DIR=str(self.movielens_dir),
            MOVIEBOT_DATA_DIR=str(self.data_dir),
            MOVIEBOT_MODEL_PATH=str(self.model_path),
            MOVIEBOT_DATASET="ml-latest-small",
            MOVIEBOT_POLLING_TIMEOUT="5",
        )
        if self.database_url:
            env["MOVIEBOT_DATABASE_URL"] = self.database_url
        env.update(self.extra)
        return env


# Load tests measure the bot, not Telegram's flood limits: users and rates without caps.
UNLIMITED = {
    "MOVIEBOT_FLOOD_COMMANDS": "1000000",
    "MOVIEBOT_TELEGRAM_MAX_RATE": "0",
    "MOVIEBOT_TELEGRAM_GROUP_RATE": "0",
}


class BotProcess:
    """One ``moviebot run`` subprocess; its output goes to ``log_path`` (appended per start)."""

    def __init__(self, emulator: Emulator, config: BotConfig, log_path: Path) -> None:
        self.emulator = emulator
        self.config = config
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, *, wait: bool = True, timeout: float = 60.0) -> float:
        """Start the process; with ``wait``, return once it polls (seconds it took)."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("the bot process is already running")
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        polls_before = self.emulator.poll_requests
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run"],
                cwd=self.config.data_dir,
                env={**self.config.env(self.emulator), "PYTHONPATH": str(REPO)},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.starts += 1
        if wait:
            try:
                self.wait_polling(polls_before, began + timeout)
            except BaseException:
                self.kill()  # never leave a half-started bot behind
                raise
        return time.monotonic() - began

    def wait_polling(self, polls_before: int, deadline: float) -> None:
        """Block until the process has sent a getUpdates since ``polls_before``."""
        while self.emulator.poll_requests <= polls_before:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the bot exited with {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bot did not start polling:\n{self.tail()}")
            time.sleep(0.02)

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, no offset confirmation, like a crash or an OOM kill."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait for a clean exit (SIGKILL after ``timeout``); the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def close(self) -> None:
        """Finalizer: make sure the process is gone."""
        self.kill()

    def log(self) -> str:
        """Everything the process wrote to stdout and stderr, all starts."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text("utf-8", errors="replace")

    def tail(self, lines: int = 40) -> str:
        """The last lines of the log (for failure messages)."""
        return "\n".join(self.log().splitlines()[-lines:])


class Killer:
    """Kills the bot (SIGKILL) when the emulator records its ``after``-th reply."""

    def __init__(self, emu: Emulator, bot: BotProcess, after: int) -> None:
        self.emu, self.bot, self.after = emu, bot, after
        self.replies = 0
        self.done = threading.Event()
        self.seq = 0
        self.at = 0.0
        self.unconfirmed: list[int] = []

    def __call__(self, call: BotCall) -> None:
        if call.method != "sendMessage" or self.done.is_set():
            return
        self.replies += 1
        if self.replies >= self.after and self.bot.proc is not None:
            os.kill(self.bot.proc.pid, signal.SIGKILL)
            self.at = time.monotonic()
            self.seq = call.seq
            self.unconfirmed = self.emu.pending_update_ids()
            self.done.set()


# ---------------------------------------------------------------------------------------------
# Load: many users at once, each waiting for the answer before the next command


@dataclass(frozen=True)
class Movie:
    """A movie whose full title resolves to exactly this movie."""

    movie_id: int
    title: str


@dataclass(frozen=True)
class Op:
    """One user command: ``like``/``unlike`` a movie, ``recommend`` or ``favorites``."""

    kind: str
    movie: Movie | None = None

    @property
    def text(self) -> str:
        """The message the user types."""
        return f"/{self.kind} {self.movie.title}" if self.movie else f"/{self.kind}"


@dataclass
class Exchange:
    """A command and what came back (``reply`` is None when it never did)."""

    op: Op
    update_id: int
    message_id: int
    reply: BotCall | None = None
    latency: float | None = None


def movie_pool(catalog: Any, resolve: Callable[[str], Any], size: int = 40) -> list[Movie]:
    """The most liked movies whose full MovieLens title resolves to themselves."""
    pool: list[Movie] = []
    for movie_id, title in catalog.sort_values("likes", ascending=False)["title"].items():
        if resolve(title).movie_id == movie_id and "  " not in title:
            pool.append(Movie(int(movie_id), str(title)))
        if len(pool) == size:
            break
    return pool


def plan_chat(
    rng: random.Random,
    pool: Sequence[Movie],
    commands: int,
    *,
    mix: Sequence[tuple[str, float]] = (
        ("like", 0.5),
        ("unlike", 0.2),
        ("recommend", 0.15),
        ("favorites", 0.15),
    ),
) -> list[Op]:
    """A random session; ``unlike`` mostly picks a movie the chat liked before."""
    kinds, weights = zip(*mix, strict=True)
    liked: list[Movie] = []
    ops: list[Op] = []
    for _ in range(commands):
        kind = rng.choices(kinds, weights)[0]
        if kind == "like":
            movie = rng.choice(pool)
            liked.append(movie)
            ops.append(Op("like", movie))
        elif kind == "unlike":
            movie = rng.choice(liked) if liked and rng.random() < 0.8 else rng.choice(pool)
            ops.append(Op("unlike", movie))
        else:
            ops.append(Op(kind))
    return ops


async def run_chat(
    emu: Emulator,
    chat_id: int,
    ops: Sequence[Op],
    *,
    reply_timeout: float,
    group: bool = False,
    exchanges: list[Exchange] | None = None,
    stop: asyncio.Event | None = None,
) -> list[Exchange]:
    """One user: send each command, wait for its answer, then send the next.

    In a group the bot quotes the command it answers, so a reply is matched to its command even
    when a restarted bot answers a redelivered one a second time. ``exchanges`` (appended to as
    the user goes) lets a test watch the session live; ``stop`` ends it early.
    """
    extra: dict[str, Any] = {"chat_type": "supergroup", "user_id": 7} if group else {}
    exchanges = [] if exchanges is None else exchanges
    for op in ops:
        if stop is not None and stop.is_set():
            break
        after = emu.mark()
        update = emu.user_sends(chat_id, op.text, **extra)
        exchange = Exchange(op, update["update_id"], update["message"]["message_id"])
        exchanges.append(exchange)
        try:
            reply = await emu.wait_for_reply(
                chat_id,
                after=after,
                timeout=reply_timeout,
                reply_to=exchange.message_id if group else None,
            )
        except TimeoutError:
            break
        exchange.reply = reply
        exchange.latency = reply.at - emu.update_time(exchange.update_id)
    return exchanges


@dataclass
class LoadReport:
    """Every chat's exchanges and the wall time of the whole load."""

    chats: dict[int, list[Exchange]]
    elapsed: float

    @property
    def answered(self) -> list[Exchange]:
        """Exchanges that got a reply."""
        return [e for ex in self.chats.values() for e in ex if e.reply is not None]

    def latencies(self) -> list[float]:
        """Seconds from each user's message to the bot's reply."""
        return [e.latency for e in self.answered if e.latency is not None]

    def summary(self) -> str:
        """Commands, throughput, p50 and p99 latency in one line."""
        lat = sorted(self.latencies())
        if not lat:
            return "no replies"
        p50 = lat[len(lat) // 2]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        return (
            f"{len(lat)} commands in {self.elapsed:.1f} s: {len(lat) / self.elapsed:.1f} "
            f"commands/s, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
        )


async def run_load(
    emu: Emulator,
    plans: dict[int, list[Op]],
    *,
    reply_timeout: float = 30.0,
    group: bool = False,
    report: LoadReport | None = None,
    stop: asyncio.Event | None = None,
) -> LoadReport:
    """All chats at once, each a user who waits for the answer before the next command.

    ``report`` (filled as the users go) lets a test watch the load while it runs.
    """
    report = report if report is not None else LoadReport({}, 0.0)
    for chat_id in plans:
        report.chats[chat_id] = []
    began = time.monotonic()
    await asyncio.gather(
        *(
            run_chat(
                emu,
                chat_id,
                ops,
                reply_timeout=reply_timeout,
                group=group,
                exchanges=report.chats[chat_id],
                stop=stop,
            )
            for chat_id, ops in plans.items()
        )
    )
    report.elapsed = time.monotonic() - began
    return report


def expected_favorites(
    exchanges: Sequence[Exchange],
    *,
    unavailable: str | None = None,
    removed_at: int | None = None,
    removed: frozenset[int] = frozenset(),
) -> list[int]:
    """Replay what the bot acknowledged and check every answer against that state.

    Returns the favorites the acknowledged commands imply, in the order they were added.
    Raises AssertionError when an answer contradicts the state (e.g. "Added" twice).

    Args:
        exchanges: one chat's commands and answers, in order.
        unavailable: the text of a "temporarily unavailable" answer (the command changed nothing).
        removed_at: the emulator sequence number at which a test removed movies behind the bot's
            back (directly in the database); answers after it see them gone.
        removed: those movie ids.
    """
    try:
        return _replay(exchanges, unavailable, removed_at, removed)
    except AssertionError as error:
        raise AssertionError(f"{error}\nthis chat's session:\n{history(exchanges)}") from None


def history(exchanges: Sequence[Exchange]) -> str:
    """One line per command: what the user sent and the start of the answer."""
    return "\n".join(
        f"  {e.update_id} {e.op.text[:50]!r} -> "
        f"{(e.reply.text[:70] if e.reply else None)!r} (seq {e.reply.seq if e.reply else '-'})"
        for e in exchanges
    )


def _replay(
    exchanges: Sequence[Exchange],
    unavailable: str | None,
    removed_at: int | None,
    removed: frozenset[int],
) -> list[int]:
    from bot import texts

    state: list[Movie] = []
    pending_removal = removed_at is not None
    for exchange in exchanges:
        reply, op, movie = exchange.reply, exchange.op, exchange.op.movie
        if reply is None:
            break
        if pending_removal and removed_at is not None and reply.seq > removed_at:
            state = [m for m in state if m.movie_id not in removed]
            pending_removal = False
        if unavailable is not None and reply.html == unavailable:
            continue
        if op.kind == "like" and movie is not None:
            if movie in state:
                assert reply.html == texts.already(movie.title), (op, reply.html)
            else:
                state.append(movie)
                # Without the count when the list could not be read after the committed add.
                assert reply.html in (
                    texts.added(movie.title, len(state)),
                    texts.added(movie.title, None),
                ), (op, reply.html)
        elif op.kind == "unlike" and movie is not None:
            if movie in state:
                state.remove(movie)
                assert reply.html == texts.removed(movie.title, len(state)), (op, reply.html)
            else:
                assert reply.html == texts.not_a_favorite(movie.title), (op, reply.html)
        elif op.kind == "favorites":
            assert reply.html == _favorites_text(state), (op, reply.html)
        elif op.kind == "recommend":
            head = "<b>10 movies for you</b>" if state else "You have no favorites"
            assert reply.html.startswith(head), (op, reply.html)
    if pending_removal:
        state = [m for m in state if m.movie_id not in removed]
    return [m.movie_id for m in state]


def unacknowledged_changes(
    exchanges: Sequence[Exchange], favorites: Sequence[int], unavailable: str
) -> set[int]:
    """Movies where the database differs from what the answers said, if all of them were named
    in a /like or /unlike answered ``unavailable`` (a change made although the user was told it
    was not); raises AssertionError for any other difference.
    """
    said: list[int] = []
    suspects: set[int] = set()
    for exchange in exchanges:
        reply, movie = exchange.reply, exchange.op.movie
        if reply is None or movie is None:
            continue
        if reply.html == unavailable:
            suspects.add(movie.movie_id)
        elif reply.html.startswith("Added ") and movie.movie_id not in said:
            said.append(movie.movie_id)
        elif reply.html.startswith("Removed ") and movie.movie_id in said:
            said.remove(movie.movie_id)
    differ = set(said) ^ set(favorites)
    assert differ <= suspects, (
        f"database {list(favorites)} vs answers {said}:\n{history(exchanges)}"
    )
    return differ


def _favorites_text(state: Sequence[Movie], page_size: int = 15) -> str:
    from bot import texts

    if not state:
        return texts.favorites_empty()
    return texts.favorites_page([m.title for m in state[:page_size]], first=1, total=len(state))
