"""One :class:`asyncio.Lock` per chat: the conversation and the store both serialise by chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class ChatLocks:
    """One lock per chat, forgotten when nobody holds or waits for it (memory stays bounded)."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}

    @asynccontextmanager
    async def hold(self, chat_id: int) -> AsyncIterator[None]:
        """Hold ``chat_id``'s lock for the duration of the block."""
        entry = self._entries.setdefault(chat_id, _Entry())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[chat_id]

    def __len__(self) -> int:
        return len(self._entries)
