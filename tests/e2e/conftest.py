"""The whole stack as separate processes: Temporal dev server, worker, API, on the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from config import Settings
from devstack import processes
from workflows.client import connect


@dataclass
class Stack:
    base_url: str
    temporal_address: str
    env: dict[str, str]
    logs: Path
    temporal: processes.ManagedProcess
    api: processes.ManagedProcess
    workers: list[processes.ManagedProcess] = field(default_factory=list)

    def start_worker(self) -> processes.ManagedProcess:
        worker = processes.worker(self.env, self.logs / f"worker-{len(self.workers)}.log").start()
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for process in [self.api, *self.workers, self.temporal]:
            process.stop()


@pytest.fixture
def stack(settings: Settings, tmp_path: Path) -> Iterator[Stack]:
    temporal, temporal_port = processes.start_temporal_on_free_port(tmp_path / "temporal.log")
    api_port = processes.free_port()
    env = {
        "ENVIRONMENT": "development",
        "DATABASE_URL": settings.database_url,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "TEMPORAL_TASK_QUEUE": "bookings-e2e",
        "PAYMENT_GATEWAY": "sandbox",
    }
    api = processes.api(api_port, env, tmp_path / "api.log")
    running = Stack(
        f"http://127.0.0.1:{api_port}", env["TEMPORAL_ADDRESS"], env, tmp_path, temporal, api
    )
    try:
        running.start_worker()
        api.start()
        processes.wait_until_ready(running.base_url, api, timeout=60)
        yield running
    finally:
        running.stop()


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        yield client


@pytest.fixture
async def temporal_client(stack: Stack, settings: Settings) -> Client:
    return await connect(settings.model_copy(update={"temporal_address": stack.temporal_address}))
