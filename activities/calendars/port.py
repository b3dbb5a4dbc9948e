"""The calendar port: what calendar sync and the booking need from one connected account."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from contract.calendars import BusyChanges, CalendarInfo, EventToWrite, WrittenEvent


class CalendarRetryLater(Exception):
    """The vendor cannot answer now (429, 5xx, a connection error): try again after
    `retry_after` seconds if the vendor said, else after the caller's backoff."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GrantBroken(Exception):
    """The grant or password no longer works (OAuth `invalid_grant`, a 401 after a refresh, a
    CalDAV 401): the connection is marked broken and nothing retries until the provider
    reconnects. The message says why, for the provider to read."""


class CalendarRefused(Exception):
    """The vendor refused this request for good (a 4xx other than 401/404/410/429, e.g. a
    calendar we may not write to)."""


class CalendarAccount(Protocol):
    """One connected account (a Google or Microsoft grant, a CalDAV login)."""

    kind: str

    async def calendars(self) -> list[CalendarInfo]:
        """Every calendar of the account."""
        ...

    async def busy_changes(
        self, calendar_id: str, state: str | None, start: datetime, end: datetime
    ) -> BusyChanges:
        """The busy time that changed since `state` (None: a full listing), recurring events
        expanded between `start` and `end` (the booking horizon). All-day events block their
        local day; free/transparent, cancelled and declined events do not block. An expired
        `state` (Google 410, Graph's expired delta, CalDAV's invalid sync token) is handled
        here by a full listing (`full=True`)."""
        ...

    async def put_event(self, calendar_id: str, event: EventToWrite) -> WrittenEvent:
        """Create the booking's event, or move it if it exists: idempotent by booking id."""
        ...

    async def delete_event(self, calendar_id: str, booking_id: UUID) -> None:
        """Remove the booking's event; one already gone is fine."""
        ...

    async def aclose(self) -> None: ...


def event_name(booking_id: UUID) -> str:
    """The stable name of a booking's event: Google's event id (base32hex: a-v and digits, 5 to
    1024 characters), the CalDAV resource name and UID stem, Graph's transactionId."""
    return f"booking{booking_id.hex}"


def retry_after_seconds(
    value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> float | None:
    """Retry-After as seconds, from delta-seconds or an HTTP date; None when absent or unread."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when.replace(tzinfo=when.tzinfo or UTC) - now()).total_seconds())
