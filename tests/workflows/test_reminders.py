"""Reminders come from the booking's own timers: each at its lead time, never early, never all
at once; those already past are skipped; a move re-arms them, a cancel stops them. The messages
are faked here under the activity's real name, so the saga's decisions are seen exactly."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from temporalio import activity
from temporalio.worker import Worker

from activities.booking import BookingActivities
from contract.messages import CancelRequest, RescheduleRequest
from contract.notifications import Kind, Tell
from domain.booking_state import BookingStatus
from tests.factories import make_customer, make_provider
from tests.temporal_fixtures import Saga
from tests.workflows.helpers import booking_input, start_booking, status_becomes
from workflows.booking import BookingWorkflow

DAY = time(0), time(0)  # open all day: any start on the grid is bookable
LATE = timedelta(seconds=5)


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


async def _book_ahead(saga: Saga, lead: timedelta) -> tuple[Told, list[Kind], datetime]:
    provider = await make_provider(saga.db, price=0, timezone="UTC", hours=(DAY,))
    now = await saga.env.get_current_time()
    grid = now.replace(second=0, microsecond=0) + timedelta(minutes=30 - now.minute % 30)
    start = grid + lead
    async with telling(saga) as (watched, told):
        handle, _ = await start_booking(
            watched, booking_input(provider, await make_customer(saga.db), start)
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
