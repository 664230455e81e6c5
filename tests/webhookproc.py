"""The real ``moviebot run`` process in webhook mode, against the Bot API emulator.

:class:`WebhookBotProcess` is a :class:`tests.botproc.BotProcess` whose readiness is "has called
``setWebhook`` since it started and accepts connections on its port" instead of "polls".
:func:`webhook_env` is the environment that puts the process in webhook mode on 127.0.0.1; the
emulator's :class:`tests.emulator.WebhookDelivery` plays Telegram's part (POST with the secret
header, redelivery on anything but 2xx).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.botproc import BotConfig, BotProcess
from tests.emulator import Emulator

PUBLIC_URL = "https://bot.example.invalid/telegram-hook"
"""What the bot registers with setWebhook (Telegram needs HTTPS; nothing ever resolves it)."""
PATH = "/telegram-hook"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def webhook_env(port: int, secret: str | None = None) -> dict[str, str]:
    """The settings of a webhook process listening on 127.0.0.1:``port``."""
    env = {
        "MOVIEBOT_WEBHOOK_URL": PUBLIC_URL,
        "MOVIEBOT_WEBHOOK_LISTEN": "127.0.0.1",
        "MOVIEBOT_WEBHOOK_PORT": str(port),
    }
    if secret is not None:
        env["MOVIEBOT_WEBHOOK_SECRET_TOKEN"] = secret
    return env


class WebhookBotProcess(BotProcess):
    """``moviebot run`` with ``MOVIEBOT_WEBHOOK_URL`` set; ``target`` is where to POST updates."""

    def __init__(self, emulator: Emulator, config: BotConfig, log_path: Path, *, port: int) -> None:
        super().__init__(emulator, config, log_path)
        self.port = port
        self._hooks_before = 0

    @property
    def target(self) -> str:
        """The local URL the public webhook URL stands for."""
        return f"http://127.0.0.1:{self.port}{PATH}"

    @property
    def health_url(self) -> str:
        """The process's health endpoint."""
        return f"http://127.0.0.1:{self.port}/healthz"

    def start(self, *, wait: bool = True, timeout: float = 60.0) -> float:
        """Start the process; with ``wait``, return once it registered its webhook and listens."""
        self._hooks_before = self._set_webhooks()
        return super().start(wait=wait, timeout=timeout)

    def _set_webhooks(self) -> int:
        return sum(1 for c in list(self.emulator.calls) if c.method == "setWebhook")

    def wait_polling(self, polls_before: int, deadline: float) -> None:
        """Readiness in webhook mode (the base class calls it after starting the process)."""
        del polls_before
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the bot exited with {self.proc.returncode}:\n{self.tail()}")
            if self._set_webhooks() > self._hooks_before and self._accepts():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bot did not register its webhook:\n{self.tail()}")
            time.sleep(0.02)

    def _accepts(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0
