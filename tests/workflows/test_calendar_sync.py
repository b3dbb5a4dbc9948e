"""CalendarSyncWorkflow on the time-skipping server, with the real activity and database and a
calendar account in memory (the adapters are tested against their vendors' peers)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select, update
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.calendar_sync import CalendarSyncActivities
from activities.calendars.port import CalendarRetryLater, GrantBroken
from contract.calendars import (
    CalendarKind,
    SyncRequest,
)
from db import calendar_connections as store
from db.engine import Database
from db.holds import hold_slot
from db.models import Appointment, Notification
from tests.factories import future_local, hold_request, make_customer, make_provider
from tests.workflows.calendar_fakes import Account
from workflows.calendar_sync import CalendarSyncWorkflow, workflow_id
from workflows.search_attributes import CALENDAR_SYNC_STATUS

PERIOD = timedelta(minutes=5)


@dataclass
class Sync:
    env: WorkflowEnvironment
    task_queue: str
    account: Account
    connection: store.Connection


@pytest.fixture
async def sync(time_skipping_env: WorkflowEnvironment, db: Database) -> AsyncIterator[Sync]:
    provider = await make_provider(db)
    connection = await store.connect(
        db,
        provider_id=provider.provider_id,
        kind=CalendarKind.CALDAV,
        account=f"ann-{uuid.uuid4().hex[:8]}@example.com",
        secret="sealed",
        now=datetime.now().astimezone(),
    )
    await store.choose(
        db, connection.id, blocking=["work"], destination="work", now=datetime.now().astimezone()
    )
    account = Account()

    async def open_account(_: store.Connection) -> Account:
        return account

    activities = CalendarSyncActivities(db, open_account)  # type: ignore[arg-type]
    task_queue = f"calendar-sync-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[CalendarSyncWorkflow],
        activities=activities.all(),
    ):
        yield Sync(time_skipping_env, task_queue, account, connection)


async def _start(sync: Sync):  # type: ignore[no-untyped-def]
    return await sync.env.client.start_workflow(
        CalendarSyncWorkflow.run,
        SyncRequest(connection_id=sync.connection.id, period_seconds=int(PERIOD.total_seconds())),
        id=workflow_id(sync.connection.id),
        task_queue=sync.task_queue,
    )


async def _syncs(sync: Sync, count: int) -> None:
    for _ in range(200):
        if len(sync.account.asked) >= count:
            return
        await sync.env.sleep(timedelta(seconds=1))
    raise AssertionError(f"{len(sync.account.asked)} syncs, expected {count}")


async def test_it_syncs_at_once_then_every_period_and_when_signalled(
    sync: Sync, db: Database
) -> None:
    start = datetime.now().astimezone() + timedelta(days=2)
    sync.account.events["meeting"] = (start, start + timedelta(hours=1))
    handle = await _start(sync)
    await _syncs(sync, 1)
    await sync.env.sleep(PERIOD + timedelta(seconds=5))
    await _syncs(sync, 2)
    # The second sync continued from the first one's token.
    assert sync.account.asked[:2] == [("work", None), ("work", "token-1")]
    stored = await store.get(db, sync.connection.id)
    assert stored is not None and stored.last_synced_at is not None

    await handle.signal(CalendarSyncWorkflow.sync_now)
    await _syncs(sync, 3)  # without waiting for the period
    report = await handle.query(CalendarSyncWorkflow.last_sync)
    assert report is not None and (report.status, report.blocks) == ("active", 1)
    described = await handle.describe()
    assert described.typed_search_attributes.get(CALENDAR_SYNC_STATUS) == "active"

    await handle.signal(CalendarSyncWorkflow.stop)
    assert (await handle.result()).status == "active"


async def test_a_revoked_grant_breaks_the_connection_and_ends_the_sync(
    sync: Sync, db: Database
) -> None:
    sync.account.failures.append(GrantBroken("invalid_grant: Token has been expired or revoked."))
    handle = await _start(sync)
    report = await handle.result()
    assert (report.status, report.error) == (
        "broken",
        "invalid_grant: Token has been expired or revoked.",
    )
    stored = await store.get(db, sync.connection.id)
    assert stored is not None and stored.status == "broken"
    assert stored.broken_reason == "invalid_grant: Token has been expired or revoked."
    assert len(sync.account.asked) == 1  # no retrying a grant that no longer works
    described = await handle.describe()
    assert described.status == WorkflowExecutionStatus.COMPLETED
    assert described.typed_search_attributes.get(CALENDAR_SYNC_STATUS) == "broken"


async def test_a_busy_vendor_is_asked_again_after_its_retry_after(sync: Sync, db: Database) -> None:
    sync.account.failures.append(CalendarRetryLater("429 Too Many Requests", retry_after=120))
    handle = await _start(sync)
    await _syncs(sync, 1)
    stored = await store.get(db, sync.connection.id)
    assert stored is not None and stored.last_error == "429 Too Many Requests"
    before = await sync.env.get_current_time()
    await _syncs(sync, 2)
    waited = await sync.env.get_current_time() - before
    assert timedelta(seconds=115) <= waited <= timedelta(seconds=130), waited
    stored = await store.get(db, sync.connection.id)
    assert stored is not None and stored.last_error is None  # the retry went through
    await handle.signal(CalendarSyncWorkflow.stop)
    await handle.result()


async def test_a_removed_connection_ends_its_sync(sync: Sync, db: Database) -> None:
    await store.disconnect(db, sync.connection.id)
    report = await (await _start(sync)).result()
    assert report.status == "gone"
    assert sync.account.asked == []


async def test_a_full_listing_comes_back_daily_for_what_the_horizon_brings_in(
    sync: Sync, db: Database
) -> None:
    """A weekly series unchanged for months reports nothing incrementally, yet each day the
    horizon takes in another of its occurrences: so a full listing runs every day."""
    now = [datetime.now().astimezone()]
    activities = CalendarSyncActivities(db, _opener(sync.account), clock=lambda: now[0])
    for hours in (0, 1, 22, 2, 1):
        now[0] += timedelta(hours=hours)
        await activities.sync_calendars(sync.connection.id)
    states = [state for _, state in sync.account.asked]
    # At 0 h a full listing; at 1 h and 23 h incremental; at 25 h full again; then incremental.
    assert states == [None, "token-1", "token-2", None, "token-4"], states


def _opener(account: Account):  # type: ignore[no-untyped-def]
    async def open_account(_: store.Connection) -> Account:
        return account

    return open_account


async def _told(db: Database, kind: str) -> list[Notification]:
    async with db.session() as session:
        found = await session.scalars(select(Notification).where(Notification.kind == kind))
        return list(found)


async def test_the_provider_hears_once_that_their_calendar_stopped_syncing(
    sync: Sync, db: Database
) -> None:
    reason = f"invalid_grant: revoked {uuid.uuid4()}"
    sync.account.failures.append(GrantBroken(reason))
    await (await _start(sync)).result()
    [told] = [m for m in await _told(db, "provider_calendar_broken") if reason in m.body_text]
    assert (told.channel, told.status, told.appointment_id) == ("email", "sent", None)
    assert sync.connection.account in (told.subject or "")
    # Another sync of the broken connection (a restart, a signal) tells them nothing new.
    activities = CalendarSyncActivities(db, _opener(sync.account))
    report = await activities.sync_calendars(sync.connection.id)
    for notice in report.notices:
        await activities.notify_provider(notice)
    again = [m for m in await _told(db, "provider_calendar_broken") if reason in m.body_text]
    assert len(again) == 1


async def test_a_meeting_over_a_confirmed_booking_is_reported_and_the_booking_kept(
    sync: Sync, db: Database
) -> None:
    provider = await store.get(db, sync.connection.id)
    assert provider is not None
    made = await make_provider(db)  # a service to book, then moved to this connection's provider
    customer = await make_customer(db)
    start = future_local(made.timezone, days_ahead=3, at=time(10))
    request = hold_request(made, customer, start)
    await hold_slot(db, request, now=datetime.now(UTC))
    async with db.transaction() as connection:
        await connection.execute(
            update(Appointment)
            .where(Appointment.id == request.booking_id)
            .values(status="confirmed", provider_id=provider.provider_id)
        )
    sync.account.events["clash"] = (start + timedelta(minutes=15), start + timedelta(hours=1))
    activities = CalendarSyncActivities(db, _opener(sync.account))
    for _ in range(2):  # reported once, however often it syncs
        report = await activities.sync_calendars(sync.connection.id)
        assert report.conflicts == 1
        for notice in report.notices:
            await activities.notify_provider(notice)
    [told] = [
        m
        for m in await _told(db, "provider_calendar_conflict")
        if m.appointment_id == request.booking_id
    ]
    assert "The booking still stands" in told.body_text
    async with db.session() as session:
        kept = await session.get(Appointment, request.booking_id)
    assert kept is not None and kept.status == "confirmed"
