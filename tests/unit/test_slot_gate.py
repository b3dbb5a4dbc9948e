"""The API's per-slot gate: turns in order, the winner's mark seen by those queued behind it."""

from __future__ import annotations

import asyncio

from api.slot_gate import SlotGate


async def test_requests_for_one_slot_take_turns_and_see_the_winners_mark() -> None:
    gate = SlotGate()
    order: list[tuple[int, bool]] = []
    release_first = asyncio.Event()

    async def request(index: int, *, holds: bool) -> None:
        async with gate.admit("slot") as turn:
            order.append((index, turn.taken))
            if index == 0:
                await release_first.wait()
            if holds and not turn.taken:
                turn.mark_taken()

    first = asyncio.create_task(request(0, holds=False))  # refused: marks nothing
    await asyncio.sleep(0)
    second = asyncio.create_task(request(1, holds=True))
    third = asyncio.create_task(request(2, holds=True))
    await asyncio.sleep(0)
    assert order == [(0, False)]  # the others wait for their turn
    release_first.set()
    await asyncio.gather(first, second, third)

    assert order == [(0, False), (1, False), (2, True)]
    assert len(gate) == 0  # the last one out forgot the slot


async def test_other_slots_do_not_wait_and_a_later_request_starts_afresh() -> None:
    gate = SlotGate()
    async with gate.admit("a") as turn_a:
        turn_a.mark_taken()
        async with gate.admit("b") as turn_b:  # would deadlock if slots shared a lock
            assert not turn_b.taken
    async with gate.admit("a") as again:
        assert not again.taken  # nobody queued: the database is asked again
