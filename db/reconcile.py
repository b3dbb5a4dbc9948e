"""The reconciler's queries: bookings that may have outlived their workflow, and guarded fixes."""

from __future__ import annotations

from datetime import datetime
from typing import cast
from uuid import UUID

from sqlalchemy import Table, Uuid, and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from contract.reconcile import EXPIRED_BY_RECONCILER, Candidate, CandidateQuery, Finding
from db import audit
from db.availability_changes import announce_bookings
from db.engine import Database
from db.models import Appointment, PaymentTransaction
from db.types import UTCDateTime
from domain.booking_state import ACTIVE_STATUSES, HOLD_STATUSES, BookingStatus, can_move

_appointments = cast(Table, Appointment.__table__)
_payments = cast(Table, PaymentTransaction.__table__)

# The guards follow the state machine rather than restating it.
_EXPIRABLE = sorted(s for s in HOLD_STATUSES if can_move(s, BookingStatus.EXPIRED))
assert can_move(BookingStatus.CONFIRMED, BookingStatus.COMPLETED)
VOIDED_PAYMENT_STATUSES = ("canceled", "refunded")

_CANDIDATE_COLUMNS = (
    _appointments.c.id,
    _appointments.c.status,
    _appointments.c.start_at,
    _appointments.c.end_at,
    _appointments.c.hold_expires_at,
)

_EXPIRE_LAPSED_HOLD = (
    update(_appointments)
    .where(
        _appointments.c.id == bindparam("booking_id", type_=Uuid),
        _appointments.c.status.in_(_EXPIRABLE),
        _appointments.c.hold_expires_at < bindparam("cutoff", type_=UTCDateTime),
    )
    .values(
        status=BookingStatus.EXPIRED,
        cancel_reason=EXPIRED_BY_RECONCILER,
        updated_at=bindparam("now", type_=UTCDateTime),
    )
)
_COMPLETE_ENDED = (
    update(_appointments)
    .where(
        _appointments.c.id == bindparam("booking_id", type_=Uuid),
        _appointments.c.status == BookingStatus.CONFIRMED,
        _appointments.c.end_at < bindparam("cutoff", type_=UTCDateTime),
    )
    .values(status=BookingStatus.COMPLETED, updated_at=bindparam("now", type_=UTCDateTime))
)
_OUTCOME_OF = select(_appointments.c.status, _appointments.c.cancel_reason).where(
    _appointments.c.id == bindparam("booking_id", type_=Uuid)
)
_OPEN_PAYMENTS = (
    select(_payments.c.intent_id)
    .where(
        _payments.c.appointment_id == bindparam("booking_id", type_=Uuid),
        _payments.c.status.not_in(VOIDED_PAYMENT_STATUSES),
    )
    .order_by(_payments.c.created_at)
)


async def find_candidates(db: Database, query: CandidateQuery, *, now: datetime) -> list[Candidate]:
    """Active bookings older than the grace period, lapsed holds and ended confirmed bookings,
    by id after `query.after`; at most `query.limit` of them."""
    cutoff = now - query.grace
    columns = _appointments.c
    statement = (
        select(*_CANDIDATE_COLUMNS)
        .where(
            columns.status.in_(ACTIVE_STATUSES),
            or_(
                columns.created_at < cutoff,
                and_(columns.status.in_(HOLD_STATUSES), columns.hold_expires_at < cutoff),
                and_(columns.status == BookingStatus.CONFIRMED, columns.end_at < cutoff),
            ),
        )
        .order_by(columns.id)
        .limit(query.limit)
    )
    if query.after is not None:
        statement = statement.where(columns.id > query.after)
    if query.provider_id is not None:
        statement = statement.where(columns.provider_id == query.provider_id)
    async with db.reading() as connection:
        rows = (await connection.execute(statement)).all()
    return [
        Candidate(
            booking_id=row.id,
            status=BookingStatus(row.status),
            finding=_finding(
                BookingStatus(row.status),
                row.start_at,
                row.end_at,
                row.hold_expires_at,
                now,
                cutoff,
            ),
        )
        for row in rows
    ]


def _finding(
    status: BookingStatus,
    start: datetime,
    end: datetime,
    hold_expires_at: datetime | None,
    now: datetime,
    cutoff: datetime,
) -> Finding:
    if status in HOLD_STATUSES:
        lapsed = hold_expires_at is not None and hold_expires_at < cutoff
        return Finding.LAPSED_HOLD if lapsed else Finding.OPEN_HOLD
    if end < cutoff:
        return Finding.ENDED
    return Finding.UPCOMING if start > now else Finding.UNDER_WAY


async def expire_lapsed_hold(
    db: Database, booking_id: UUID, *, now: datetime, cutoff: datetime
) -> bool:
    """Expire the hold if it is still a hold that lapsed before `cutoff`; True also when an
    earlier attempt of this step already did."""
    async with db.serialized_transaction() as connection:
        params = {"booking_id": booking_id, "cutoff": cutoff, "now": now}
        if (await connection.execute(_EXPIRE_LAPSED_HOLD, params)).rowcount:
            await announce_bookings(connection, [booking_id])
            await _audit(connection, BookingStatus.EXPIRED, booking_id, now)
            return True
        found = (await connection.execute(_OUTCOME_OF, {"booking_id": booking_id})).first()
    return found is not None and tuple(found) == (BookingStatus.EXPIRED, EXPIRED_BY_RECONCILER)


async def complete_ended_booking(
    db: Database, booking_id: UUID, *, now: datetime, cutoff: datetime
) -> bool:
    """Complete the booking if it is still confirmed and ended before `cutoff`; True also when
    it is completed already (a retried step)."""
    async with db.serialized_transaction() as connection:
        params = {"booking_id": booking_id, "cutoff": cutoff, "now": now}
        if (await connection.execute(_COMPLETE_ENDED, params)).rowcount:
            await _audit(connection, BookingStatus.COMPLETED, booking_id, now)
            return True
        found = (await connection.execute(_OUTCOME_OF, {"booking_id": booking_id})).first()
    return found is not None and found.status == BookingStatus.COMPLETED


async def _audit(
    connection: AsyncConnection, status: BookingStatus, booking_id: UUID, now: datetime
) -> None:
    await audit.record(
        connection,
        audit.SYSTEM,
        f"booking.{status}",
        now=now,
        booking_id=booking_id,
        detail={"status": status, "by": "reconciler"},
    )


async def open_payment_intents(db: Database, booking_id: UUID) -> list[str]:
    """The booking's payment intents that are neither canceled nor refunded, oldest first."""
    async with db.reading() as connection:
        return list(await connection.scalars(_OPEN_PAYMENTS, {"booking_id": booking_id}))
