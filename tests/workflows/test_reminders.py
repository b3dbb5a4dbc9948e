"""Reminders come from the booking's own timers: each at its lead time, never early, never all
at once; those already past are skipped; a move re-arms them, a cancel stops them. The messages
are faked here under the activity's real name, so the saga's decisions are seen exactly."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from temporalio import activity
from temporalio.worker import Worker

from activities.booking import BookingActivities
from contract.messages import CancelRequest, RescheduleRequest
from contract.notifications import Kind, Tell
from db.models import Notification
from domain.booking_state import BookingStatus
from tests.factories import make_customer, make_provider
from tests.temporal_fixtures import Saga
from tests.workflows.helpers import booking_input, start_booking, status_becomes
from workflows.announcements import prepared_ahead
from workflows.booking import BookingWorkflow

DAY = time(0), time(0)  # open all day: any start on the grid is bookable
LATE = timedelta(seconds=5)
PREPARE_S = 3  # real seconds each reminder then waits: between 1.5 and 3


class Told:
    """What the booking asked to tell, and when (the server's skipped time)."""

    def __init__(self) -> None:
        self.told: list[tuple[Tell, datetime]] = []

    @activity.defn(name="tell_people")
    async def tell_people(self, tell: Tell) -> None:
        self.told.append((tell, activity.info().scheduled_time))

    def kinds(self) -> list[Kind]:
        return [tell.kind for tell, _ in self.told]

    def reminders(self) -> list[tuple[int | None, datetime]]:
        return [(tell.lead_minutes, at) for tell, at in self.told if tell.kind == Kind.REMINDER]


@asynccontextmanager
async def telling(saga: Saga) -> AsyncIterator[tuple[Saga, Told]]:
    told = Told()
    activities = BookingActivities(saga.db, saga.payments)
    real = [a for a in activities.all() if a != activities.tell_people]
    watched = Saga(saga.env, saga.client, f"told-{uuid.uuid4()}", saga.db, saga.payments)
    async with Worker(
        saga.client,
        task_queue=watched.task_queue,
        workflows=[BookingWorkflow],
        activities=[*real, told.tell_people],
    ):
        yield watched, told


def assert_on_time(reminders: list[tuple[int | None, datetime]], start: datetime) -> None:
    for lead, at in reminders:
        assert lead is not None
        due = start.astimezone(UTC) - timedelta(minutes=lead)
        assert timedelta(0) <= at - due < LATE, f"{lead} min reminder at {at}, due {due}"


async def test_reminders_24h_and_1h_before_a_new_york_start_on_the_dst_change_day(
    saga: Saga,
) -> None:
    provider = await make_provider(saga.db, price=0)
    # 14 March 2027: New York moves from EST to EDT at 02:00; 24 h earlier is 13:00 EST.
    start = datetime(2027, 3, 14, 14, 0, tzinfo=ZoneInfo("America/New_York"))
    async with telling(saga) as (watched, told):
        handle, _ = await start_booking(
            watched, booking_input(provider, await make_customer(saga.db), start)
        )
        outcome = await handle.result()  # skips to the end of the appointment

    assert outcome.status == BookingStatus.COMPLETED
    assert [lead for lead, _ in told.reminders()] == [24 * 60, 60]
    assert_on_time(told.reminders(), start)
    # 24 h of elapsed time before 14:00 EDT (18:00 UTC) is 13:00 EST the day before.
    due = [datetime(2027, 3, 13, 18, tzinfo=UTC), datetime(2027, 3, 14, 17, tzinfo=UTC)]
    for (_, at), expected in zip(told.reminders(), due, strict=True):
        assert timedelta(0) <= at - expected < LATE, (at, expected)
    assert told.kinds()[0] == Kind.CONFIRMED


async def _book_ahead(
    saga: Saga, lead: timedelta, prepare_seconds: int = 0
) -> tuple[Told, list[Kind], datetime]:
    provider = await make_provider(saga.db, price=0, timezone="UTC", hours=(DAY,))
    now = await saga.env.get_current_time()
    grid = now.replace(second=0, microsecond=0) + timedelta(minutes=30 - now.minute % 30)
    start = grid + lead
    booking = booking_input(provider, await make_customer(saga.db), start)
    async with telling(saga) as (watched, told):
        handle, _ = await start_booking(
            watched, booking.model_copy(update={"reminder_prepare_seconds": prepare_seconds})
        )
        assert (await handle.result()).status == BookingStatus.COMPLETED
    return told, told.kinds(), start


async def test_a_booking_made_90_minutes_ahead_gets_only_its_1h_reminder(saga: Saga) -> None:
    told, _, start = await _book_ahead(saga, timedelta(minutes=90))

    assert [lead for lead, _ in told.reminders()] == [60]
    assert_on_time(told.reminders(), start)


async def test_a_booking_made_30_minutes_ahead_gets_no_reminder(saga: Saga) -> None:
    told, kinds, _ = await _book_ahead(saga, timedelta(minutes=30))

    assert told.reminders() == []
    assert kinds == [Kind.CONFIRMED]


async def test_a_move_rearms_both_reminders_for_the_new_time(saga: Saga) -> None:
    provider = await make_provider(saga.db, price=0, timezone="UTC", hours=(DAY,))
    now = await saga.env.get_current_time()
    first = datetime.combine(now.date() + timedelta(days=3), time(14), UTC)
    moved = first + timedelta(days=1, hours=1)
    async with telling(saga) as (watched, told):
        handle, _ = await start_booking(
            watched, booking_input(provider, await make_customer(saga.db), first)
        )
        await status_becomes(handle, BookingStatus.CONFIRMED)
        await handle.execute_update(
            BookingWorkflow.reschedule, RescheduleRequest(start=moved, requested_by="customer")
        )
        assert (await handle.result()).status == BookingStatus.COMPLETED

    assert [lead for lead, _ in told.reminders()] == [24 * 60, 60]
    assert_on_time(told.reminders(), moved)
    rescheduled = [tell for tell, _ in told.told if tell.kind == Kind.RESCHEDULED]
    assert len(rescheduled) == 1
    assert (rescheduled[0].sequence, rescheduled[0].previous_start) == (1, first)
    assert rescheduled[0].provider_kind == Kind.PROVIDER_RESCHEDULED


async def test_a_cancel_sends_no_reminder_and_tells_both_sides(saga: Saga) -> None:
    provider = await make_provider(saga.db, price=0, timezone="UTC", hours=(DAY,))
    now = await saga.env.get_current_time()
    start = datetime.combine(now.date() + timedelta(days=3), time(14), UTC)
    async with telling(saga) as (watched, told):
        handle, _ = await start_booking(
            watched, booking_input(provider, await make_customer(saga.db), start)
        )
        await status_becomes(handle, BookingStatus.CONFIRMED)
        await handle.execute_update(
            BookingWorkflow.cancel, CancelRequest(cancelled_by="provider", reason="ill")
        )
        assert (await handle.result()).status == BookingStatus.CANCELLED

    assert told.reminders() == []
    cancelled = [tell for tell, _ in told.told if tell.kind == Kind.CANCELLED]
    assert len(cancelled) == 1
    assert (cancelled[0].by, cancelled[0].reason, cancelled[0].sequence) == ("provider", "ill", 1)
    assert cancelled[0].provider_kind == Kind.PROVIDER_CANCELLED


async def test_reminders_prepared_ahead_carry_their_instant_and_start_before_it(
    saga: Saga,
) -> None:
    """Each is prepared between 60 and 120 s before its instant (spread by booking), and sent
    at the instant it carries."""
    provider = await make_provider(saga.db, price=0, timezone="UTC", hours=(DAY,))
    now = await saga.env.get_current_time()
    start = datetime.combine(now.date() + timedelta(days=3), time(14), UTC)
    booking = booking_input(provider, await make_customer(saga.db), start)
    async with telling(saga) as (watched, told):
        handle, _ = await start_booking(
            watched, booking.model_copy(update={"reminder_prepare_seconds": 120})
        )
        assert (await handle.result()).status == BookingStatus.COMPLETED

    reminders = [(tell, at) for tell, at in told.told if tell.kind == Kind.REMINDER]
    assert [tell.lead_minutes for tell, _ in reminders] == [24 * 60, 60]
    for tell, at in reminders:
        assert tell.lead_minutes is not None
        due = start - timedelta(minutes=tell.lead_minutes)
        assert tell.send_at == due
        ahead = prepared_ahead(booking.booking_id, tell.lead_minutes, timedelta(seconds=120))
        assert timedelta(seconds=60) <= ahead <= timedelta(seconds=120)
        assert timedelta(0) <= at - (due - ahead) < LATE, (tell.lead_minutes, at, due, ahead)


async def test_a_reminder_due_sooner_than_its_preparation_is_prepared_at_once(
    saga: Saga,
) -> None:
    """Booked 60 minutes (on the half hour) ahead, with an hour's preparation: the 1 h reminder
    is prepared as the booking confirms, to be sent at its instant, not then."""
    told, _, start = await _book_ahead(saga, timedelta(minutes=60), prepare_seconds=3600)

    [(tell, at)] = [(tell, at) for tell, at in told.told if tell.kind == Kind.REMINDER]
    assert tell.send_at == start - timedelta(hours=1)
    confirmed_at = next(at for t, at in told.told if t.kind == Kind.CONFIRMED)
    assert timedelta(0) <= at - confirmed_at < LATE


async def test_the_real_activity_waits_for_the_instant_on_the_servers_clock(saga: Saga) -> None:
    """On the time-skipping server, whose clock is days ahead of the wall clock: the sandbox
    teller records each reminder when prepared and sends it `ahead` later (the server does not
    skip time while an activity runs)."""
    provider = await make_provider(saga.db, price=0, timezone="UTC", hours=(DAY,))
    now = await saga.env.get_current_time()
    start = datetime.combine(now.date() + timedelta(days=3), time(14), UTC)
    booking = booking_input(provider, await make_customer(saga.db), start)
    handle, _ = await start_booking(
        saga, booking.model_copy(update={"reminder_prepare_seconds": PREPARE_S})
    )
    assert (await handle.result()).status == BookingStatus.COMPLETED

    async with saga.db.session() as session:
        rows = list(
            await session.scalars(
                select(Notification).where(
                    Notification.appointment_id == booking.booking_id,
                    Notification.kind == Kind.REMINDER,
                    Notification.channel == "email",
                )
            )
        )
    assert sorted(row.idempotency_key.split(":")[-3] for row in rows) == ["1440", "60"]
    for row in rows:
        lead = int(row.idempotency_key.split(":")[-3])
        ahead = prepared_ahead(booking.booking_id, lead, timedelta(seconds=PREPARE_S))
        assert row.status == "sent" and row.sent_at is not None
        waited = row.sent_at - row.created_at
        assert waited >= ahead - timedelta(milliseconds=300), (lead, waited, ahead)
