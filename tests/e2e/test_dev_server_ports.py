"""The dev server is started on a port free when chosen; if another process takes it first,
the server dies while the port still answers, and the stack must not mistake that port for
Temporal (CI once lost a whole e2e run to this)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import processes
from devstack.binaries import temporal_cli


def _health(port: int) -> int:
    health = [temporal_cli(), "operator", "cluster", "health", "--address", f"127.0.0.1:{port}"]
    return subprocess.run(health, capture_output=True, timeout=10, check=False).returncode


@pytest.mark.e2e
def test_a_port_taken_before_the_server_binds_it_means_another_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    choices: Iterator[int] = iter([taken])
    real_free_port = processes.free_port
    monkeypatch.setattr(processes, "free_port", lambda: next(choices, None) or real_free_port())

    with squatter:
        server, port = processes.start_temporal_on_free_port(tmp_path / "temporal.log")
    try:
        assert port != taken
        assert server.running and _health(port) == 0
        # The first attempt did see its port answer, and its server die.
        assert "address already in use" in (tmp_path / "temporal.log").read_text()
    finally:
        server.stop()
