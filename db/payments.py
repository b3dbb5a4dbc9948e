"""The payment events ledger: each gateway event once, and whether it has been acted on."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, cast
from uuid import UUID

from sqlalchemy import String, Table, Uuid, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from contract.messages import PaymentEvent as PaymentEventMessage
from db import audit
from db.engine import Database
from db.models import Appointment, PaymentEvent, PaymentTransaction
from db.types import UTCDateTime
from domain.booking_state import BookingStatus

_events = cast(Table, PaymentEvent.__table__)
_appointments = cast(Table, Appointment.__table__)
_payments = cast(Table, PaymentTransaction.__table__)

_OUTCOME = select(_events.c.handled_at, _events.c.outcome).where(
    _events.c.event_id == bindparam("of_event", type_=String)
)
_HANDLED = (
    update(_events)
    .where(_events.c.event_id == bindparam("of_event", type_=String))
    .values(
        handled_at=bindparam("handled_now", type_=UTCDateTime),
        outcome=bindparam("handled_as", type_=String),
    )
    .returning(_events.c.booking_id, _events.c.event_type, _events.c.intent_id)
)
# A booking that holds its appointment (or had it) with this very intent paid.
_KEPT_WITH_INTENT = (
    select(_appointments.c.id)
    .join(_payments, _payments.c.appointment_id == _appointments.c.id)
    .where(
        _appointments.c.id == bindparam("booking_id", type_=Uuid),
        _appointments.c.status.in_(
            [BookingStatus.CONFIRMED, BookingStatus.COMPLETED, BookingStatus.NO_SHOW]
        ),
        _payments.c.intent_id == bindparam("intent_id", type_=String),
    )
)


class Receipt(NamedTuple):
    """An event as the ledger knows it: `outcome` is set once it has been acted on."""

    first_time: bool
    outcome: str | None


async def receive(
    db: Database, event: PaymentEventMessage, event_type: str, *, now: datetime
) -> Receipt:
    """Record the event once (insert on conflict do nothing) and say what became of it."""
    insert_new = sqlite_insert if db.dialect == "sqlite" else postgresql_insert
    async with db.transaction() as connection:
        inserted = await connection.execute(
            insert_new(_events)
            .values(
                event_id=event.event_id,
                event_type=event_type,
                intent_id=event.intent_id,
                booking_id=event.booking_id,
                received_at=now,
            )
            .on_conflict_do_nothing(index_elements=[_events.c.event_id])
            .returning(_events.c.event_id)
        )
        # RETURNING, not rowcount: a driver may not count the rows of an upsert.
        if inserted.first() is not None:
            return Receipt(first_time=True, outcome=None)
        handled = (await connection.execute(_OUTCOME, {"of_event": event.event_id})).one()
    return Receipt(first_time=False, outcome=handled.outcome)


async def mark_handled(db: Database, event_id: str, outcome: str, *, now: datetime) -> None:
    """Record what became of the event; the audit log names it with the booking it was for."""
    async with db.transaction() as connection:
        handled = (
            await connection.execute(
                _HANDLED, {"of_event": event_id, "handled_as": outcome, "handled_now": now}
            )
        ).first()
        if handled is not None:
            await audit.record(
                connection,
                audit.SYSTEM,
                "payment.webhook_handled",
                now=now,
                booking_id=handled.booking_id,
                detail={
                    "event_id": event_id,
                    "event_type": handled.event_type,
                    "intent_id": handled.intent_id,
                    "outcome": outcome,
                },
            )


async def kept_with_intent(db: Database, booking_id: UUID, intent_id: str) -> bool:
    """Whether the booking is (or was) confirmed with this intent paid: then a late event for it
    is no reason to refund."""
    async with db.reading() as connection:
        found = await connection.scalar(
            _KEPT_WITH_INTENT, {"booking_id": booking_id, "intent_id": intent_id}
        )
    return found is not None
