"""A real CalDAV server for the tests: Radicale on loopback, everything it writes in a tmp dir."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devstack.processes import ManagedProcess, free_port, wait_for_port

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


def radicale_config(root: Path, port: int) -> str:
    """Plain-text htpasswd (no bcrypt needed), per-user rights, no wait after a wrong password."""
    users = root / "users"
    users.write_text(f"{USERNAME}:{PASSWORD}\n{OTHER_USERNAME}:{OTHER_PASSWORD}\n")
    return f"""\
[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
htpasswd_filename = {users}
htpasswd_encryption = plain
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = {root / "collections"}

[web]
type = none

[logging]
level = warning
"""


def start_radicale(root: Path, timeout: float = 30) -> tuple[ManagedProcess, Radicale]:
    port = free_port()
    config = root / "config"
    config.write_text(radicale_config(root, port))
    log = root / "radicale.log"
    # --config alone: no /etc/radicale/config nor ~/.config/radicale/config is read.
    args = [sys.executable, "-m", "radicale", "--config", str(config)]
    server = ManagedProcess("radicale", args, {"HOME": str(root)}, log).start()
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
