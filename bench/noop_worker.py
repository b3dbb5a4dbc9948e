"""The baseline's worker process: `python -m bench.noop_worker`, polling its own task queues.

One worker with the default (sandboxed) workflow runner, as the app's worker has; a second
one without the sandbox on `<queue>-unsandboxed`, for the what-if variants of `--profile`.
"""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack

from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.noop import ACTIVITIES
from bench.noop_workflow import NoopBookingWorkflow
from config import get_settings
from workflows.client import connect

UNSANDBOXED_SUFFIX = "-unsandboxed"


async def run() -> None:
    settings = get_settings()
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    queue = settings.temporal_task_queue
    async with AsyncExitStack() as workers:
        for task_queue, runner in (
            (queue, {}),
            (queue + UNSANDBOXED_SUFFIX, {"workflow_runner": UnsandboxedWorkflowRunner()}),
        ):
            worker = Worker(
                client,
                task_queue=task_queue,
                workflows=[NoopBookingWorkflow],
                activities=ACTIVITIES,
                **runner,  # type: ignore[arg-type]
            )
            await workers.enter_async_context(worker)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(run())
