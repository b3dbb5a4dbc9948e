"""Booking writes and reads. Every check-then-write runs in one serialized transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast
from uuid import UUID, uuid4

from sqlalchemy import String, Table, Update, Uuid, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from contract.messages import (
    ApprovalWait,
    BookingState,
    Hold,
    HoldRequest,
    Money,
    Moved,
    MoveRequest,
    PaymentIntent,
    PaymentVoid,
    ReleaseRequest,
)
from db.engine import Database
from db.models import Appointment, PaymentTransaction, ProviderProfile, Service
from db.schedule import RULE_COLUMNS, booking_rules, load_context
from db.types import UTCDateTime
from domain.availability import (
    BookingRules,
    Busy,
    Slot,
    SlotNotBookable,
    SlotTaken,
    blocked_span,
    check_slot,
)
from domain.booking_state import ACTIVE_STATUSES, HOLD_STATUSES, BookingStatus

_appointments = cast(Table, Appointment.__table__)
_payments = cast(Table, PaymentTransaction.__table__)
_services = cast(Table, Service.__table__)
_profiles = cast(Table, ProviderProfile.__table__)

EXCLUSION_VIOLATION = "23P01"
OVERLAP_GUARD = "ex_appointments_no_overlap"


def is_overlap_violation(err: IntegrityError) -> bool:
    """PostgreSQL's exclusion constraint or SQLite's trigger refused an overlapping booking."""
    return getattr(err.orig, "sqlstate", None) == EXCLUSION_VIOLATION or OVERLAP_GUARD in str(
        err.orig
    )


@asynccontextmanager
async def _slot_writing(db: Database) -> AsyncIterator[AsyncConnection]:
    """The serialized transaction a hold or a move writes a slot in; the database's own overlap
    guard refusing the write (a concurrent booking won the race) surfaces as SlotTaken."""
    try:
        async with db.serialized_transaction() as connection:
            yield connection
    except IntegrityError as err:
        if is_overlap_violation(err):
            raise SlotTaken() from err
        raise


class HoldLost(Exception):
    """The hold is gone (lapsed and taken, or released) by the time the booking confirms."""

    def __init__(self, status: str) -> None:
        super().__init__(f"the hold is no longer held (status {status})")
        self.status = status


# Everything the hold decides on, in one statement: the service's rules and price, its
# provider's zone and approval setting, and the booking if an earlier attempt of this hold
# already made it. On PostgreSQL it also takes the provider's row lock (see hold_slot).
_HOLD_FACTS = (
    select(
        _services.c.provider_id,
        _services.c.active,
        _services.c.price_amount,
        _services.c.currency,
        _profiles.c.timezone,
        _profiles.c.auto_confirm,
        _appointments.c.start_at,
        _appointments.c.end_at,
        _appointments.c.price_amount,
        _appointments.c.currency,
        _appointments.c.status,
        _appointments.c.hold_expires_at,
        *RULE_COLUMNS,
    )
    .select_from(
        _services.join(_profiles, _services.c.provider_id == _profiles.c.id).outerjoin(
            _appointments, _appointments.c.id == bindparam("booking_id", type_=Uuid)
        )
    )
    .where(_services.c.id == bindparam("service_id", type_=Uuid))
    .with_for_update(of=_profiles)
)

# A lapsed hold frees its slot now, not whenever its workflow's timer fires.
_EXPIRE_LAPSED_HOLDS = (
    update(_appointments)
    .where(
        _appointments.c.provider_id == bindparam("of_provider", type_=Uuid),
        _appointments.c.status.in_(HOLD_STATUSES),
        _appointments.c.hold_expires_at <= bindparam("now", type_=UTCDateTime),
        _appointments.c.blocked_start < bindparam("span_end", type_=UTCDateTime),
        _appointments.c.blocked_end > bindparam("span_start", type_=UTCDateTime),
    )
    .values(
        status=BookingStatus.EXPIRED,
        cancel_reason="hold expired",
        updated_at=bindparam("now", type_=UTCDateTime),
    )
)

_INSERT_APPOINTMENT = insert(_appointments)


def _no_such_service() -> SlotNotBookable:
    return SlotNotBookable("unknown_service", "this provider offers no such service")


class _Facts(NamedTuple):
    """A row of _HOLD_FACTS: the offer, and the booking as stored (all None before its hold)."""

    provider_id: UUID
    active: bool
    price_amount: int
    currency: str
    timezone: str
    auto_confirm: bool
    held_start: datetime | None
    held_end: datetime | None
    held_amount: int | None
    held_currency: str | None
    held_status: str | None
    held_until: datetime | None
    rules: BookingRules


async def _facts(
    connection: AsyncConnection, provider_id: UUID, service_id: UUID, booking_id: UUID
) -> _Facts:
    """Read (and on PostgreSQL lock, see hold_slot) what a hold or a move decides on."""
    found = (
        await connection.execute(_HOLD_FACTS, {"service_id": service_id, "booking_id": booking_id})
    ).first()
    if found is None:
        raise _no_such_service()
    rules = len(RULE_COLUMNS)
    facts = _Facts._make([*found[:-rules], booking_rules(*found[-rules:])])
    if not facts.active or facts.provider_id != provider_id:
        raise _no_such_service()
    return facts


async def _bookable(
    connection: AsyncConnection,
    facts: _Facts,
    service_id: UUID,
    start: datetime,
    now: datetime,
    *,
    moving: UUID | None = None,
) -> tuple[Slot, Busy]:
    """The slot at `start` and the span it blocks, if every rule allows it now; else raise
    SlotTaken or SlotNotBookable. Lapsed holds in the way are expired first."""
    start = start.astimezone(UTC)
    span = blocked_span(start, facts.rules)
    await connection.execute(
        _EXPIRE_LAPSED_HOLDS,
        {
            "of_provider": facts.provider_id,
            "now": now,
            "span_start": span.start,
            "span_end": span.end,
        },
    )
    context = await load_context(
        connection,
        facts.provider_id,
        service_id,
        facts.timezone,
        facts.rules,
        start,
        start + facts.rules.duration,
        now,
        moving=moving,
    )
    slot = check_slot(
        context.schedule,
        context.rules,
        start=start,
        busy=context.busy,
        booked_starts=context.booked_starts,
        now=now,
    )
    return slot, span


async def hold_slot(db: Database, request: HoldRequest, *, now: datetime) -> Hold:
    """Hold the requested slot for the booking, or raise SlotTaken / SlotNotBookable.

    The provider's rules are checked again here, inside the transaction that writes the hold:
    not only free, but in working hours, on the grid, after the notice, inside the horizon and
    under the daily maximum. Idempotent: a retried attempt returns the hold it already made.
    """
    # Holds of one provider run one at a time, so rules the overlap constraint cannot express
    # (the daily maximum, external busy time) hold under concurrency too: on PostgreSQL through
    # the provider's row lock _HOLD_FACTS takes, on SQLite because BEGIN IMMEDIATE already runs
    # every hold one at a time.
    async with _slot_writing(db) as connection:
        facts = await _facts(
            connection, request.provider_id, request.service_id, request.booking_id
        )
        if facts.held_status is not None:
            assert facts.held_start and facts.held_end and facts.held_currency
            assert facts.held_amount is not None
            return Hold(
                booking_id=request.booking_id,
                start=facts.held_start,
                end=facts.held_end,
                price=Money(amount=facts.held_amount, currency=facts.held_currency),
                status=BookingStatus(facts.held_status),
                hold_expires_at=facts.held_until,
                needs_approval=not facts.auto_confirm,
            )
        slot, span = await _bookable(connection, facts, request.service_id, request.start, now)
        status = _initial_status(facts.price_amount, auto_confirm=facts.auto_confirm)
        hold = Hold(
            booking_id=request.booking_id,
            start=slot.start,
            end=slot.end,
            price=Money(amount=facts.price_amount, currency=facts.currency),
            status=status,
            hold_expires_at=request.payment_deadline
            if status == BookingStatus.AWAITING_PAYMENT
            else None,
            needs_approval=not facts.auto_confirm,
        )
        await connection.execute(
            _INSERT_APPOINTMENT,
            {
                "id": request.booking_id,
                "provider_id": facts.provider_id,
                "service_id": request.service_id,
                "customer_id": request.customer_id,
                "start_at": slot.start,
                "end_at": slot.end,
                "blocked_start": span.start,
                "blocked_end": span.end,
                "status": status,
                "hold_expires_at": hold.hold_expires_at,
                "price_amount": facts.price_amount,
                "currency": facts.currency,
                "customer_timezone": request.customer_timezone,
                "created_at": now,
                "updated_at": now,
            },
        )
        return hold


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


class NotMovable(Exception):
    """Only a confirmed booking moves; this one is not (or no longer) confirmed."""

    def __init__(self, status: str) -> None:
        super().__init__(f"a booking that is {status.replace('_', ' ')} cannot be rescheduled")
        self.status = status


_MOVE = (
    update(_appointments)
    .where(
        _appointments.c.id == bindparam("booking_id", type_=Uuid),
        _appointments.c.status == BookingStatus.CONFIRMED,
    )
    .values(
        start_at=bindparam("new_start", type_=UTCDateTime),
        end_at=bindparam("new_end", type_=UTCDateTime),
        blocked_start=bindparam("new_blocked_start", type_=UTCDateTime),
        blocked_end=bindparam("new_blocked_end", type_=UTCDateTime),
        updated_at=bindparam("now", type_=UTCDateTime),
    )
)


async def move_booking(db: Database, request: MoveRequest, *, now: datetime) -> Moved:
    """Move a confirmed booking to a new start of its service, under the same rules and in the
    same serialized transaction as a hold; its old time is free the moment it commits.
    Raises SlotTaken, SlotNotBookable or NotMovable. A retry after the move returns it."""
    async with _slot_writing(db) as connection:
        facts = await _facts(
            connection, request.provider_id, request.service_id, request.booking_id
        )
        if facts.held_status != BookingStatus.CONFIRMED:
            raise NotMovable(facts.held_status or "missing")
        assert facts.held_start and facts.held_end
        if now >= facts.held_start:
            raise NotMovable("started")
        if facts.held_start == request.start:
            return Moved(start=facts.held_start, end=facts.held_end)
        slot, span = await _bookable(
            connection, facts, request.service_id, request.start, now, moving=request.booking_id
        )
        await connection.execute(
            _MOVE,
            {
                "booking_id": request.booking_id,
                "new_start": slot.start,
                "new_end": slot.end,
                "new_blocked_start": span.start,
                "new_blocked_end": span.end,
                "now": now,
            },
        )
        return Moved(start=slot.start, end=slot.end)


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
                cancel_note=request.note,
                hold_expires_at=None,
                updated_at=now,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _leave_hold(**values: Any) -> Update:
    """A hold's move to its next status; matches nothing once the booking is no longer a hold."""
    return (
        update(_appointments)
        .where(
            _appointments.c.id == bindparam("booking_id", type_=Uuid),
            _appointments.c.status.in_(HOLD_STATUSES),
        )
        .values(updated_at=bindparam("now", type_=UTCDateTime), **values)
    )


_AWAIT_APPROVAL = _leave_hold(
    status=BookingStatus.AWAITING_APPROVAL,
    hold_expires_at=bindparam("deadline", type_=UTCDateTime),
)
_CONFIRM = _leave_hold(status=BookingStatus.CONFIRMED, hold_expires_at=None)
_STATUS_OF = select(_appointments.c.status).where(
    _appointments.c.id == bindparam("booking_id", type_=Uuid)
)
_PAYMENT_SUCCEEDED = (
    update(_payments)
    .where(_payments.c.intent_id == bindparam("intent", type_=String))
    .values(status="succeeded", updated_at=bindparam("now", type_=UTCDateTime))
)


async def await_approval(db: Database, wait: ApprovalWait, *, now: datetime) -> None:
    """Keep the hold until the provider decides; a paid intent is recorded as succeeded."""
    async with db.serialized_transaction() as connection:
        moved = await connection.execute(
            _AWAIT_APPROVAL, {"booking_id": wait.booking_id, "deadline": wait.deadline, "now": now}
        )
        if not moved.rowcount:
            raise HoldLost(await _status_of(connection, wait.booking_id))
        await _payment_succeeded(connection, wait.intent_id, now)


async def confirm_booking(
    db: Database, booking_id: UUID, intent_id: str | None, *, now: datetime
) -> None:
    """Turn the hold into a confirmed booking (and its payment into a succeeded one)."""
    async with db.serialized_transaction() as connection:
        moved = await connection.execute(_CONFIRM, {"booking_id": booking_id, "now": now})
        if not moved.rowcount:
            status = await _status_of(connection, booking_id)
            if status == BookingStatus.CONFIRMED:
                return  # a retried confirmation
            raise HoldLost(status)
        await _payment_succeeded(connection, intent_id, now)


async def _status_of(connection: AsyncConnection, booking_id: UUID) -> str:
    status = await connection.scalar(_STATUS_OF, {"booking_id": booking_id})
    return "missing" if status is None else str(status)


async def _payment_succeeded(
    connection: AsyncConnection, intent_id: str | None, now: datetime
) -> None:
    if intent_id is not None:
        await connection.execute(_PAYMENT_SUCCEEDED, {"intent": intent_id, "now": now})


async def record_payment_intent(
    db: Database, booking_id: UUID, intent: PaymentIntent, *, now: datetime
) -> None:
    """Record the intent once: a retried activity finds it there and changes nothing."""
    insert_new = sqlite_insert if db.dialect == "sqlite" else postgresql_insert
    async with db.transaction() as connection:
        await connection.execute(
            insert_new(_payments)
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
            .on_conflict_do_nothing(index_elements=[_payments.c.intent_id])
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
        timezone=appointment.customer_timezone,
        note=appointment.cancel_note,
    )


def _initial_status(price_amount: int, *, auto_confirm: bool) -> BookingStatus:
    if price_amount > 0:
        return BookingStatus.AWAITING_PAYMENT
    return BookingStatus.CONFIRMED if auto_confirm else BookingStatus.AWAITING_APPROVAL


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
