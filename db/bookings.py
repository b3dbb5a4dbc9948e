"""Booking writes and reads. Every check-then-write runs in one serialized transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import Database
from db.models import Appointment, PaymentTransaction, ProviderProfile, Service
from db.schedule import load_context, rules_of, service_with_provider
from domain.availability import SlotNotBookable, SlotTaken, blocked_span, check_slot
from domain.booking_state import ACTIVE_STATUSES, HOLD_STATUSES, BookingStatus
from workflows.models import (
    ApprovalWait,
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

    The provider's rules are checked again here, inside the transaction that writes the hold:
    not only free, but in working hours, on the grid, after the notice, inside the horizon and
    under the daily maximum. Idempotent: a retried attempt returns the hold it already made.
    """
    try:
        async with db.serialized() as session:
            service, provider = await _service_of(session, request)
            existing = await session.get(Appointment, request.booking_id)
            if existing is not None:
                return _hold(existing, provider)
            # Holds of one provider run one at a time, so rules the overlap constraint cannot
            # express (the daily maximum, external busy time) hold under concurrency too.
            # SQLite's BEGIN IMMEDIATE already runs every hold one at a time.
            if db.dialect != "sqlite":
                await session.execute(
                    select(ProviderProfile.id)
                    .where(ProviderProfile.id == provider.id)
                    .with_for_update()
                )
            start = request.start.astimezone(UTC)
            rules = rules_of(service)
            span = blocked_span(start, rules)
            await _expire_lapsed_holds(session, provider.id, span.start, span.end, now)
            context = await load_context(
                session, provider, service, start, start + rules.duration, now
            )
            slot = check_slot(
                context.schedule,
                context.rules,
                start=start,
                busy=context.busy,
                booked_starts=context.booked_starts,
                now=now,
            )
            status = _initial_status(service, provider)
            appointment = Appointment(
                id=request.booking_id,
                provider_id=provider.id,
                service_id=service.id,
                customer_id=request.customer_id,
                start_at=slot.start,
                end_at=slot.end,
                blocked_start=span.start,
                blocked_end=span.end,
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
            return _hold(appointment, provider)
    except IntegrityError as err:
        # The database's own overlap guard: a concurrent hold won the race for this slot.
        if is_overlap_violation(err):
            raise SlotTaken() from err
        raise


async def slot_is_taken(
    db: Database, provider_id: UUID, start: datetime, end: datetime, *, now: datetime
) -> bool:
    """A cheap, conservative look before holding: True only if an active booking or an
    unexpired hold (buffers included) overlaps [start, end), so holding is sure to fail.
    False proves nothing: the hold's own transaction decides."""
    async with db.session() as session:
        found = await session.scalar(
            select(Appointment.id)
            .where(Appointment.provider_id == provider_id)
            .where(Appointment.status.in_(ACTIVE_STATUSES))
            .where((Appointment.hold_expires_at.is_(None)) | (Appointment.hold_expires_at > now))
            .where(Appointment.blocked_start < end.astimezone(UTC))
            .where(Appointment.blocked_end > start.astimezone(UTC))
            .limit(1)
        )
    return found is not None


async def release_slot(db: Database, request: ReleaseRequest, *, now: datetime) -> bool:
    """End a booking that occupies its slot (a hold or a confirmed one) with the given status.

    False if it no longer occupied it, so the undo step can run any number of times.
    """
    async with db.serialized() as session:
        result = await session.execute(
            update(Appointment)
            .where(Appointment.id == request.booking_id)
            .where(Appointment.status.in_(ACTIVE_STATUSES))
            .values(
                status=request.status,
                cancel_reason=request.reason,
                hold_expires_at=None,
                updated_at=now,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def await_approval(db: Database, wait: ApprovalWait, *, now: datetime) -> None:
    """Keep the hold until the provider decides; a paid intent is recorded as succeeded."""
    async with db.serialized() as session:
        appointment = await session.get(Appointment, wait.booking_id)
        if appointment is None or appointment.status not in HOLD_STATUSES:
            raise HoldLost(appointment.status if appointment else "missing")
        appointment.status = BookingStatus.AWAITING_APPROVAL
        appointment.hold_expires_at = wait.deadline
        appointment.updated_at = now
        await _payment_succeeded(session, wait.intent_id, now)


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
        await _payment_succeeded(session, intent_id, now)


async def _payment_succeeded(session: AsyncSession, intent_id: str | None, now: datetime) -> None:
    if intent_id is not None:
        await session.execute(
            update(PaymentTransaction)
            .where(PaymentTransaction.intent_id == intent_id)
            .values(status="succeeded", updated_at=now)
        )


async def record_payment_intent(
    db: Database, booking_id: UUID, intent: PaymentIntent, *, now: datetime
) -> None:
    """Record the intent once: a retried activity finds it there and changes nothing."""
    insert = sqlite_insert if db.dialect == "sqlite" else postgresql_insert
    async with db.session() as session, session.begin():
        await session.execute(
            insert(PaymentTransaction)
            .values(
                id=uuid4(),
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
            .on_conflict_do_nothing(index_elements=[PaymentTransaction.intent_id])
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
    )


async def _service_of(
    session: AsyncSession, request: HoldRequest
) -> tuple[Service, ProviderProfile]:
    found = await service_with_provider(session, request.service_id)
    if found is None or not found[0].active or found[1].id != request.provider_id:
        raise SlotNotBookable("unknown_service", "this provider offers no such service")
    return found


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


def _initial_status(service: Service, provider: ProviderProfile) -> BookingStatus:
    if service.price_amount > 0:
        return BookingStatus.AWAITING_PAYMENT
    return BookingStatus.CONFIRMED if provider.auto_confirm else BookingStatus.AWAITING_APPROVAL


def _hold(appointment: Appointment, provider: ProviderProfile) -> Hold:
    return Hold(
        booking_id=appointment.id,
        start=appointment.start_at,
        end=appointment.end_at,
        price=Money(amount=appointment.price_amount, currency=appointment.currency),
        status=BookingStatus(appointment.status),
        hold_expires_at=appointment.hold_expires_at,
        needs_approval=not provider.auto_confirm,
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
