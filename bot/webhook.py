"""The webhook server: an update is acknowledged to Telegram only after its effect is committed.

Telegram delivers a webhook update again only when the answer is not 2xx (or never comes), and
never after a 200. python-telegram-bot's built-in webhook server answers 200 as soon as the update
is queued, so a process killed before it processed its queue lost updates Telegram counted as
delivered. This server answers only after ``await application.process_update(update)`` returned —
the handlers have committed the change and sent the reply — and answers 500 when processing
raised, so Telegram delivers the update again; the store ignores a change already applied for an
``update_id``, so a redelivery never applies anything twice. A process killed mid-update never
answers: Telegram redelivers to whichever replica is up.

Every request on the update path must carry Telegram's ``X-Telegram-Bot-Api-Secret-Token``
header with the secret given to ``setWebhook`` (compared in constant time); anything else gets
403 and nothing is processed. ``GET /healthz`` (no secret: it tells nothing about users) answers
200 when every health check passes (database reachable, model loaded), 503 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from telegram import Update
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application as TornadoApplication
from tornado.web import RequestHandler

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_PATH = "/healthz"
MAX_BODY = 1 << 20
"""An update is a few kilobytes; anything larger is refused before it is read."""

_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")

HealthCheck = Callable[[], Awaitable[bool]]


class WebhookConfigError(ValueError):
    """A webhook setting Telegram would refuse; the message says which and why."""


def webhook_secret(configured: str | None) -> tuple[str, bool]:
    """The secret token to use and whether it was generated (no secret configured).

    Raises:
        WebhookConfigError: the configured secret breaks Telegram's rule (its value is not shown).
    """
    value = (configured or "").strip()
    if not value:
        return secrets.token_urlsafe(32), True
    if not _SECRET_RE.fullmatch(value):
        raise WebhookConfigError(
            "MOVIEBOT_WEBHOOK_SECRET_TOKEN must be 1-256 characters of A-Z, a-z, 0-9, _ and - "
            "(Telegram's rule for secret_token)"
        )
    return value, False


class WebhookServer:
    """A small tornado server: the update path and ``/healthz``.

    Args:
        app: the initialised python-telegram-bot Application whose handlers process updates.
        secret: the secret token given to ``setWebhook``.
        path: the URL path updates are posted to.
        checks: named health checks for ``/healthz`` (each returns True when healthy).
        check_timeout: seconds a health check may take before it counts as failed.
        halt: checked after each update: a reason (the store can no longer keep changes) makes
            that update's answer 503 (Telegram delivers it again) and every later one too.
        on_halt: called once when ``halt`` first gives a reason (the caller stops the server).
    """

    def __init__(
        self,
        app: Any,
        *,
        secret: str,
        path: str = "/",
        checks: Mapping[str, HealthCheck] | None = None,
        check_timeout: float = 3.0,
        halt: Callable[[], str | None] | None = None,
        on_halt: Callable[[], object] | None = None,
    ) -> None:
        if not secret:
            raise WebhookConfigError("the webhook needs a secret token")
        self.app = app
        self.path = path
        self.checks = dict(checks or {})
        self.check_timeout = check_timeout
        self._halt = halt
        self._on_halt = on_halt
        self.halted: str | None = None
        """Why updates are no longer acknowledged (None while they are)."""
        self._secret = secret.encode()
        self._server: HTTPServer | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.in_flight = 0
        self.closing = False
        self.port = 0
        self.refused = 0
        self.failed = 0
        self.processed = 0

    def authorized(self, header: str | None) -> bool:
        """True when the header carries the secret (constant-time comparison)."""
        if header is None:
            return False
        return hmac.compare_digest(header.encode("utf-8", "surrogateescape"), self._secret)

    async def start(self, listen: str, port: int) -> int:
        """Listen on ``listen:port`` (port 0: a free one); returns the port."""
        routes: list[Any] = [
            (re.escape(HEALTH_PATH), _HealthHandler, {"server": self}),
            (re.escape(self.path), _UpdateHandler, {"server": self}),
        ]
        web = TornadoApplication(routes, log_function=_log_request)
        sockets = bind_sockets(port, listen)
        self._server = HTTPServer(web, max_body_size=MAX_BODY, idle_connection_timeout=75)
        self._server.add_sockets(sockets)
        self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Stop listening, refuse new updates (503: Telegram redelivers), finish those begun."""
        self.closing = True
        if self._server is None:
            return
        self._server.stop()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            logger.warning("%d updates were still being processed at shutdown", self.in_flight)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.close_all_connections(), 5)
        self._server = None

    async def process(self, body: bytes) -> int:
        """Process one posted update; the HTTP status to answer."""
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            update = Update.de_json(data, self.app.bot)
        except (ValueError, TypeError, KeyError) as exc:
            logger.warning("Refused a webhook request that is not an update (%s)", exc)
            return 400
        self.in_flight += 1
        self._idle.clear()
        try:
            await self.app.process_update(update)
        except Exception:
            self.failed += 1
            logger.exception(
                "Update %s could not be processed; answering 500 so Telegram delivers it again",
                update.update_id,
            )
            return 500
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()
        reason = self._halt() if self._halt is not None else None
        if reason is not None:
            if self.halted is None:
                self.halted = reason
                self.closing = True
                if self._on_halt is not None:
                    self._on_halt()
            return 503  # not acknowledged: Telegram delivers it again
        self.processed += 1
        return 200

    async def health(self) -> dict[str, bool]:
        """Every health check's result (a check that raises or times out is False)."""
        results: dict[str, bool] = {}
        for name, check in self.checks.items():
            try:
                results[name] = bool(await asyncio.wait_for(check(), self.check_timeout))
            except Exception as exc:  # a failing check is an answer, not a crash
                logger.warning("Health check %s failed (%s)", name, type(exc).__name__)
                results[name] = False
        return results


def _log_request(handler: RequestHandler) -> None:
    status = handler.get_status()
    level = logging.DEBUG if status < 400 else logging.INFO
    logger.log(
        level,
        "%d %s %s %.1f ms",
        status,
        handler.request.method,
        handler.request.path,
        1000 * handler.request.request_time(),
    )


class _UpdateHandler(RequestHandler):
    """POST of one update by Telegram."""

    def initialize(self, server: WebhookServer) -> None:
        self.server = server

    async def post(self) -> None:
        server = self.server
        if not server.authorized(self.request.headers.get(SECRET_HEADER)):
            server.refused += 1
            self.set_status(403)
            self.finish()
            return
        if server.closing:
            self.set_status(503)
            self.finish()
            return
        status = await server.process(self.request.body)
        self.set_status(status)
        self.finish()


class _HealthHandler(RequestHandler):
    """``GET /healthz``: 200 when every check passes, 503 otherwise; JSON either way."""

    def initialize(self, server: WebhookServer) -> None:
        self.server = server

    async def get(self) -> None:
        began = time.monotonic()
        results = await self.server.health()
        healthy = all(results.values()) and not self.server.closing
        self.set_status(200 if healthy else 503)
        self.set_header("Content-Type", "application/json")
        self.finish(
            json.dumps(
                {
                    "ok": healthy,
                    "checks": results,
                    "seconds": round(time.monotonic() - began, 3),
                }
            )
        )
