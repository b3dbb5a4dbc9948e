"""The API's per-slot gate: turns in order, the winner's mark seen by those queued behind it."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

from api.slot_gate import SlotGate


async def test_requests_for_one_slot_take_turns_and_see_the_winners_mark() -> None:
    gate = SlotGate()
    order: list[tuple[int, UUID | None]] = []
    bookings = [uuid4() for _ in range(3)]
    release_first = asyncio.Event()

    async def request(index: int, *, holds: bool) -> None:
        async with gate.admit("slot") as turn:
            order.append((index, turn.taken_by))
            if index == 0:
                await release_first.wait()
            if holds and turn.taken_by is None:
                turn.mark_taken(bookings[index])

    first = asyncio.create_task(request(0, holds=False))  # refused: marks nothing
    await asyncio.sleep(0)
    second = asyncio.create_task(request(1, holds=True))
    third = asyncio.create_task(request(2, holds=True))
    await asyncio.sleep(0)
    assert order == [(0, None)]  # the others wait for their turn
    release_first.set()
    await asyncio.gather(first, second, third)

    assert order == [(0, None), (1, None), (2, bookings[1])]
    assert len(gate) == 0  # the last one out forgot the slot


async def test_other_slots_do_not_wait_and_a_later_request_starts_afresh() -> None:
    gate = SlotGate()
    async with gate.admit("a") as turn_a:
        turn_a.mark_taken(uuid4())
        async with gate.admit("b") as turn_b:  # would deadlock if slots shared a lock
            assert turn_b.taken_by is None
    async with gate.admit("a") as again:
        assert again.taken_by is None  # nobody queued: the database is asked again
