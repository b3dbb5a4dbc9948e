"""Erasure on request: the account's future bookings to cancel first, then one transaction.

Erasure keeps what accounting needs (bookings, payments, the audit log: ids, times, amounts)
and pseudonymizes or deletes the rest; see README, "Your data".
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID, uuid4

from sqlalchemy import Table, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db import audit
from db.availability_changes import announce
from db.engine import Database
from db.models import (
    Appointment,
    CalendarAuthorization,
    CalendarConnection,
    CalendarEventLink,
    ExternalBusyBlock,
    Holiday,
    Notification,
    ProviderProfile,
    ScheduleOverride,
    Service,
    User,
    WorkingHours,
)
from domain.booking_state import ACTIVE_STATUSES

_users = cast(Table, User.__table__)
_profiles = cast(Table, ProviderProfile.__table__)
_services = cast(Table, Service.__table__)
_hours = cast(Table, WorkingHours.__table__)
_overrides = cast(Table, ScheduleOverride.__table__)
_holidays = cast(Table, Holiday.__table__)
_appointments = cast(Table, Appointment.__table__)
_notifications = cast(Table, Notification.__table__)
_connections = cast(Table, CalendarConnection.__table__)
_links = cast(Table, CalendarEventLink.__table__)
_blocks = cast(Table, ExternalBusyBlock.__table__)
_authorizations = cast(Table, CalendarAuthorization.__table__)

ERASED_NAME = "Erased user"
ERASED_PROVIDER_NAME = "Erased provider"
# No argon2 hash looks like this: verification fails, it never raises.
UNUSABLE_PASSWORD = "!erased"
REDACTED_RECIPIENT = "redacted"
# Message contents that name people; kept: kind, channel, status, times.
MESSAGE_CONTENT = {
    "subject": None,
    "body_text": None,
    "body_html": None,
    "ics": None,
    "last_error": None,
}


def _as_customer(user_id: UUID) -> Any:
    return _appointments.c.customer_id == user_id


@dataclass(frozen=True, slots=True)
class FutureBooking:
    booking_id: UUID
    as_customer: bool


async def future_bookings(
    db: Database, user_id: UUID, provider_id: UUID | None, *, now: datetime
) -> list[FutureBooking]:
    """Active bookings not yet started that the account takes part in, as customer or provider."""
    theirs = [_as_customer(user_id)]
    if provider_id is not None:
        theirs.append(_appointments.c.provider_id == provider_id)
    query = select(_appointments.c.id, _appointments.c.customer_id).where(
        or_(*theirs),
        _appointments.c.status.in_(ACTIVE_STATUSES),
        _appointments.c.start_at > now,
    )
    async with db.reading() as connection:
        rows = (await connection.execute(query.order_by(_appointments.c.start_at))).all()
    return [FutureBooking(row.id, row.customer_id == user_id) for row in rows]


class BookedMeanwhile(Exception):
    """An active booking the cancellation pass did not see (made while it ran): erasing now
    would leave it active on an erased account."""


@dataclass(frozen=True, slots=True)
class Erased:
    """What erasure removed that lives on outside the database: the calendar syncs to stop."""

    calendar_connections: tuple[UUID, ...]


async def erase(
    db: Database,
    user_id: UUID,
    actor: audit.Actor,
    *,
    now: datetime,
    detail: Mapping[str, Any] | None = None,
    seen: Collection[UUID] = (),
) -> Erased | None:
    """Pseudonymize the account and remove its personal data in one transaction, keeping the
    bookings and payments accounting needs; None if there is no such (unerased) account.
    BookedMeanwhile, and nothing erased, if a future booking is active that is not in `seen`
    (those the cancellation pass handled)."""
    async with db.serialized_transaction() as connection:
        # A hold locks its customer's row (db/hold_cap.py) on PostgreSQL; so does this, before
        # looking: a hold either committed before the look, or waits for the erasure.
        await connection.execute(
            select(_users.c.id).where(_users.c.id == user_id).with_for_update(key_share=True)
        )
        provider_id = await connection.scalar(
            select(_profiles.c.id).where(_profiles.c.user_id == user_id)
        )
        theirs = [_as_customer(user_id)]
        if provider_id is not None:
            theirs.append(_appointments.c.provider_id == provider_id)
        unseen = await connection.scalar(
            select(func.count())
            .select_from(_appointments)
            .where(
                or_(*theirs),
                _appointments.c.status.in_(ACTIVE_STATUSES),
                _appointments.c.start_at > now,
                _appointments.c.id.not_in(list(seen)),
            )
        )
        if unseen:
            raise BookedMeanwhile(f"{unseen} booking(s) made while the account was being closed")
        erased = await connection.execute(
            update(_users)
            .where(_users.c.id == user_id, _users.c.erased_at.is_(None))
            .values(
                email=f"erased-{uuid4()}@invalid",
                full_name=ERASED_NAME,
                phone=None,
                password_hash=UNUSABLE_PASSWORD,
                email_notifications=False,
                sms_opt_in=False,
                failed_logins=0,
                login_retry_at=None,
                erased_at=now,
            )
        )
        if not erased.rowcount:
            return None
        their_bookings = select(_appointments.c.id).where(or_(*theirs)).scalar_subquery()
        await connection.execute(
            update(_appointments)
            .where(_as_customer(user_id))
            .values(customer_timezone=None, cancel_note=None)
        )
        await connection.execute(update(_appointments).where(or_(*theirs)).values(cancel_note=None))
        await connection.execute(
            update(_notifications)
            .where(_notifications.c.user_id == user_id)
            .values(recipient=REDACTED_RECIPIENT, **MESSAGE_CONTENT)
        )
        # Messages to others about their bookings name them too.
        await connection.execute(
            update(_notifications)
            .where(_notifications.c.appointment_id.in_(their_bookings))
            .values(**MESSAGE_CONTENT)
        )
        await connection.execute(
            delete(_authorizations).where(_authorizations.c.user_id == user_id)
        )
        connections: tuple[UUID, ...] = ()
        if provider_id is not None:
            connections = await _erase_provider(connection, provider_id)
        await audit.record(
            connection,
            actor,
            "account.erased",
            now=now,
            account_id=user_id,
            detail={**(detail or {}), "calendar_connections_removed": len(connections)},
        )
    return Erased(calendar_connections=connections)


async def _erase_provider(connection: AsyncConnection, provider_id: UUID) -> tuple[UUID, ...]:
    """The profile stays (past bookings point at it) under a neutral name, closed for booking;
    its calendars, their secrets and busy time, hours and holidays go."""
    await connection.execute(
        update(_profiles)
        .where(_profiles.c.id == provider_id)
        .values(display_name=ERASED_PROVIDER_NAME)
    )
    await connection.execute(
        update(_services).where(_services.c.provider_id == provider_id).values(active=False)
    )
    for table in (_hours, _overrides, _holidays, _blocks):
        await connection.execute(delete(table).where(table.c.provider_id == provider_id))
    await announce(connection, provider_id, None)
    ids = tuple(
        await connection.scalars(
            select(_connections.c.id).where(_connections.c.provider_id == provider_id)
        )
    )
    if ids:
        await connection.execute(delete(_links).where(_links.c.connection_id.in_(ids)))
        await connection.execute(delete(_connections).where(_connections.c.id.in_(ids)))
    await connection.execute(
        delete(_authorizations).where(_authorizations.c.provider_id == provider_id)
    )
    return ids
