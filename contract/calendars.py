"""Provider calendars (Google, Microsoft 365, CalDAV): what a connection lists, reads and writes."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime

from contract.messages import Model
from contract.notifications import ProviderNotice


class CalendarKind(StrEnum):
    GOOGLE = "google"
    MICROSOFT = "microsoft"
    CALDAV = "caldav"


class ConnectionStatus(StrEnum):
    """`pending` until the grant is stored; `broken` when the grant was revoked or expired (no
    more retries until the provider reconnects)."""

    PENDING = "pending"
    ACTIVE = "active"
    BROKEN = "broken"


class CalendarInfo(Model):
    """One calendar of a connection, as the provider's account lists it."""

    id: str  # Google's calendarId, Graph's calendar id, the CalDAV collection's URL
    name: str
    primary: bool = False
    can_write: bool = True
    timezone: str | None = None


class OAuthTokens(Model):
    """A Google or Microsoft grant. Stored encrypted; refreshed before `expires_at`."""

    access_token: str
    refresh_token: str | None = None
    expires_at: AwareDatetime
    scope: str | None = None


class BusyEvent(Model):
    """One busy span in a provider's calendar: a single event, or one occurrence of a
    recurring one (`external_id` names the occurrence, stable across syncs)."""

    external_id: str
    start: AwareDatetime
    end: AwareDatetime
    # Set when the event is one of ours (a booking we wrote): it is not counted twice.
    booking_id: UUID | None = None


class BusyChanges(Model):
    """What one sync found in one calendar since `state` (the sync token, delta link or
    collection sync token it was asked with).

    `full`: the listing is complete, so every block of this calendar not in `busy` is gone
    (a first sync, or a resync after the vendor expired the token). Otherwise `busy` holds the
    events added or changed and `removed` the external ids deleted, or no longer busy (cancelled,
    declined, free/transparent)."""

    busy: list[BusyEvent]
    removed: list[str] = []
    full: bool = False
    state: str | None = None


class EventToWrite(Model):
    """A booking as an event in the provider's destination calendar. `booking_id` makes the
    write idempotent (Google: a deterministic event id; Graph: transactionId; CalDAV: the
    resource name), so a retried step never makes a second event."""

    booking_id: UUID
    summary: str
    description: str
    start: AwareDatetime
    end: AwareDatetime
    timezone: str  # the provider's IANA zone


class WrittenEvent(Model):
    """Where the event lives now (the vendor's event id or resource URL, and its ETag)."""

    calendar_id: str
    event_id: str
    etag: str | None = None


class SyncRequest(Model):
    """CalendarSyncWorkflow's input: the connection, and how often to read it."""

    connection_id: UUID
    period_seconds: int


class SyncReport(Model):
    """What one sync of a connection did. `status` is the connection's after it: `broken`
    (the grant no longer works) and `gone` (disconnected) end the sync workflow."""

    connection_id: UUID
    status: str  # ConnectionStatus, or "gone"
    calendars: int = 0
    blocks: int = 0
    error: str | None = None
    # External events that overlap bookings already confirmed (reported, never acted on).
    conflicts: int = 0
    # What the provider must hear (each once, by its key): a broken grant, a clash.
    notices: list[ProviderNotice] = []
