"""The feed of availability changes: which provider-local dates a write changed, for live pages.

Every write that changes a provider's free time calls `announce` in its own transaction, so a
change is heard exactly when it commits and never when it rolls back. PostgreSQL delivers it with
NOTIFY to every API process's LISTEN connection. SQLite has no NOTIFY, and the hold's writer is
the Temporal worker, another process than the API, so an in-process bus would not hear it: there
a change is a row of `availability_changes`, which every API process polls by id.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from contextlib import aclosing
from datetime import date, datetime, timedelta
from typing import NamedTuple, cast
from uuid import UUID
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import Table, Uuid, bindparam, delete, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from db.engine import Database
from db.models import Appointment, AvailabilityChange, ProviderProfile
from db.types import UTCDateTime
from domain.timezones import utc_now

CHANNEL = "availability"  # also in listen()
# Past this many dates a change says "every date": NOTIFY payloads are capped at 8000 bytes.
MAX_DATES = 100
# SQLite's rows are read within a second by every API process; older ones only take space.
KEEP_ROWS = timedelta(minutes=5)

_changes = cast(Table, AvailabilityChange.__table__)
_appointments = cast(Table, Appointment.__table__)
_profiles = cast(Table, ProviderProfile.__table__)

_NOTIFY = text("SELECT pg_notify(:channel, :payload)")
_INSERT = insert(_changes)
_PRUNE = delete(_changes).where(_changes.c.created_at < bindparam("cutoff", type_=UTCDateTime))
_SPANS_OF_BOOKINGS = (
    select(
        _appointments.c.provider_id,
        _appointments.c.blocked_start,
        _appointments.c.blocked_end,
        _profiles.c.timezone,
    )
    .join(_profiles, _profiles.c.id == _appointments.c.provider_id)
    .where(_appointments.c.id.in_(bindparam("booking_ids", expanding=True, type_=Uuid)))
)
_ZONE_OF = select(_profiles.c.timezone).where(_profiles.c.id == bindparam("provider", type_=Uuid))


class Change(NamedTuple):
    """A provider's free time changed on these local ISO dates; None: on any date."""

    provider_id: UUID
    dates: tuple[str, ...] | None


Span = tuple[datetime, datetime]


def local_dates(spans: Iterable[Span], zone: str) -> set[date]:
    """The local dates in `zone` that the spans [start, end) touch."""
    tz = ZoneInfo(zone)
    days: set[date] = set()
    for start, end in spans:
        day = start.astimezone(tz).date()
        last = max(start, end - timedelta(microseconds=1)).astimezone(tz).date()
        while day <= last:
            days.add(day)
            day += timedelta(days=1)
    return days


async def announce(
    connection: AsyncConnection, provider_id: UUID, dates: Iterable[date] | None
) -> None:
    """Tell every API process, when this transaction commits, that the provider's free time
    changed on `dates` (provider-local), or on any date (None)."""
    days = None if dates is None else sorted({d.isoformat() for d in dates})
    if days is not None and not days:
        return
    if days is not None and len(days) > MAX_DATES:
        days = None
    if connection.dialect.name == "postgresql":
        payload = json.dumps({"provider_id": str(provider_id), "dates": days})
        await connection.execute(_NOTIFY, {"channel": CHANNEL, "payload": payload})
        return
    now = utc_now()
    # The writer prunes, not the API: API processes only read, so none ever holds the lock.
    await connection.execute(_PRUNE, {"cutoff": now - KEEP_ROWS})
    await connection.execute(
        _INSERT,
        {
            "provider_id": provider_id,
            "dates": None if days is None else json.dumps(days),
            "created_at": now,
        },
    )


async def announce_spans(
    connection: AsyncConnection, provider_id: UUID, spans: Iterable[Span], zone: str | None = None
) -> None:
    """`announce` the provider-local dates that these UTC spans touch."""
    spans = list(spans)
    if not spans:
        return
    if zone is None:
        zone = await connection.scalar(_ZONE_OF, {"provider": provider_id})
        if zone is None:
            return
    await announce(connection, provider_id, local_dates(spans, zone))


async def announce_bookings(connection: AsyncConnection, booking_ids: Iterable[UUID]) -> None:
    """`announce` the dates these bookings block (or blocked), per provider."""
    ids = list(booking_ids)
    if not ids:
        return
    by_provider: dict[UUID, tuple[str, list[Span]]] = {}
    for provider_id, start, end, zone in await connection.execute(
        _SPANS_OF_BOOKINGS, {"booking_ids": ids}
    ):
        by_provider.setdefault(provider_id, (zone, []))[1].append((start, end))
    for provider_id, (zone, spans) in by_provider.items():
        await announce_spans(connection, provider_id, spans, zone)


def parse_change(payload: Mapping[str, object]) -> Change:
    dates = payload.get("dates")
    return Change(
        UUID(str(payload["provider_id"])),
        None if dates is None else tuple(str(d) for d in cast(list[object], dates)),
    )


# --- Reading the feed (the API's side).


async def last_change_id(db: Database) -> int:
    """SQLite: the newest change's id, where a new reader starts (0 when there is none)."""
    async with db.reading() as connection:
        return int(await connection.scalar(select(func.max(_changes.c.id))) or 0)


async def changes_after(db: Database, after: int, limit: int = 1000) -> list[tuple[int, Change]]:
    """SQLite: the changes committed after id `after`, oldest first."""
    query = (
        select(_changes.c.id, _changes.c.provider_id, _changes.c.dates)
        .where(_changes.c.id > after)
        .order_by(_changes.c.id)
        .limit(limit)
    )
    async with db.reading() as connection:
        rows = (await connection.execute(query)).all()
    return [
        (
            row.id,
            Change(row.provider_id, None if row.dates is None else tuple(json.loads(row.dates))),
        )
        for row in rows
    ]


async def listen(
    database_url: str,
    *,
    on_listening: Callable[[], None] = lambda: None,
    idle_check_seconds: float = 30,
) -> AsyncGenerator[Change]:
    """PostgreSQL: the changes as they commit, on a LISTEN connection of its own; `on_listening`
    is called once it hears them. Raises psycopg.OperationalError when the connection drops (a
    quiet one is checked every `idle_check_seconds`); it is closed when the iteration ends."""
    url = make_url(database_url).set(drivername="postgresql")
    async with await psycopg.AsyncConnection.connect(
        url.render_as_string(hide_password=False), autocommit=True, connect_timeout=5
    ) as connection:
        await connection.execute("LISTEN availability")
        on_listening()
        while True:
            heard = False
            async with aclosing(connection.notifies(timeout=idle_check_seconds)) as notifies:
                async for notify in notifies:
                    heard = True
                    yield parse_change(json.loads(notify.payload))
            if not heard:
                await connection.execute("SELECT 1")
