"""Taking a slot: a new booking's hold, or a confirmed booking's move to another start.

Both check the provider's rules again and write in one serialized transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import NamedTuple, cast
from uuid import UUID

from sqlalchemy import Table, Uuid, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from contract.messages import Hold, HoldRequest, Money, Moved, MoveRequest
from db import audit
from db.availability_changes import Span, announce_spans
from db.calendar_statement import RULE_COLUMNS
from db.engine import Database
from db.hold_cap import check_open_holds
from db.models import Appointment, ProviderProfile, Service
from db.schedule import booking_rules, load_context
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
from domain.booking_state import HOLD_STATUSES, BookingStatus

_appointments = cast(Table, Appointment.__table__)
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
        _appointments.c.blocked_start,
        _appointments.c.blocked_end,
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
    .returning(_appointments.c.id, _appointments.c.blocked_start, _appointments.c.blocked_end)
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
    held_blocked_start: datetime | None
    held_blocked_end: datetime | None
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
) -> tuple[Slot, Busy, list[Span]]:
    """The slot at `start`, the span it blocks and the spans of lapsed holds in the way (expired
    first), if every rule allows it now; else raise SlotTaken or SlotNotBookable."""
    start = start.astimezone(UTC)
    span = blocked_span(start, facts.rules)
    expired = await connection.execute(
        _EXPIRE_LAPSED_HOLDS,
        {
            "of_provider": facts.provider_id,
            "now": now,
            "span_start": span.start,
            "span_end": span.end,
        },
    )
    freed: list[Span] = []
    for lapsed, blocked_start, blocked_end in expired.all():
        freed.append((blocked_start, blocked_end))
        await audit.record(
            connection,
            audit.SYSTEM,
            "booking.expired",
            now=now,
            booking_id=lapsed,
            detail={"reason": "hold expired"},
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
    return slot, span, freed


async def hold_slot(
    db: Database, request: HoldRequest, *, now: datetime, max_open_holds: int | None = None
) -> Hold:
    """Hold the requested slot for the booking, or raise SlotTaken / SlotNotBookable, or
    TooManyHolds when the customer already has `max_open_holds` unpaid (None: no cap).

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
        if max_open_holds is not None:
            await check_open_holds(connection, request.customer_id, max_open_holds, now=now)
        slot, span, freed = await _bookable(
            connection, facts, request.service_id, request.start, now
        )
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
        await audit.record(
            connection,
            audit.Actor(request.customer_id, "customer"),
            "booking.held",
            now=now,
            booking_id=request.booking_id,
            account_id=request.customer_id,
            detail={"status": status, "provider_id": facts.provider_id},
        )
        await announce_spans(
            connection, facts.provider_id, [(span.start, span.end), *freed], facts.timezone
        )
        return hold


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
        slot, span, freed = await _bookable(
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
        await audit.record(
            connection,
            audit.Actor(request.actor_id, request.actor_role),
            "booking.moved",
            now=now,
            booking_id=request.booking_id,
            detail={"from": facts.held_start, "to": slot.start},
        )
        assert facts.held_blocked_start and facts.held_blocked_end
        old = (facts.held_blocked_start, facts.held_blocked_end)
        await announce_spans(
            connection, facts.provider_id, [old, (span.start, span.end), *freed], facts.timezone
        )
        return Moved(start=slot.start, end=slot.end)


def _initial_status(price_amount: int, *, auto_confirm: bool) -> BookingStatus:
    if price_amount > 0:
        return BookingStatus.AWAITING_PAYMENT
    return BookingStatus.CONFIRMED if auto_confirm else BookingStatus.AWAITING_APPROVAL
