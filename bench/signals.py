"""Ctrl-C and SIGTERM: both interrupt a run, and neither may cut its teardown short."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """The run was stopped by a signal; every process has been stopped."""


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install_sigterm() -> None:
    """SIGTERM outside the event loop behaves like Ctrl-C."""
    signal.signal(signal.SIGTERM, _terminate)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Ignore both signals while the block runs (stopping processes, dropping the database)."""
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
