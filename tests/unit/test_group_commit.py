"""Calls made at one moment become one call; each caller gets its own answer."""

from __future__ import annotations

import asyncio

import pytest

from activities.notifications.batching import GroupCommit


class Doubler:
    def __init__(self, fail_on: int | None = None, pause: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on
        self.pause = pause

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        await asyncio.sleep(self.pause)
        if self.fail_on in items:
            raise ValueError(f"refused {self.fail_on}")
        return [item * 2 for item in items]


async def test_calls_made_at_one_moment_are_one_batch_with_their_own_answers() -> None:
    run = Doubler()
    doubled = GroupCommit(run)

    answers = await asyncio.gather(*(doubled(i) for i in range(100)))

    assert answers == [i * 2 for i in range(100)]
    assert run.batches == [list(range(100))]


async def test_a_caller_alone_is_a_batch_of_one() -> None:
    run = Doubler()
    doubled = GroupCommit(run)

    assert [await doubled(i) for i in range(3)] == [0, 2, 4]
    assert run.batches == [[0], [1], [2]]


async def test_calls_arriving_while_a_batch_runs_make_the_next_batch() -> None:
    run = Doubler(pause=0.05)
    doubled = GroupCommit(run)

    first = asyncio.ensure_future(doubled(1))
    await asyncio.sleep(0.01)  # the first batch is running
    later = await asyncio.gather(*(doubled(i) for i in (2, 3, 4)))

    assert await first == 2 and later == [4, 6, 8]
    assert run.batches == [[1], [2, 3, 4]]


async def test_a_failed_batch_fails_each_of_its_callers_and_not_the_next() -> None:
    run = Doubler(fail_on=3)
    doubled = GroupCommit(run)

    results = await asyncio.gather(*(doubled(i) for i in (1, 2, 3)), return_exceptions=True)

    assert all(isinstance(r, ValueError) for r in results), results
    assert await doubled(5) == 10


async def test_a_cancelled_caller_leaves_the_others_their_answers() -> None:
    run = Doubler(pause=0.05)
    doubled = GroupCommit(run)

    gone, staying = asyncio.ensure_future(doubled(1)), asyncio.ensure_future(doubled(2))
    await asyncio.sleep(0.01)
    gone.cancel()

    assert await staying == 4
    with pytest.raises(asyncio.CancelledError):
        await gone
