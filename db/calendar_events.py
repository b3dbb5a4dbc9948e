"""A booking as events in its provider's connected calendars: what to write, and where it is."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, cast
from uuid import UUID

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from db.engine import Database
from db.models import Appointment, CalendarEventLink, ProviderProfile, Service, User

_appointments = cast(Table, Appointment.__table__)
_services = cast(Table, Service.__table__)
_profiles = cast(Table, ProviderProfile.__table__)
_users = cast(Table, User.__table__)
_links = cast(Table, CalendarEventLink.__table__)


class BookingToMirror(NamedTuple):
    booking_id: UUID
    provider_id: UUID
    status: str
    start: datetime
    end: datetime
    service_name: str
    customer_name: str
    provider_timezone: str


class Link(NamedTuple):
    connection_id: UUID
    calendar_id: str
    event_id: str
    start: datetime
    end: datetime


async def booking_to_mirror(db: Database, booking_id: UUID) -> BookingToMirror | None:
    query = (
        select(
            _appointments.c.id,
            _appointments.c.provider_id,
            _appointments.c.status,
            _appointments.c.start_at,
            _appointments.c.end_at,
            _services.c.name,
            _users.c.full_name,
            _profiles.c.timezone,
        )
        .join(_services, _services.c.id == _appointments.c.service_id)
        .join(_profiles, _profiles.c.id == _appointments.c.provider_id)
        .join(_users, _users.c.id == _appointments.c.customer_id)
        .where(_appointments.c.id == booking_id)
    )
    async with db.reading() as connection:
        row = (await connection.execute(query)).first()
    return BookingToMirror(*row) if row is not None else None


async def links(db: Database, booking_id: UUID) -> list[Link]:
    async with db.reading() as connection:
        rows = await connection.execute(
            select(
                _links.c.connection_id,
                _links.c.calendar_id,
                _links.c.event_id,
                _links.c.start_at,
                _links.c.end_at,
            ).where(_links.c.booking_id == booking_id)
        )
        return [Link(*row) for row in rows]


async def written(
    db: Database,
    booking_id: UUID,
    link: Link,
    *,
    etag: str | None,
    now: datetime,
) -> None:
    insert_new = sqlite_insert if db.dialect == "sqlite" else postgresql_insert
    values = {
        "booking_id": booking_id,
        "connection_id": link.connection_id,
        "calendar_id": link.calendar_id,
        "event_id": link.event_id,
        "etag": etag,
        "start_at": link.start,
        "end_at": link.end,
        "updated_at": now,
    }
    statement = insert_new(_links).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["booking_id", "connection_id"],
        set_={k: v for k, v in values.items() if k not in ("booking_id", "connection_id")},
    )
    async with db.transaction() as connection:
        await connection.execute(statement)


async def removed(db: Database, booking_id: UUID, connection_id: UUID) -> None:
    async with db.transaction() as connection:
        await connection.execute(
            delete(_links).where(
                _links.c.booking_id == booking_id, _links.c.connection_id == connection_id
            )
        )
