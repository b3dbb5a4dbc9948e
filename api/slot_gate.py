"""One booking attempt per slot at a time in this process, so a crowd for one slot is cheap.

When a popular slot opens, hundreds of requests may arrive for it at once. Each would start a
workflow whose hold the database then refuses: correct, but every loser pays for a workflow
and waits behind the others. The gate lets one request per (provider, start) through at a
time; the ones queued behind it first look at the database, and once the slot is taken they
answer 409 at the cost of one read. It sheds load and nothing else: the database's overlap
guard still decides, between API processes as within one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class SlotGate:
    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def admit(self, key: Hashable) -> AsyncIterator[None]:
        lock, waiting = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, waiting + 1)
        try:
            async with lock:
                yield
        finally:
            lock, waiting = self._locks[key]
            if waiting == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, waiting - 1)

    def __len__(self) -> int:
        """Slots with a request in flight or queued (what a test can see of the bookkeeping)."""
        return len(self._locks)
