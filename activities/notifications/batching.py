"""Calls made at one moment, made as one.

A thousand reminders due at 09:00:00 wake together; each checks its booking and records what
became of its messages. Made one by one, those are two thousand queries queued on one event
loop; made as a group, a handful.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Each caller hands in an item and awaits its own answer. The first starts a batch on the
    loop's next turn; items that arrive while a batch runs wait for the next one, which takes
    them all. A caller alone waits for nothing but its own call."""

    def __init__(self, run: Callable[[list[T]], Awaitable[Sequence[R]]]) -> None:
        self._run = run
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, future))
        if self._draining is None:
            self._draining = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    answers = await self._run([item for item, _ in batch])
                except Exception as err:  # every caller of the batch fails as it would alone
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(err)
                    continue
                for (_, future), answer in zip(batch, answers, strict=True):
                    if not future.done():
                        future.set_result(answer)
        finally:
            self._draining = None
            # Cancelled with the loop: nobody is left waiting for an answer.
            for _, future in [*batch, *self._waiting]:
                if not future.done():
                    future.cancel()
            self._waiting = []
