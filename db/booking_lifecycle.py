"""A booking's status after its hold (approval, confirmation, release, completion) and the
payments recorded along the way."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from uuid import UUID, uuid4

from sqlalchemy import String, Table, Update, Uuid, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contract.messages import ApprovalWait, PaymentIntent, PaymentVoid, ReleaseRequest
from db import audit
from db.availability_changes import announce_bookings
from db.engine import Database
from db.models import Appointment, PaymentTransaction
from db.types import UTCDateTime
from domain.booking_state import ACTIVE_STATUSES, HOLD_STATUSES, BookingStatus

_appointments = cast(Table, Appointment.__table__)
_payments = cast(Table, PaymentTransaction.__table__)


class HoldLost(Exception):
    """The hold is gone (lapsed and taken, or released) by the time the booking confirms."""

    def __init__(self, status: str) -> None:
        super().__init__(f"the hold is no longer held (status {status})")
        self.status = status


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
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        connection = await session.connection()
        await announce_bookings(connection, [request.booking_id])
        # Not the reason nor the note: either may hold someone's own words.
        await audit.record(
            connection,
            audit.Actor(request.actor_id, request.actor_role),
            f"booking.{request.status}",
            now=now,
            booking_id=request.booking_id,
            detail={"status": request.status},
        )
        return True


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
    .where(
        _payments.c.intent_id == bindparam("intent", type_=String),
        _payments.c.status != "succeeded",
    )
    .values(status="succeeded", updated_at=bindparam("now", type_=UTCDateTime))
    .returning(_payments.c.appointment_id)
)


async def await_approval(db: Database, wait: ApprovalWait, *, now: datetime) -> None:
    """Keep the hold until the provider decides; a paid intent is recorded as succeeded."""
    async with db.serialized_transaction() as connection:
        moved = await connection.execute(
            _AWAIT_APPROVAL, {"booking_id": wait.booking_id, "deadline": wait.deadline, "now": now}
        )
        if not moved.rowcount:
            raise HoldLost(await _status_of(connection, wait.booking_id))
        await _audit_left_hold(
            connection,
            audit.SYSTEM,
            "booking.awaiting_approval",
            wait.booking_id,
            BookingStatus.AWAITING_APPROVAL,
            now,
        )
        await _payment_succeeded(connection, wait.intent_id, now)


async def confirm_booking(
    db: Database,
    booking_id: UUID,
    intent_id: str | None,
    *,
    now: datetime,
    approved_by: audit.Actor | None = None,
) -> None:
    """Turn the hold into a confirmed booking (and its payment into a succeeded one)."""
    async with db.serialized_transaction() as connection:
        moved = await connection.execute(_CONFIRM, {"booking_id": booking_id, "now": now})
        if not moved.rowcount:
            status = await _status_of(connection, booking_id)
            if status == BookingStatus.CONFIRMED:
                return  # a retried confirmation
            raise HoldLost(status)
        # An approval confirms on the provider's word; any other confirmation is the system's.
        actor, action = (
            (audit.SYSTEM, "booking.confirmed")
            if approved_by is None
            else (approved_by, "booking.approved")
        )
        await _audit_left_hold(connection, actor, action, booking_id, BookingStatus.CONFIRMED, now)
        await _payment_succeeded(connection, intent_id, now)


async def _audit_left_hold(
    connection: AsyncConnection,
    actor: audit.Actor,
    action: str,
    booking_id: UUID,
    status: BookingStatus,
    now: datetime,
) -> None:
    detail = {"status": status}
    await audit.record(connection, actor, action, now=now, booking_id=booking_id, detail=detail)


async def _status_of(connection: AsyncConnection, booking_id: UUID) -> str:
    status = await connection.scalar(_STATUS_OF, {"booking_id": booking_id})
    return "missing" if status is None else str(status)


async def _payment_succeeded(
    connection: AsyncConnection, intent_id: str | None, now: datetime
) -> None:
    if intent_id is None:
        return
    paid = await connection.scalar(_PAYMENT_SUCCEEDED, {"intent": intent_id, "now": now})
    if paid is not None:
        await audit.record(
            connection,
            audit.SYSTEM,
            "payment.succeeded",
            now=now,
            booking_id=paid,
            detail={"intent_id": intent_id},
        )


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
        changed = await session.scalar(
            update(PaymentTransaction)
            .where(
                PaymentTransaction.intent_id == void.intent_id,
                or_(
                    PaymentTransaction.status != status,
                    PaymentTransaction.refunded_amount != void.refunded_amount,
                ),
            )
            .values(status=status, refunded_amount=void.refunded_amount, updated_at=now)
            .returning(PaymentTransaction.appointment_id)
        )
        if changed is not None:
            await audit.record(
                await session.connection(),
                audit.SYSTEM,
                f"payment.{status}",
                now=now,
                booking_id=changed,
                detail={"intent_id": void.intent_id, "refunded_amount": void.refunded_amount},
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
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        await audit.record(
            await session.connection(),
            audit.SYSTEM,
            "booking.completed",
            now=now,
            booking_id=booking_id,
            detail={"status": BookingStatus.COMPLETED},
        )
        return True
