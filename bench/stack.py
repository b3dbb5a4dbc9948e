"""The stack under test, started fresh for one run and stopped at the end, whatever happens.

The Temporal dev server (in memory), one booking worker, one API process, the bench's own no-op
worker for the baseline, and a new application database: a SQLite file in a temporary
directory, or a new database on the PostgreSQL server that is dropped at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.signals import Interrupted, signals_deferred
from config import Settings
from db.migrate import upgrade_to_head
from devstack import processes

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
APP_TASK_QUEUE = "bookings-bench"
NOOP_TASK_QUEUE = "bench-noop"
START_TIMEOUT = 60
ROOT = processes.ROOT


@dataclass
class Stack:
    backend: str
    settings: Settings
    base_url: str
    workdir: Path
    temporal: processes.ManagedProcess
    worker: processes.ManagedProcess
    api: processes.ManagedProcess
    noop_worker: processes.ManagedProcess
    env: dict[str, str] = field(default_factory=dict)

    @property
    def app_processes(self) -> dict[str, processes.ManagedProcess]:
        return {
            "api": self.api,
            "worker": self.worker,
            "temporal": self.temporal,
            "noop_worker": self.noop_worker,
        }

    def stop(self) -> None:
        """Stop every process now (again at the end is harmless)."""
        for name in ("api", "noop_worker", "worker", "temporal"):
            self.app_processes[name].stop(timeout=5)

    def check_alive(self) -> None:
        dead = [name for name, p in self.app_processes.items() if not p.running]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited during the run (logs: {self.workdir})")


def postgres_admin_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else DEFAULT_POSTGRES


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def _database(backend: str, workdir: Path) -> Iterator[str]:
    """A new, empty application database's URL; a PostgreSQL one is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'app.db'}"
        return
    admin = postgres_admin_url()
    name = f"booking_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with signals_deferred(), psycopg.connect(_libpq(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_settings(database_url: str, env: Mapping[str, str]) -> Settings:
    """The Settings the API and the worker will read, as this process sees them (JWT secret)."""
    overrides = {key.lower(): value for key, value in env.items()}
    return Settings(_env_file=ROOT / ".env", **overrides)  # type: ignore[call-arg]


@contextlib.contextmanager
def running_stack(
    backend: str, *, extra_env: Mapping[str, str] | None = None, keep: bool = False
) -> Iterator[Stack]:
    """Start everything; stop every process (and drop the database) on the way out."""
    workdir = Path(tempfile.mkdtemp(prefix="booking-bench-"))
    started: list[processes.ManagedProcess] = []
    failed = False
    try:
        with _database(backend, workdir) as database_url:
            try:
                temporal, temporal_port = processes.start_temporal_on_free_port(
                    workdir / "temporal.log", timeout=START_TIMEOUT
                )
                started.append(temporal)
                api_port = processes.free_port()
                env = {
                    "ENVIRONMENT": "development",
                    "DATABASE_URL": database_url,
                    "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
                    "TEMPORAL_TASK_QUEUE": APP_TASK_QUEUE,
                    "PAYMENT_GATEWAY": "sandbox",
                    "WORKER_METRICS_PORT": str(processes.free_port()),
                    **(extra_env or {}),
                }
                settings = bench_settings(database_url, env)
                upgrade_to_head(settings)
                worker = processes.worker(env, workdir / "worker.log").start()
                started.append(worker)
                noop_env = {
                    **env,
                    "TEMPORAL_TASK_QUEUE": NOOP_TASK_QUEUE,
                    "WORKER_METRICS_PORT": "0",
                }
                noop_worker = processes.ManagedProcess(
                    "noop_worker",
                    [sys.executable, "-m", "bench.noop_worker"],
                    noop_env,
                    workdir / "noop_worker.log",
                ).start()
                started.append(noop_worker)
                api = processes.api(api_port, env, workdir / "api.log").start()
                started.append(api)
                base_url = f"http://127.0.0.1:{api_port}"
                processes.wait_until_ready(base_url, api, timeout=START_TIMEOUT)
                yield Stack(
                    backend=backend,
                    settings=settings,
                    base_url=base_url,
                    workdir=workdir,
                    temporal=temporal,
                    worker=worker,
                    api=api,
                    noop_worker=noop_worker,
                    env=env,
                )
            except (KeyboardInterrupt, Interrupted):
                raise
            except BaseException:
                failed = True
                raise
            finally:
                with signals_deferred():
                    for process in reversed(started):
                        process.stop()
    finally:
        if failed:
            _print_log_tails(workdir)
        if keep or failed:
            print(f"bench: logs and data kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _print_log_tails(workdir: Path, lines: int = 15) -> None:
    for log in sorted(workdir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        if tail:
            print(f"--- last lines of {log.name} ---", file=sys.stderr)
            print("\n".join(tail), file=sys.stderr)
