"""Rates: a per-chat flood limit (incoming), and Telegram's limits plus safe retries (outgoing).

:class:`FloodLimiter` is a token bucket per chat that warns once per flood and then stays silent.
:class:`RetryingRateLimiter` keeps to Telegram's flood limits and retries transient failures, but
re-sends a request only when that cannot repeat its effect (see :func:`may_retry`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
from telegram.error import BadRequest, NetworkError, TimedOut
from telegram.ext import AIORateLimiter

logger = logging.getLogger(__name__)


class Admission(StrEnum):
    """What to do with one incoming command."""

    ALLOW = "allow"  # handle it
    WARN = "warn"  # drop it, and say politely (once per flood) that the chat is going too fast
    SILENT = "silent"  # drop it without a word


@dataclass
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


class FloodLimiter:
    """Token bucket per chat: ``capacity`` commands, refilled at ``capacity / window`` per second.

    A chat may burst ``capacity`` commands and then sustain one every ``window / capacity``
    seconds. The first command over the limit gets :attr:`Admission.WARN`, the following ones
    :attr:`Admission.SILENT` until a command is allowed again (the flood is over).
    """

    def __init__(
        self,
        capacity: int = 20,
        window: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_chats: int = 10_000,
    ) -> None:
        if capacity < 1 or window <= 0:
            raise ValueError("capacity must be >= 1 and window > 0")
        self.capacity = float(capacity)
        self.rate = capacity / window
        self._clock = clock
        self._max_chats = max_chats
        self._buckets: dict[int, _Bucket] = {}

    def admit(self, chat_id: int) -> Admission:
        """Take one token for ``chat_id`` and say whether the command may run."""
        now = self._clock()
        bucket = self._buckets.get(chat_id)
        if bucket is None:
            if len(self._buckets) >= self._max_chats:
                self._prune(now)
            bucket = self._buckets[chat_id] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.warned = False
            return Admission.ALLOW
        if bucket.warned:
            return Admission.SILENT
        bucket.warned = True
        return Admission.WARN

    def _prune(self, now: float) -> None:
        """Forget chats whose bucket has refilled completely (they behave as new chats)."""
        full = [
            chat
            for chat, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate >= self.capacity
        ]
        for chat in full:
            del self._buckets[chat]

    def __len__(self) -> int:
        return len(self._buckets)


# ---------------------------------------------------------------------------------------------
# Outgoing: Telegram's limits and retries

IDEMPOTENT_PREFIXES = ("get", "edit", "set", "delete")
"""Bot API methods whose repetition has no further effect (reads, edits, setters, deletions)."""
IDEMPOTENT_METHODS = frozenset({"answerCallbackQuery", "close", "logOut"})

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport failures that happen before a request leaves: nothing reached Telegram."""


def idempotent(endpoint: str) -> bool:
    """Whether calling ``endpoint`` twice has the effect of calling it once."""
    return endpoint in IDEMPOTENT_METHODS or endpoint.startswith(IDEMPOTENT_PREFIXES)


def may_retry(endpoint: str, error: Exception) -> bool:
    """Whether a failed call may be sent again without risking a double effect.

    ``BadRequest`` is never retried (the request itself is wrong). An idempotent method is
    retried on any timeout or network error. Any other method (``sendMessage``…) only when
    Telegram certainly did not act: it answered with a server error (HTTP 5xx, a
    ``NetworkError`` without a transport cause), or the connection was never made. A read
    timeout is not retried there: the message may have been sent already.
    """
    if isinstance(error, BadRequest) or not isinstance(error, NetworkError):
        return False
    if idempotent(endpoint):
        return True
    cause = error.__cause__
    if isinstance(cause, _NOT_SENT):
        return True
    return cause is None and not isinstance(error, TimedOut)


class RetryingRateLimiter(AIORateLimiter):
    """Telegram's flood limits plus retries of transient errors.

    AIORateLimiter keeps to Telegram's limits and retries ``RetryAfter``; on top, failures that
    :func:`may_retry` allows are retried with exponential backoff.
    """

    def __init__(
        self,
        *,
        overall_max_rate: float = 30.0,
        group_max_rate: float = 20.0,
        retry_after_retries: int = 3,
        network_retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        super().__init__(
            overall_max_rate=overall_max_rate,
            group_max_rate=group_max_rate,
            max_retries=retry_after_retries,
        )
        self._network_retries = network_retries
        self._backoff = backoff

    async def process_request(  # noqa: D102 - see the class docstring
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        for attempt in range(self._network_retries + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except NetworkError as exc:
                if attempt >= self._network_retries or not may_retry(endpoint, exc):
                    raise
                delay = self._backoff * 2**attempt
                logger.warning(
                    "%s failed (%s); retry %d in %.1fs",
                    endpoint,
                    type(exc).__name__,
                    attempt + 1,
                    delay,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
