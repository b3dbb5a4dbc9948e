"""Reading bookings: one, a filtered page, or the one whose span a new booking would overlap."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, cast
from uuid import UUID

from sqlalchemy import Table, Uuid, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contract.messages import BookingState, Money, PaymentIntent
from db.engine import Database
from db.models import Appointment, PaymentTransaction, User
from db.types import UTCDateTime
from domain.booking_state import ACTIVE_STATUSES, BookingStatus

_appointments = cast(Table, Appointment.__table__)


_TAKEN = (
    select(_appointments.c.id)
    .where(
        _appointments.c.provider_id == bindparam("provider_id", type_=Uuid),
        _appointments.c.status.in_(ACTIVE_STATUSES),
        _appointments.c.hold_expires_at.is_(None)
        | (_appointments.c.hold_expires_at > bindparam("now", type_=UTCDateTime)),
        _appointments.c.blocked_start < bindparam("end", type_=UTCDateTime),
        _appointments.c.blocked_end > bindparam("start", type_=UTCDateTime),
    )
    .limit(1)
)


async def slot_taken_by(
    db: Database, provider_id: UUID, start: datetime, end: datetime, *, now: datetime
) -> UUID | None:
    """A cheap, conservative look before holding: the booking (active, or an unexpired hold)
    whose span, buffers included, overlaps [start, end), so that holding is sure to fail for
    any other booking. None proves nothing: the hold's own transaction decides."""
    async with db.reading() as connection:
        found: UUID | None = await connection.scalar(
            _TAKEN, {"provider_id": provider_id, "start": start, "end": end, "now": now}
        )
    return found


async def get_booking(db: Database, booking_id: UUID) -> BookingState | None:
    async with db.session() as session:
        appointment = await session.get(Appointment, booking_id)
        if appointment is None:
            return None
        payments = await _latest_payments(session, [booking_id])
    return _state(appointment, payments.get(booking_id))


async def list_bookings(
    db: Database,
    *,
    customer_id: UUID | None = None,
    provider_id: UUID | None = None,
    statuses: Sequence[BookingStatus] = (),
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[BookingState], int]:
    """One page of bookings by start time, filtered; with the count of all that match."""
    query = select(Appointment)
    if customer_id is not None:
        query = query.where(Appointment.customer_id == customer_id)
    if provider_id is not None:
        query = query.where(Appointment.provider_id == provider_id)
    if statuses:
        query = query.where(Appointment.status.in_(statuses))
    if start_from is not None:
        query = query.where(Appointment.start_at >= start_from)
    if start_to is not None:
        query = query.where(Appointment.start_at < start_to)
    async with db.session() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        page = list(
            await session.scalars(
                query.order_by(Appointment.start_at, Appointment.id).limit(limit).offset(offset)
            )
        )
        payments = await _latest_payments(session, [a.id for a in page])
    return [_state(a, payments.get(a.id)) for a in page], total or 0


class Customer(NamedTuple):
    name: str
    email: str


async def customers_of(db: Database, booking_ids: Sequence[UUID]) -> dict[UUID, Customer]:
    """Who made each booking: for its provider, who must know who is coming."""
    if not booking_ids:
        return {}
    query = (
        select(Appointment.id, User.full_name, User.email)
        .join(User, User.id == Appointment.customer_id)
        .where(Appointment.id.in_(booking_ids))
    )
    async with db.session() as session:
        rows = await session.execute(query)
        return {row.id: Customer(row.full_name, row.email) for row in rows}


async def _latest_payments(
    session: AsyncSession, booking_ids: Sequence[UUID]
) -> dict[UUID, PaymentTransaction]:
    latest: dict[UUID, PaymentTransaction] = {}
    if booking_ids:
        for payment in await session.scalars(
            select(PaymentTransaction)
            .where(PaymentTransaction.appointment_id.in_(booking_ids))
            .order_by(PaymentTransaction.created_at)
        ):
            latest[payment.appointment_id] = payment
    return latest


def _state(appointment: Appointment, payment: PaymentTransaction | None) -> BookingState:
    return BookingState(
        booking_id=appointment.id,
        status=BookingStatus(appointment.status),
        provider_id=appointment.provider_id,
        service_id=appointment.service_id,
        customer_id=appointment.customer_id,
        start=appointment.start_at,
        end=appointment.end_at,
        price=Money(amount=appointment.price_amount, currency=appointment.currency),
        hold_expires_at=appointment.hold_expires_at,
        payment=None
        if payment is None
        else PaymentIntent(
            id=payment.intent_id,
            client_secret="",
            amount=payment.amount,
            currency=payment.currency,
            status=payment.status,
            gateway=payment.gateway,
        ),
        reason=appointment.cancel_reason,
        timezone=appointment.customer_timezone,
        note=appointment.cancel_note,
    )
