"""Booking writes and reads. Every check-then-write runs in one serialized transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import Database
from db.models import Appointment, PaymentTransaction, ProviderProfile, Service
from domain.availability import SlotNotBookable, SlotTaken
from domain.booking_state import ACTIVE_STATUSES, HOLD_STATUSES, BookingStatus
from workflows.models import (
    BookingState,
    Hold,
    HoldRequest,
    Money,
    PaymentIntent,
    PaymentVoid,
    ReleaseRequest,
)

EXCLUSION_VIOLATION = "23P01"
OVERLAP_GUARD = "ex_appointments_no_overlap"


def is_overlap_violation(err: IntegrityError) -> bool:
    """PostgreSQL's exclusion constraint or SQLite's trigger refused an overlapping booking."""
    return getattr(err.orig, "sqlstate", None) == EXCLUSION_VIOLATION or OVERLAP_GUARD in str(
        err.orig
    )


class HoldLost(Exception):
    """The hold is gone (lapsed and taken, or released) by the time the booking confirms."""

    def __init__(self, status: str) -> None:
        super().__init__(f"the hold is no longer held (status {status})")
        self.status = status


async def hold_slot(db: Database, request: HoldRequest, *, now: datetime) -> Hold:
    """Hold the requested slot for the booking, or raise SlotTaken / SlotNotBookable.

    Idempotent: a retried attempt for the same booking returns the hold it already made.
    """
    try:
        async with db.serialized() as session:
            existing = await session.get(Appointment, request.booking_id)
            if existing is not None:
                return _hold(existing)
            service, provider = await _service_of(session, request)
            start = request.start
            end = start + timedelta(minutes=service.duration_minutes)
            blocked_start = start - timedelta(minutes=service.buffer_before_minutes)
            blocked_end = end + timedelta(minutes=service.buffer_after_minutes)
            await _expire_lapsed_holds(session, provider.id, blocked_start, blocked_end, now)
            if await _overlaps_active(session, provider.id, blocked_start, blocked_end):
                raise SlotTaken()
            status = _initial_status(service, provider)
            appointment = Appointment(
                id=request.booking_id,
                provider_id=provider.id,
                service_id=service.id,
                customer_id=request.customer_id,
                start_at=start,
                end_at=end,
                blocked_start=blocked_start,
                blocked_end=blocked_end,
                status=status,
                hold_expires_at=request.payment_deadline
                if status == BookingStatus.AWAITING_PAYMENT
                else None,
                price_amount=service.price_amount,
                currency=service.currency,
                customer_timezone=request.customer_timezone,
                created_at=now,
                updated_at=now,
            )
            session.add(appointment)
            await session.flush()
            return _hold(appointment)
    except IntegrityError as err:
        # The database's own overlap guard: a concurrent hold won the race for this slot.
        if is_overlap_violation(err):
            raise SlotTaken() from err
        raise


async def release_hold(db: Database, request: ReleaseRequest, *, now: datetime) -> bool:
    """End a hold that did not become a booking; False if it was no longer held (idempotent)."""
    async with db.serialized() as session:
        result = await session.execute(
            update(Appointment)
            .where(Appointment.id == request.booking_id)
            .where(Appointment.status.in_(HOLD_STATUSES))
            .values(status=request.status, cancel_reason=request.reason, updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def confirm_booking(
    db: Database, booking_id: UUID, intent_id: str | None, *, now: datetime
) -> None:
    """Turn the hold into a confirmed booking (and its payment into a succeeded one)."""
    async with db.serialized() as session:
        appointment = await session.get(Appointment, booking_id)
        if appointment is None:
            raise HoldLost("missing")
        if appointment.status == BookingStatus.CONFIRMED:
            return
        if appointment.status not in HOLD_STATUSES:
            raise HoldLost(appointment.status)
        appointment.status = BookingStatus.CONFIRMED
        appointment.hold_expires_at = None
        appointment.updated_at = now
        if intent_id is not None:
            await session.execute(
                update(PaymentTransaction)
                .where(PaymentTransaction.intent_id == intent_id)
                .values(status="succeeded", updated_at=now)
            )


async def record_payment_intent(
    db: Database, booking_id: UUID, intent: PaymentIntent, *, now: datetime
) -> None:
    async with db.serialized() as session:
        existing = await session.scalar(
            select(PaymentTransaction.id).where(PaymentTransaction.intent_id == intent.id)
        )
        if existing is None:
            session.add(
                PaymentTransaction(
                    appointment_id=booking_id,
                    gateway=intent.gateway,
                    intent_id=intent.id,
                    amount=intent.amount,
                    currency=intent.currency,
                    status=intent.status,
                    refunded_amount=0,
                    created_at=now,
                    updated_at=now,
                )
            )


async def record_payment_void(db: Database, void: PaymentVoid, *, now: datetime) -> None:
    status = "refunded" if void.refunded_amount else "canceled"
    async with db.serialized() as session:
        await session.execute(
            update(PaymentTransaction)
            .where(PaymentTransaction.intent_id == void.intent_id)
            .values(status=status, refunded_amount=void.refunded_amount, updated_at=now)
        )


async def get_booking(db: Database, booking_id: UUID) -> BookingState | None:
    async with db.session() as session:
        appointment = await session.get(Appointment, booking_id)
        if appointment is None:
            return None
        payment = await session.scalar(
            select(PaymentTransaction)
            .where(PaymentTransaction.appointment_id == booking_id)
            .order_by(PaymentTransaction.created_at.desc())
            .limit(1)
        )
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
        )


async def _service_of(
    session: AsyncSession, request: HoldRequest
) -> tuple[Service, ProviderProfile]:
    row = (
        await session.execute(
            select(Service, ProviderProfile)
            .join(ProviderProfile, Service.provider_id == ProviderProfile.id)
            .where(Service.id == request.service_id)
        )
    ).first()
    if row is None or not row[0].active or row[1].id != request.provider_id:
        raise SlotNotBookable("unknown_service", "this provider offers no such service")
    return row[0], row[1]


async def _expire_lapsed_holds(
    session: AsyncSession,
    provider_id: UUID,
    blocked_start: datetime,
    blocked_end: datetime,
    now: datetime,
) -> None:
    # A lapsed hold frees its slot now, not whenever its workflow's timer fires.
    await session.execute(
        update(Appointment)
        .where(Appointment.provider_id == provider_id)
        .where(Appointment.status.in_(HOLD_STATUSES))
        .where(Appointment.hold_expires_at <= now)
        .where(Appointment.blocked_start < blocked_end)
        .where(Appointment.blocked_end > blocked_start)
        .values(status=BookingStatus.EXPIRED, cancel_reason="hold expired", updated_at=now)
    )


async def _overlaps_active(
    session: AsyncSession, provider_id: UUID, blocked_start: datetime, blocked_end: datetime
) -> bool:
    found = await session.scalar(
        select(Appointment.id)
        .where(Appointment.provider_id == provider_id)
        .where(Appointment.status.in_(ACTIVE_STATUSES))
        .where(Appointment.blocked_start < blocked_end)
        .where(Appointment.blocked_end > blocked_start)
        .limit(1)
    )
    return found is not None


def _initial_status(service: Service, provider: ProviderProfile) -> BookingStatus:
    if service.price_amount > 0:
        return BookingStatus.AWAITING_PAYMENT
    return BookingStatus.CONFIRMED if provider.auto_confirm else BookingStatus.AWAITING_APPROVAL


def _hold(appointment: Appointment) -> Hold:
    return Hold(
        booking_id=appointment.id,
        start=appointment.start_at,
        end=appointment.end_at,
        price=Money(amount=appointment.price_amount, currency=appointment.currency),
        status=BookingStatus(appointment.status),
        hold_expires_at=appointment.hold_expires_at,
    )


async def complete_booking(db: Database, booking_id: UUID, *, now: datetime) -> bool:
    """Mark a confirmed appointment that has ended as completed; False if it was not confirmed."""
    async with db.serialized() as session:
        result = await session.execute(
            update(Appointment)
            .where(Appointment.id == booking_id)
            .where(Appointment.status == BookingStatus.CONFIRMED)
            .values(status=BookingStatus.COMPLETED, updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
