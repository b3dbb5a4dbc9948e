"""The whole stack as separate processes: Temporal dev server, worker, API, on the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
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
    # Set when the dev server keeps its state in a file: then it can be stopped and restarted.
    temporal_db: Path | None = None

    def start_worker(self) -> processes.ManagedProcess:
        worker = processes.worker(self.env, self.logs / f"worker-{len(self.workers)}.log").start()
        self.workers.append(worker)
        return worker

    def restart_temporal(self, *, timeout: float = 60) -> None:
        """Start the stopped dev server again on its port, from its state file."""
        assert self.temporal_db is not None, "an in-memory dev server loses its state on a restart"
        assert not self.temporal.running, "stop the dev server first"
        port = int(self.temporal_address.rsplit(":", 1)[1])
        self.temporal = _temporal_from_file(port, self.temporal_db, self.logs).start()
        processes.wait_for_port(port, self.temporal, timeout)
        processes.wait_until_serving(port, self.temporal, timeout)

    def stop(self) -> None:
        for process in [self.api, *self.workers, self.temporal]:
            process.stop()


def _temporal_from_file(port: int, db_file: Path, logs: Path) -> processes.ManagedProcess:
    return processes.temporal_dev_server(
        port=port, ui_port=None, db_file=db_file, log=logs / "temporal.log"
    )


def _durable_temporal(logs: Path, attempts: int = 3) -> tuple[processes.ManagedProcess, int]:
    """A dev server with a state file, on a port that was free; another port if it was taken."""
    for attempt in range(1, attempts + 1):
        port = processes.free_port()
        server = _temporal_from_file(port, logs / "temporal.db", logs).start()
        try:
            processes.wait_for_port(port, server, 60)
            processes.wait_until_serving(port, server, 60)
            return server, port
        except (RuntimeError, TimeoutError):
            server.stop()
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


@contextmanager
def running_stack(
    settings: Settings,
    logs: Path,
    *,
    durable_temporal: bool = False,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """Start the stack; `durable_temporal` keeps the dev server's state in a file,
    `database_url` points the API and the worker at another address of the test database, and
    `extra_env` adds settings (a vendor's adapter, say) for both."""
    if durable_temporal:
        temporal, temporal_port = _durable_temporal(logs)
    else:
        temporal, temporal_port = processes.start_temporal_on_free_port(logs / "temporal.log")
    api_port = processes.free_port()
    env = {
        "ENVIRONMENT": "development",
        "DATABASE_URL": database_url or settings.database_url,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "TEMPORAL_TASK_QUEUE": "bookings-e2e",
        "PAYMENT_GATEWAY": "sandbox",
        # One client address and one customer make many requests and holds here; the limits
        # have their own tests (tests/integration/test_limits.py).
        "RATE_LIMITS_ENABLED": "false",
        "MAX_OPEN_HOLDS": "1000",
        # Several workers run at once in the fault tests: none takes the metrics port.
        "WORKER_METRICS_PORT": "0",
        **(extra_env or {}),
    }
    api = processes.api(api_port, env, logs / "api.log")
    running = Stack(
        f"http://127.0.0.1:{api_port}", env["TEMPORAL_ADDRESS"], env, logs, temporal, api
    )
    if durable_temporal:
        running.temporal_db = logs / "temporal.db"
    try:
        running.start_worker()
        api.start()
        processes.wait_until_ready(running.base_url, api, timeout=60)
        yield running
    finally:
        running.stop()


@pytest.fixture
def stack(settings: Settings, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(settings, tmp_path) as running:
        yield running


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        yield client


@pytest.fixture
async def temporal_client(stack: Stack, settings: Settings) -> Client:
    return await connect(settings.model_copy(update={"temporal_address": stack.temporal_address}))
