"""Run the measuring coroutine so that Ctrl-C (or SIGTERM) always leaves nothing behind.

On a signal the stack is stopped first, then the work is cancelled. Calls still waiting on the
Temporal client (its core retries a vanished server for a while and ignores cancellation) are
given a few seconds and then abandoned, instead of holding the exit the way asyncio.run would.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from bench.signals import SIGNALS, Interrupted, install_sigterm
from bench.stack import Stack

T = TypeVar("T")
CANCEL_GRACE_S = 5.0


def run_interruptible(stack: Stack, work: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(work), except that a signal stops the stack and raises Interrupted."""
    loop = asyncio.new_event_loop()
    interrupted = asyncio.Event()

    def interrupt() -> None:
        if not interrupted.is_set():
            print("bench: interrupted; stopping the stack", file=sys.stderr, flush=True)
            stack.stop()
            interrupted.set()

    for signum in SIGNALS:
        loop.add_signal_handler(signum, interrupt)
    try:
        return loop.run_until_complete(_supervise(loop.create_task(work), interrupted))
    finally:
        for signum in SIGNALS:
            loop.remove_signal_handler(signum)
        install_sigterm()
        _finish(loop, abandon=interrupted.is_set())


async def _supervise(main: asyncio.Task[T], interrupted: asyncio.Event) -> T:
    signalled = asyncio.ensure_future(interrupted.wait())
    await asyncio.wait({main, signalled}, return_when=asyncio.FIRST_COMPLETED)
    if not main.done():
        main.cancel()
        await asyncio.wait({main}, timeout=CANCEL_GRACE_S)
        raise Interrupted
    signalled.cancel()
    return main.result()


def _finish(loop: asyncio.AbstractEventLoop, *, abandon: bool) -> None:
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=CANCEL_GRACE_S))
    if abandon:
        # Tasks stuck in the Temporal core stay pending: leave the loop open (their late
        # callbacks then land in a queue nobody reads) and keep the exit quiet about them.
        loop.set_exception_handler(lambda _loop, _context: None)
        return
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
