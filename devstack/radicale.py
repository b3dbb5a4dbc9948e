"""A local CalDAV server (Radicale) for `make dev` and the tests: loopback only, its storage and
users in one directory."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from devstack.processes import ManagedProcess


def radicale_config(root: Path, port: int, users: Mapping[str, str]) -> str:
    """Plain-text htpasswd (no bcrypt needed), per-user rights, no wait after a wrong password."""
    passwords = root / "users"
    passwords.write_text("".join(f"{user}:{password}\n" for user, password in users.items()))
    return f"""\
[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
htpasswd_filename = {passwords}
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


def radicale(root: Path, port: int, users: Mapping[str, str], log: Path) -> ManagedProcess:
    """Radicale on 127.0.0.1:`port`; `--config` alone, so no system or user config is read."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config"
    config.write_text(radicale_config(root, port, users))
    args = [sys.executable, "-m", "radicale", "--config", str(config)]
    return ManagedProcess("radicale", args, {"HOME": str(root)}, log)
