"""A per-chat flood limit: a token bucket that warns once per flood and then stays silent."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


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
