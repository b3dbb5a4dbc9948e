"""Provider calendar connections: made, chosen, synced, broken, removed; and their busy blocks.

A sync's busy time replaces the calendar's blocks in one transaction: a full listing replaces
all of them, an incremental one removes the resources it names and adds what is busy now. The
booking's own events (written by us) are not stored: the booking already blocks its time.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple, cast
from uuid import UUID, uuid4

from sqlalchemy import ColumnElement, Table, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contract.calendars import BusyChanges, BusyEvent, ConnectionStatus
from db import audit
from db.availability_changes import Span, announce_spans
from db.engine import Database
from db.models import (
    Appointment,
    CalendarAuthorization,
    CalendarConnection,
    CalendarEventLink,
    ExternalBusyBlock,
    Service,
)
from domain.booking_state import BookingStatus
from domain.timezones import utc_now

_connections = cast(Table, CalendarConnection.__table__)
_authorizations = cast(Table, CalendarAuthorization.__table__)
_blocks = cast(Table, ExternalBusyBlock.__table__)
_links = cast(Table, CalendarEventLink.__table__)
_appointments = cast(Table, Appointment.__table__)
_services = cast(Table, Service.__table__)
# How far ahead calendars are read when the provider offers nothing further.
DEFAULT_HORIZON_DAYS = 90
# A recurring resource's occurrences are `<resource>#<occurrence>`.
OCCURRENCE = "#"


class Connection(NamedTuple):
    id: UUID
    provider_id: UUID
    kind: str
    status: str
    account: str
    server_url: str | None
    secret: str
    blocking_calendars: list[str]
    destination_calendar: str | None
    sync_state: dict[str, str]
    last_synced_at: datetime | None
    full_synced_at: datetime | None
    last_error: str | None
    broken_reason: str | None
    created_at: datetime
    updated_at: datetime


_COLUMNS = [_connections.c[name] for name in Connection._fields]


def _connection(row: Sequence[object]) -> Connection:
    values = dict(zip(Connection._fields, row, strict=True))
    values["blocking_calendars"] = json.loads(str(values["blocking_calendars"]))
    values["sync_state"] = json.loads(str(values["sync_state"]))
    return Connection(**values)  # type: ignore[arg-type]


async def connect(
    db: Database,
    *,
    provider_id: UUID,
    kind: str,
    account: str,
    secret: str,
    now: datetime,
    server_url: str | None = None,
) -> Connection:
    """Store a new grant or login; the same account connected again replaces its secret and
    becomes active again (a broken connection is mended by reconnecting)."""
    insert_new = sqlite_insert if db.dialect == "sqlite" else postgresql_insert
    row = {
        "id": uuid4(),
        "provider_id": provider_id,
        "kind": kind,
        "status": ConnectionStatus.ACTIVE.value,
        "account": account,
        "server_url": server_url,
        "secret": secret,
        "blocking_calendars": "[]",
        "sync_state": "{}",
        "created_at": now,
        "updated_at": now,
    }
    statement = insert_new(_connections).values(row)
    statement = statement.on_conflict_do_update(
        index_elements=["provider_id", "kind", "account"],
        set_={
            "secret": statement.excluded.secret,
            "server_url": statement.excluded.server_url,
            "status": ConnectionStatus.ACTIVE.value,
            "broken_reason": None,
            "last_error": None,
            "updated_at": now,
        },
    )
    async with db.transaction() as connection:
        await connection.execute(statement)
        found = (
            await connection.execute(
                select(*_COLUMNS).where(
                    _connections.c.provider_id == provider_id,
                    _connections.c.kind == kind,
                    _connections.c.account == account,
                )
            )
        ).one()
        made = _connection(found)
        await _audit(connection, "calendar.connected", made.id, provider_id, kind, now)
    return made


async def of_provider(db: Database, provider_id: UUID) -> list[Connection]:
    async with db.reading() as connection:
        rows = await connection.execute(
            select(*_COLUMNS)
            .where(_connections.c.provider_id == provider_id)
            .order_by(_connections.c.created_at, _connections.c.kind, _connections.c.account)
        )
        return [_connection(row) for row in rows]


async def get(db: Database, connection_id: UUID) -> Connection | None:
    async with db.reading() as connection:
        row = (
            await connection.execute(select(*_COLUMNS).where(_connections.c.id == connection_id))
        ).first()
    return _connection(row) if row is not None else None


async def disconnect(db: Database, connection_id: UUID, *, now: datetime | None = None) -> bool:
    """Remove the connection and every busy block it brought; False if there was none."""
    now = now or utc_now()
    async with db.transaction() as connection:
        freed = await _delete_blocks(connection, _blocks.c.connection_id == connection_id)
        gone = (
            await connection.execute(
                delete(_connections)
                .where(_connections.c.id == connection_id)
                .returning(_connections.c.provider_id, _connections.c.kind)
            )
        ).first()
        if gone is not None:
            provider_id, kind = gone
            await _audit(connection, "calendar.disconnected", connection_id, provider_id, kind, now)
            await announce_spans(connection, provider_id, freed)
    return gone is not None


async def _audit(
    connection: AsyncConnection,
    action: str,
    connection_id: UUID,
    provider_id: UUID,
    kind: str,
    now: datetime,
) -> None:
    actor = await audit.provider_actor(connection, provider_id)
    detail = {"connection_id": connection_id, "kind": kind, "provider_id": provider_id}
    await audit.record(connection, actor, action, now=now, account_id=actor.id, detail=detail)


async def choose(
    db: Database,
    connection_id: UUID,
    *,
    blocking: list[str],
    destination: str | None,
    now: datetime,
) -> None:
    """Which calendars block the provider's time, and where new bookings go. A calendar no
    longer blocking takes its busy blocks and sync state with it."""
    # Read, then write: serialized, or two SQLite writers deadlock on the upgrade.
    async with db.serialized_transaction() as connection:
        found = (
            await connection.execute(
                select(_connections.c.sync_state, _connections.c.provider_id).where(
                    _connections.c.id == connection_id
                )
            )
        ).first()
        state_text = found.sync_state if found is not None else None
        state = {k: v for k, v in json.loads(state_text or "{}").items() if k in blocking}
        freed = await _delete_blocks(
            connection,
            (_blocks.c.connection_id == connection_id) & _blocks.c.calendar_id.not_in(blocking),
        )
        if found is not None:
            await announce_spans(connection, found.provider_id, freed)
        await connection.execute(
            update(_connections)
            .where(_connections.c.id == connection_id)
            .values(
                blocking_calendars=json.dumps(blocking),
                destination_calendar=destination,
                sync_state=json.dumps(state),
                updated_at=now,
            )
        )


async def mark_broken(db: Database, connection_id: UUID, reason: str, *, now: datetime) -> bool:
    """The grant no longer works: broken until the provider reconnects. True if it was not
    broken already (so the provider is told once)."""
    async with db.transaction() as connection:
        result = await connection.execute(
            update(_connections)
            .where(
                _connections.c.id == connection_id,
                _connections.c.status != ConnectionStatus.BROKEN.value,
            )
            .values(
                status=ConnectionStatus.BROKEN.value,
                broken_reason=reason,
                last_error=reason,
                updated_at=now,
            )
        )
    return bool(result.rowcount)


async def replace_secret(db: Database, connection_id: UUID, secret: str, *, now: datetime) -> None:
    """A refreshed grant."""
    async with db.transaction() as connection:
        await connection.execute(
            update(_connections)
            .where(_connections.c.id == connection_id)
            .values(secret=secret, updated_at=now)
        )


async def sync_failed(db: Database, connection_id: UUID, error: str, *, now: datetime) -> None:
    async with db.transaction() as connection:
        await connection.execute(
            update(_connections)
            .where(_connections.c.id == connection_id)
            .values(last_error=error, updated_at=now)
        )


def block_key(connection_id: UUID, calendar_id: str, external_id: str) -> str:
    """The block's external_id column: unique per connection, calendar and occurrence, within
    the column's 255 characters whatever the vendor's ids are."""
    named = f"{connection_id}\n{calendar_id}\n{external_id}".encode()
    return hashlib.sha256(named).hexdigest()


def resource_of(external_id: str) -> str:
    return external_id.split(OCCURRENCE, 1)[0]


async def apply_busy_changes(
    db: Database,
    connection: Connection,
    calendar_id: str,
    changes: BusyChanges,
    *,
    now: datetime,
) -> int:
    """Store one calendar's sync and its new state, in one transaction; how many blocks the
    calendar has now."""
    mine = _blocks.c.connection_id == connection.id
    in_calendar = mine & (_blocks.c.calendar_id == calendar_id)
    async with db.serialized_transaction() as conn:
        # Ours mirror a booking that blocks its time already: known by the booking the vendor
        # names, or by the event id we wrote (a vendor may not echo our marks in its changes).
        written = set(
            await conn.scalars(
                select(_links.c.event_id).where(_links.c.connection_id == connection.id)
            )
        )
        theirs = [
            e
            for e in changes.busy
            if e.booking_id is None
            and e.end > e.start  # an empty span blocks nothing
            and e.external_id not in written
            and resource_of(e.external_id) not in written
        ]
        removed: list[Span] = []
        if changes.full:
            removed = await _delete_blocks(conn, in_calendar)
        else:
            gone = {resource_of(key) for key in changes.removed} | {
                resource_of(event.external_id) for event in changes.busy
            }
            gone_keys = list(changes.removed)
            if gone or gone_keys:
                removed = await _delete_blocks(
                    conn,
                    in_calendar
                    & or_(_blocks.c.resource.in_(gone), _blocks.c.resource.in_(gone_keys)),
                )
        if theirs:
            await conn.execute(
                _blocks.insert(), [_row(connection, calendar_id, e, now) for e in theirs]
            )
        added = [(e.start, e.end) for e in theirs]
        await announce_spans(conn, connection.provider_id, _changed_spans(removed, added))
        # Read here, not from `connection`: each calendar's sync writes its own entry.
        state_text = await conn.scalar(
            select(_connections.c.sync_state).where(_connections.c.id == connection.id)
        )
        state = json.loads(state_text or "{}")
        if changes.state is not None:
            state[calendar_id] = changes.state
        else:
            state.pop(calendar_id, None)
        await conn.execute(
            update(_connections)
            .where(_connections.c.id == connection.id)
            .values(
                sync_state=json.dumps(state),
                last_synced_at=now,
                last_error=None,
                updated_at=now,
                **({"full_synced_at": now} if changes.full else {}),
            )
        )
        count = await conn.scalar(select(func.count(_blocks.c.id)).where(in_calendar))
    return int(count or 0)


async def _delete_blocks(connection: AsyncConnection, which: ColumnElement[bool]) -> list[Span]:
    """Delete these busy blocks; the spans they blocked."""
    deleted = await connection.execute(
        delete(_blocks).where(which).returning(_blocks.c.start_at, _blocks.c.end_at)
    )
    return [(start, end) for start, end in deleted]


def _changed_spans(removed: Iterable[Span], added: Iterable[Span]) -> list[Span]:
    """The busy spans a sync really changed: a full sync rewrites every block, mostly as it was."""
    before, after = Counter(removed), Counter(added)
    return list(((before - after) + (after - before)).elements())


def _row(
    connection: Connection, calendar_id: str, event: BusyEvent, now: datetime
) -> dict[str, object]:
    return {
        "id": uuid4(),
        "provider_id": connection.provider_id,
        "source": connection.kind,
        "external_id": block_key(connection.id, calendar_id, event.external_id),
        "start_at": event.start,
        "end_at": event.end,
        "created_at": now,
        "connection_id": connection.id,
        "calendar_id": calendar_id,
        "resource": resource_of(event.external_id),
    }


class Authorization(NamedTuple):
    user_id: UUID
    provider_id: UUID
    kind: str
    secret: str


async def start_authorization(
    db: Database,
    *,
    state: str,
    user_id: UUID,
    provider_id: UUID,
    kind: str,
    secret: str,
    expires_at: datetime,
    now: datetime,
) -> None:
    async with db.transaction() as connection:
        await connection.execute(
            _authorizations.insert().values(
                state=state,
                user_id=user_id,
                provider_id=provider_id,
                kind=kind,
                secret=secret,
                expires_at=expires_at,
                created_at=now,
            )
        )


async def take_authorization(
    db: Database, *, state: str, kind: str, now: datetime
) -> Authorization | None:
    """The flow `state` names, once, of that kind, before it expires (None otherwise: unknown,
    used or expired). The vendor's redirect carries no sign-in of ours: the state, random and
    single use, is what binds the callback to the user who started it."""
    async with db.transaction() as connection:
        taken = await connection.execute(
            update(_authorizations)
            .where(
                _authorizations.c.state == state,
                _authorizations.c.kind == kind,
                _authorizations.c.used_at.is_(None),
                _authorizations.c.expires_at > now,
            )
            .values(used_at=now)
        )
        if not taken.rowcount:
            return None
        row = (
            await connection.execute(
                select(
                    _authorizations.c.user_id,
                    _authorizations.c.provider_id,
                    _authorizations.c.kind,
                    _authorizations.c.secret,
                ).where(_authorizations.c.state == state)
            )
        ).one()
    return Authorization(*row)


async def horizon_days(db: Database, provider_id: UUID) -> int:
    """How far ahead the provider can be booked: the furthest of their services' horizons."""
    async with db.reading() as connection:
        days = await connection.scalar(
            select(func.max(_services.c.horizon_days)).where(_services.c.provider_id == provider_id)
        )
    return int(days or DEFAULT_HORIZON_DAYS)


async def conflicts(db: Database, connection_id: UUID, *, now: datetime) -> list[tuple[UUID, str]]:
    """Confirmed bookings still ahead that a block of this connection overlaps, with the block
    (its key): the provider is told; the bookings are left as they are."""
    overlapping = (
        select(_appointments.c.id, _blocks.c.external_id)
        .select_from(
            _appointments.join(_blocks, _blocks.c.provider_id == _appointments.c.provider_id)
        )
        .where(
            _blocks.c.connection_id == connection_id,
            _appointments.c.status == BookingStatus.CONFIRMED.value,
            _appointments.c.end_at > now,
            _blocks.c.start_at < _appointments.c.end_at,
            _blocks.c.end_at > _appointments.c.start_at,
        )
        .order_by(_appointments.c.start_at)
    )
    async with db.reading() as connection:
        return [(booking, block) for booking, block in await connection.execute(overlapping)]
