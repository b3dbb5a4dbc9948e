"""One booking attempt per slot at a time in this process, so a crowd for one slot is cheap.

When a popular slot opens, hundreds of requests may arrive for it at once. Each would start a
workflow whose hold the database then refuses: correct, but every loser pays for a workflow
and waits behind the others. The gate lets one request per (provider, start) through at a
time. A request that held the slot marks its turn taken by its booking, and the requests that
queued behind it answer 409 without touching anything (unless they repeat that booking's
Idempotency-Key); a request that finds no such mark looks at the database before starting a
workflow. It sheds load and nothing else: the database's overlap
guard still decides, between API processes as within one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from uuid import UUID


@dataclass
class _Slot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    queued: int = 0
    # Set by a request that held the slot; seen by the requests that queued behind it.
    taken_by: UUID | None = None


class Turn:
    """One request's turn at a slot."""

    def __init__(self, slot: _Slot) -> None:
        self._slot = slot

    @property
    def taken_by(self) -> UUID | None:
        """The booking of an earlier request, queued with this one, that held the slot."""
        return self._slot.taken_by

    def mark_taken(self, booking_id: UUID) -> None:
        self._slot.taken_by = booking_id


class SlotGate:
    def __init__(self) -> None:
        self._slots: dict[Hashable, _Slot] = {}

    @asynccontextmanager
    async def admit(self, key: Hashable) -> AsyncIterator[Turn]:
        slot = self._slots.setdefault(key, _Slot())
        slot.queued += 1
        try:
            async with slot.lock:
                yield Turn(slot)
        finally:
            slot.queued -= 1
            if slot.queued == 0:
                # The last one out forgets the slot: a later request asks the database again.
                del self._slots[key]

    def __len__(self) -> int:
        """Slots with a request in flight or queued (what a test can see of the bookkeeping)."""
        return len(self._slots)
