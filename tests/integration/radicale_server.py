"""A real CalDAV server for the tests: Radicale on loopback, everything it writes in a tmp dir."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devstack.processes import ManagedProcess, free_port, wait_for_port
from devstack.radicale import radicale

# An e-mail address, as iCloud's and Fastmail's logins are: declined invitations name it.
USERNAME = "ann@example.com"
PASSWORD = "app-password-1"
# Someone else on the same server: Ann may not write to Bob's calendars.
OTHER_USERNAME, OTHER_PASSWORD = "bob@example.com", "app-password-2"


@dataclass(frozen=True)
class Radicale:
    url: str
    username: str
    password: str
    log: Path


def start_radicale(root: Path, timeout: float = 30) -> tuple[ManagedProcess, Radicale]:
    port = free_port()
    log = root / "radicale.log"
    users = {USERNAME: PASSWORD, OTHER_USERNAME: OTHER_PASSWORD}
    server = radicale(root, port, users, log).start()
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_port(port, server, timeout)
        httpx.request("OPTIONS", url, timeout=timeout).raise_for_status()
    except (RuntimeError, TimeoutError, httpx.HTTPError) as err:
        server.stop()
        raise RuntimeError(f"Radicale did not start ({err}): {log.read_text()}") from err
    except BaseException:
        server.stop()
        raise
    return server, Radicale(url, USERNAME, PASSWORD, log)


@pytest.fixture(scope="module", name="radicale")
def radicale_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """Import it as `radicale_fixture`; tests ask for `radicale`."""
    server, running = start_radicale(tmp_path_factory.mktemp("radicale"))
    try:
        yield running
    finally:
        server.stop()
