"""Start and stop the real ``moviebot run`` process against the Bot API emulator.

The process runs in a folder of its own (so no developer ``.env`` is read), with a fake token of
the right shape, every ``MOVIEBOT_*`` variable of the caller removed, and its stdout and stderr in
one log file that tests read to check that the token never appears. :meth:`BotProcess.kill`
sends SIGKILL (the crash a test wants), :meth:`BotProcess.stop` SIGTERM (a clean stop); both are
safe to call twice, and fixtures call :meth:`BotProcess.close` in their finalizer so a bot process
never outlives its test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.emulator import Emulator

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
UNLIMITED = {"MOVIEBOT_FLOOD_COMMANDS": "1000000", "MOVIEBOT_TELEGRAM_MAX_RATE": "0",
             "MOVIEBOT_TELEGRAM_GROUP_RATE": "0"}


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
            self.wait_polling(polls_before, began + timeout)
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
