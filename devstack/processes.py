"""Child processes of the stack: the Temporal dev server, workers and the API."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx

from devstack.binaries import temporal_cli
from workflows import search_attributes

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ManagedProcess:
    """A child in its own process group, so stopping it stops everything it spawned."""

    def __init__(
        self, name: str, args: list[str], env: Mapping[str, str], log: Path | None = None
    ) -> None:
        self.name = name
        self.args = args
        self.env = {**os.environ, **env}
        self.log = log
        self._log_file: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        """Start it; its output goes to `log` (appended) or, without one, to this terminal."""
        self._log_file = open(self.log, "ab") if self.log else None  # noqa: SIM115
        self.process = subprocess.Popen(
            self.args,
            env=self.env,
            cwd=ROOT,
            stdout=self._log_file,
            stderr=subprocess.STDOUT if self._log_file else None,
            start_new_session=True,
        )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the group, then SIGKILL what is left after `timeout`."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait()
        # Children that outlived the leader (there should be none) go too.
        self._signal_group(signal.SIGKILL)
        self._close_log()

    def kill(self) -> None:
        """SIGKILL without warning, as a crash would."""
        if self.process is not None:
            self._signal_group(signal.SIGKILL)
            self.process.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _signal_group(self, signum: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


def temporal_dev_server(
    *,
    port: int,
    ui_port: int | None,
    db_file: Path | None,
    log: Path | None = None,
    codec_endpoint: str | None = None,
) -> ManagedProcess:
    """The dev server; with a UI port, its Web UI decodes payloads through `codec_endpoint`."""
    args = [temporal_cli(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port)]
    args += ["--log-level", "warn", "--ui-disable-news-fetch", *search_attributes.cli_flags()]
    args += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    if ui_port and codec_endpoint:
        args += ["--ui-codec-endpoint", codec_endpoint]
    if db_file is not None:
        args += ["--db-filename", str(db_file)]
    return ManagedProcess("temporal", args, {}, log)


def start_temporal_on_free_port(
    log: Path, *, timeout: float = 60, attempts: int = 3
) -> tuple[ManagedProcess, int]:
    """A headless, in-memory dev server on a port free when chosen, serving when this returns.

    Between choosing a free port and binding it, another process can take it (an outgoing
    connection's local port, or another server's own choice). The dev server then dies, while
    the port answers for someone else; so it must answer Temporal's health check too, and a
    server that died is started again on another port.
    """
    for attempt in range(1, attempts + 1):
        port = free_port()
        server = temporal_dev_server(port=port, ui_port=None, db_file=None, log=log).start()
        try:
            wait_for_port(port, server, timeout)
            wait_until_serving(port, server, timeout)
            return server, port
        except BaseException as err:
            server.stop()
            if attempt == attempts or not isinstance(err, RuntimeError | TimeoutError):
                raise
    raise AssertionError("unreachable")


def wait_until_serving(port: int, process: ManagedProcess, timeout: float = 30) -> None:
    """Poll the dev server's health check until it is serving, while it is still running."""
    deadline = time.monotonic() + timeout
    health = [temporal_cli(), "operator", "cluster", "health", "--address", f"127.0.0.1:{port}"]
    while time.monotonic() < deadline:
        if not process.running:
            raise RuntimeError(f"{process.name} exited before serving on {port}")
        checked = subprocess.run(health, capture_output=True, timeout=10, check=False)
        if checked.returncode == 0 and process.running:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{process.name} did not serve on {port} within {timeout}s")


def worker(env: Mapping[str, str], log: Path | None = None) -> ManagedProcess:
    return ManagedProcess("worker", [sys.executable, "-m", "worker"], env, log)


def api(port: int, env: Mapping[str, str], log: Path | None = None) -> ManagedProcess:
    args = [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    return ManagedProcess("api", args, env, log)


def wait_for_port(port: int, process: ManagedProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.running:
            raise RuntimeError(f"{process.name} exited before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{process.name} did not listen on {port} within {timeout}s")


def wait_until_ready(base_url: str, process: ManagedProcess, timeout: float = 30) -> None:
    """Poll GET /ready until the API says the database and Temporal are reachable."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not process.running:
            raise RuntimeError(f"{process.name} exited before it was ready")
        try:
            response = httpx.get(f"{base_url}/ready", timeout=2)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as err:
            last = repr(err)
        time.sleep(0.2)
    raise TimeoutError(f"{process.name} not ready within {timeout}s: {last}")
