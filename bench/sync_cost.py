"""What one sync costs in HTTP requests: a full sync of a calendar, one change made on the
vendor's side, then the incremental sync from the full one's state. Each sync opens a fresh
account, as the sync worker does."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from activities.calendar_sync import LOOK_BACK
from activities.calendars.port import CalendarAccount
from contract.calendars import BusyChanges
from db.calendar_connections import DEFAULT_HORIZON_DAYS

Result = dict[str, Any]
EVENT_MINUTES = (30, 60)


@dataclass(frozen=True)
class Seen:
    """One HTTP request an account made; its status and the wait for the answer's head where
    they are known."""

    method: str
    path: str
    status: int | None = None
    wait_s: float | None = None


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Subject:
    """One adapter set up against its server, with the calendar filled."""

    kind: str
    calendar_id: str
    page_size: int | None
    open_account: Callable[[], CalendarAccount]
    requests: Callable[[], Sequence[Seen]]
    # A request for a page of the listing, and one spent on authentication.
    is_page: Callable[[Seen], bool]
    is_auth: Callable[[Seen], bool]
    auth_is: str
    change_one: Callable[[], Awaitable[None]]
    # Part of the changed event's external id, to find it in the incremental answer.
    changed: str


def sync_window(now: datetime) -> Window:
    """The window the sync worker reads: a day back, the default horizon ahead."""
    return Window(now - LOOK_BACK, now + timedelta(days=DEFAULT_HORIZON_DAYS))


def spans(events: int, window: Window) -> Iterator[tuple[datetime, datetime]]:
    """`events` events spread evenly over the window, on the quarter-hour."""
    first = (window.start + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    step = (window.end - timedelta(days=1) - first) / events
    for i in range(events):
        start = first + step * i
        start -= timedelta(minutes=start.minute % 15, seconds=start.second)
        start = start.replace(microsecond=0)
        yield start, start + timedelta(minutes=EVENT_MINUTES[i % len(EVENT_MINUTES)])


def changed_index(events: int) -> int:
    return events // 2


async def measure(subject: Subject, events: int, window: Window) -> Result:
    """A full sync, one change on the vendor's side, then an incremental sync from its state."""
    full_changes, full = await _sync(subject, None, window)
    await subject.change_one()
    changes, incremental = await _sync(subject, full_changes.state, window)
    return {
        "adapter": subject.kind,
        "events": events,
        "page_size": subject.page_size,
        "auth_is": subject.auth_is,
        "full": full,
        "incremental": incremental,
        "saw_change": any(subject.changed in e.external_id for e in changes.busy),
    }


async def _sync(subject: Subject, state: str | None, window: Window) -> tuple[BusyChanges, Result]:
    before = len(subject.requests())
    account = subject.open_account()
    began = time.perf_counter()
    try:
        changes = await account.busy_changes(subject.calendar_id, state, window.start, window.end)
    finally:
        await account.aclose()
    seconds = time.perf_counter() - began
    seen = list(subject.requests()[before:])
    auth = [s for s in seen if subject.is_auth(s)]
    return changes, {
        "requests": len(seen),
        "pages": sum(1 for s in seen if subject.is_page(s) and not subject.is_auth(s)),
        "auth": len(auth),
        "first_requests": [f"{s.method} {s.path} {s.status or ''}".rstrip() for s in seen[:5]],
        "busy": len(changes.busy),
        "removed": len(changes.removed),
        "full_listing": changes.full,
        "seconds": round(seconds, 3),
        "server_wait_s": _waited(seen),
    }


def _waited(seen: list[Seen]) -> float | None:
    """How long the server took to start answering, in all; None where it is not known."""
    waits = [s.wait_s for s in seen if s.wait_s is not None]
    return round(sum(waits), 3) if waits else None
