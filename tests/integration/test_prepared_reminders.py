"""A reminder prepared ahead of its instant: rendered and recorded at once, sent at the instant
and not before, and only if the booking is still confirmed for the start it reminds of.

(The workflow's side, when it prepares each one, is in tests/workflows/test_reminders.py; the
punctuality a burst of them reaches is the benchmark's.)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import event, select, update

from activities.notifications.teller import NOT_DUE_ANY_MORE
from contract.notifications import Delivery, Email, Kind, Sms, Tell
from db.engine import Database
from db.models import Appointment, Notification
from tests.integration.test_teller_claims import Vendor, _booking, _rows, _teller

WAIT_S = 1.0


@dataclass
class TimedVendor(Vendor):
    """A vendor that notes when (time.monotonic()) it took each message."""

    at: list[float] = field(default_factory=list)

    async def send(self, message: Email | Sms) -> str:
        self.at.append(time.monotonic())
        return await super().send(message)


async def _confirmed_booking(db: Database) -> tuple[uuid.UUID, datetime]:
    booking_id = await _booking(db)
    async with db.transaction() as connection:
        await connection.execute(
            update(Appointment).where(Appointment.id == booking_id).values(status="confirmed")
        )
        start = await connection.scalar(
            select(Appointment.start_at).where(Appointment.id == booking_id)
        )
    assert start is not None
    return booking_id, start


def _reminder(booking_id: uuid.UUID, start: datetime, lead: int = 60) -> Tell:
    return Tell(
        booking_id=booking_id,
        kind=Kind.REMINDER,
        key=f"reminder:{start.isoformat()}:{lead}",
        lead_minutes=lead,
        send_at=start - timedelta(minutes=lead),
    )


async def _recorded(db: Database, booking_id: uuid.UUID) -> list[Notification]:
    """The rows, once the teller has recorded them (it records before it waits)."""
    for _ in range(200):
        rows = await _rows(db, booking_id)
        if rows:
            return rows
        await asyncio.sleep(0.01)
    raise AssertionError("the prepared reminder was never recorded")


async def test_a_prepared_reminder_is_recorded_at_once_and_sent_at_its_instant(
    db: Database,
) -> None:
    booking_id, start = await _confirmed_booking(db)
    email, sms = TimedVendor("email-"), TimedVendor("SM")
    began = time.monotonic()
    telling = asyncio.create_task(
        _teller(db, email, sms).tell(_reminder(booking_id, start), send_in=WAIT_S)
    )

    waiting = await _recorded(db, booking_id)
    assert {(r.kind, r.channel, r.status) for r in waiting} == {
        (Kind.REMINDER, "email", Delivery.PENDING),
        (Kind.REMINDER, "sms", Delivery.PENDING),
    }
    assert email.taken == [] and sms.taken == []
    await telling

    assert len(email.taken) == 1 and len(sms.taken) == 1
    assert min(email.at + sms.at) >= began + WAIT_S  # not a moment early
    assert all(r.status == Delivery.SENT for r in await _rows(db, booking_id))


async def test_a_reminder_whose_booking_was_cancelled_while_it_waited_is_not_sent(
    db: Database,
) -> None:
    booking_id, start = await _confirmed_booking(db)
    email, sms = TimedVendor("email-"), TimedVendor("SM")
    telling = asyncio.create_task(
        _teller(db, email, sms).tell(_reminder(booking_id, start), send_in=WAIT_S)
    )
    await _recorded(db, booking_id)
    async with db.transaction() as connection:
        await connection.execute(
            update(Appointment).where(Appointment.id == booking_id).values(status="cancelled")
        )
    await telling

    assert email.taken == [] and sms.taken == []
    rows = await _rows(db, booking_id)
    assert {(r.status, r.last_error) for r in rows} == {(Delivery.FAILED, NOT_DUE_ANY_MORE)}


async def test_a_reminder_of_the_start_before_a_move_is_not_sent(db: Database) -> None:
    booking_id, start = await _confirmed_booking(db)
    email, sms = TimedVendor("email-"), TimedVendor("SM")
    telling = asyncio.create_task(
        _teller(db, email, sms).tell(_reminder(booking_id, start), send_in=WAIT_S)
    )
    await _recorded(db, booking_id)
    columns = ("start_at", "end_at", "blocked_start", "blocked_end")
    async with db.transaction() as connection:
        row = (
            await connection.execute(
                select(*(getattr(Appointment, c) for c in columns)).where(
                    Appointment.id == booking_id
                )
            )
        ).one()
        day_later = {c: at + timedelta(days=1) for c, at in zip(columns, row, strict=True)}
        await connection.execute(
            update(Appointment).where(Appointment.id == booking_id).values(**day_later)
        )
    await telling

    assert email.taken == [] and sms.taken == []
    assert {r.status for r in await _rows(db, booking_id)} == {Delivery.FAILED}


async def test_a_reminder_prepared_late_is_sent_at_once(db: Database) -> None:
    """Its instant already passed (a retry, or preparation that queued): no wait at all."""
    booking_id, start = await _confirmed_booking(db)
    email, sms = TimedVendor("email-"), TimedVendor("SM")
    began = time.monotonic()
    await _teller(db, email, sms).tell(_reminder(booking_id, start), send_in=-5.0)

    assert len(email.taken) == 1 and len(sms.taken) == 1
    assert max(email.at + sms.at) - began < WAIT_S


async def test_reminders_due_at_one_instant_share_their_checks_and_their_writes(
    db: Database,
) -> None:
    """Ten reminders waking together share the queries that check their bookings and record
    their messages' outcomes: made one by one, there would be ten of each. (How many they share
    depends on how the wake-ups fall on the event loop's turns.)"""
    bookings = [await _confirmed_booking(db) for _ in range(10)]
    email, sms = TimedVendor("email-"), TimedVendor("SM")
    teller = _teller(db, email, sms)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await asyncio.gather(
            *(teller.tell(_reminder(b, start), send_in=WAIT_S) for b, start in bookings)
        )
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)

    assert len(email.taken) == 10 and len(sms.taken) == 10
    checks = [
        s
        for s in statements
        if s.lstrip().startswith("SELECT appointments.id, appointments.start_at")
    ]
    outcomes = [s for s in statements if s.lstrip().startswith("UPDATE notifications SET status")]
    assert 1 <= len(checks) < len(bookings), checks
    assert 1 <= len(outcomes) < len(bookings), outcomes
