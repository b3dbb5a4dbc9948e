"""Record the booking workflow's history on every path, for the replay tests.

    .venv/bin/python -m tests.workflows.record_histories        (or: make histories)

Each path runs once on the time-skipping test server with the real activities on a scratch
SQLite database, and its history is written to `tests/workflows/histories/<era>/<path>.json`,
where the era is the workflow's newest patch (`workflows.booking.PATCHES`). Eras already
recorded are never touched: bookings made under them may still be open, so their histories
stay and keep being replayed. Re-recording the era under development takes `--force`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.booking import BookingActivities
from activities.calendar_sync import CalendarSyncActivities
from activities.calendars.port import GrantBroken
from activities.payments.sandbox import SandboxPaymentGateway
from activities.reconcile import ReconcileActivities
from activities.retention import RetentionActivities
from config import Settings
from contract.calendars import CalendarKind, SyncRequest
from contract.messages import CancelRequest, Decision, RescheduleRequest, VoidPaymentRequest
from contract.reconcile import ReconcileRun
from contract.retention import RetentionPeriods, RetentionRun
from db import calendar_connections
from db.engine import Database
from db.migrate import upgrade_to_head
from db.models import Appointment, CalendarAuthorization, SandboxPaymentIntent
from devstack.binaries import temporal_test_server
from domain.booking_state import BookingStatus
from tests.factories import ProviderFixture, future_local, make_customer, make_provider
from tests.temporal_fixtures import Saga, converter_for_tests, register_search_attributes
from tests.workflows.calendar_fakes import Account
from tests.workflows.helpers import (
    BookingHandle,
    activities_losing_the_hold_answer,
    booking_input,
    pay,
    start_booking,
    start_workflow,
    status_becomes,
)
from workflows.booking import PATCHES, BookingWorkflow
from workflows.calendar_sync import CalendarSyncWorkflow
from workflows.calendar_sync import workflow_id as sync_workflow_id
from workflows.late_payment import LatePaymentRefund
from workflows.reconciler import ReconcilerWorkflow
from workflows.retention import RetentionWorkflow

# Every workflow the worker runs: each has its histories recorded and replayed.
WORKFLOWS = [
    BookingWorkflow,
    LatePaymentRefund,
    ReconcilerWorkflow,
    CalendarSyncWorkflow,
    RetentionWorkflow,
]
# The calendar account every recorded calendar sync reads: in memory.
CALENDAR = Account()

HISTORIES = Path(__file__).parent / "histories"
# Reminders prepared this long ahead (as the API asks from REMINDER_PREPARE_SECONDS), short:
# each waits in its activity in real time, which the test server does not skip.
PREPARE_REMINDERS_S = 2

Path_ = Callable[[Saga], Awaitable[WorkflowHandle[Any, Any]]]
Activities = Callable[[BookingActivities], list[Callable[..., object]]]
PATHS: dict[str, Path_] = {}
# The activities a path's worker runs, where they are not the real ones.
ACTIVITIES: dict[str, Activities] = {}


def path(name: str, activities: Activities | None = None) -> Callable[[Path_], Path_]:
    def register(run: Path_) -> Path_:
        PATHS[name] = run
        if activities is not None:
            ACTIVITIES[name] = activities
        return run

    return register


def era() -> str:
    return PATCHES[-1] if PATCHES else "base"


async def _booked(
    saga: Saga, *, days_ahead: int = 7, **provider: object
) -> tuple[ProviderFixture, BookingHandle, object]:
    made = await make_provider(saga.db, **provider)  # type: ignore[arg-type]
    booking = booking_input(
        made, await make_customer(saga.db), future_local(made.timezone, days_ahead=days_ahead)
    ).model_copy(update={"reminder_prepare_seconds": PREPARE_REMINDERS_S})
    handle, held = await start_booking(saga, booking)
    return made, handle, held


async def _ends(handle: BookingHandle) -> None:
    """Let the workflow run to its end in skipped time; a failed workflow is a path too."""
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()


@path("confirmed_then_completed")
async def _confirmed(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga)
    await pay(saga, handle, held, succeed=True)  # type: ignore[arg-type]
    await status_becomes(handle, BookingStatus.CONFIRMED)
    await _ends(handle)
    return handle


@path("free_confirmed_then_completed")
async def _free(saga: Saga) -> BookingHandle:
    _, handle, _ = await _booked(saga, price=0)
    await _ends(handle)
    return handle


@path("expired_unpaid")
async def _expired(saga: Saga) -> BookingHandle:
    _, handle, _ = await _booked(saga)
    await _ends(handle)
    return handle


@path("payment_failed_then_expired")
async def _payment_failed(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga)
    await pay(saga, handle, held, succeed=False)  # type: ignore[arg-type]
    await _ends(handle)
    return handle


@path("payment_failed_then_paid")
async def _payment_retried(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga)
    declined = await pay(saga, handle, held, succeed=False)  # type: ignore[arg-type]
    await handle.execute_update(BookingWorkflow.wait_until_seen, declined)
    await pay(saga, handle, held, succeed=True)  # type: ignore[arg-type]
    await status_becomes(handle, BookingStatus.CONFIRMED)
    await _ends(handle)
    return handle


@path("paid_but_webhook_late_confirmed_at_deadline")
async def _late_payment(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga)
    await saga.payments.checkout(held.payment.id, succeed=True)  # type: ignore[attr-defined]
    await saga.env.sleep(held.hold_expires_at - await saga.env.get_current_time())  # type: ignore[attr-defined]
    await status_becomes(handle, BookingStatus.CONFIRMED)
    await _ends(handle)
    return handle


@path("duplicate_payment_events")
async def _duplicates(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga)
    paid = await pay(saga, handle, held, succeed=True)  # type: ignore[arg-type]
    for _ in range(3):
        await handle.signal(BookingWorkflow.payment_succeeded, paid)
    await status_becomes(handle, BookingStatus.CONFIRMED)
    await _ends(handle)
    return handle


@path("hold_answer_lost", activities=activities_losing_the_hold_answer)
async def _hold_answer_lost(saga: Saga) -> BookingHandle:
    made = await make_provider(saga.db, price=0)
    booking = booking_input(made, await make_customer(saga.db), future_local(made.timezone))
    handle = await start_workflow(saga, booking)
    await _ends(handle)
    return handle


@path("customer_moved_in_window_then_cancelled")
async def _moved_in_window(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga, days_ahead=3)
    await pay(saga, handle, held, succeed=True)  # type: ignore[arg-type]
    state = await status_becomes(handle, BookingStatus.CONFIRMED)
    await saga.env.sleep(state.start - await saga.env.get_current_time() - timedelta(minutes=70))
    await handle.execute_update(
        BookingWorkflow.reschedule,
        RescheduleRequest(start=state.start + timedelta(days=7), requested_by="customer"),
    )
    await handle.execute_update(BookingWorkflow.cancel, CancelRequest(cancelled_by="customer"))
    await _ends(handle)
    return handle


@path("declined")
async def _declined(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga, auto_confirm=False)
    await pay(saga, handle, held, succeed=True)  # type: ignore[arg-type]
    await status_becomes(handle, BookingStatus.AWAITING_APPROVAL)
    await handle.execute_update(BookingWorkflow.decline, Decision(reason="fully booked"))
    await _ends(handle)
    return handle


@path("approved_then_completed")
async def _approved(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga, auto_confirm=False)
    await pay(saga, handle, held, succeed=True)  # type: ignore[arg-type]
    await status_becomes(handle, BookingStatus.AWAITING_APPROVAL)
    await handle.execute_update(BookingWorkflow.approve, Decision())
    await _ends(handle)
    return handle


@path("approval_timeout")
async def _approval_timeout(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga, auto_confirm=False)
    await pay(saga, handle, held, succeed=True)  # type: ignore[arg-type]
    await status_becomes(handle, BookingStatus.AWAITING_APPROVAL)
    await _ends(handle)
    return handle


@path("cancelled_awaiting_payment")
async def _cancelled_unpaid(saga: Saga) -> BookingHandle:
    _, handle, _ = await _booked(saga)
    await handle.execute_update(BookingWorkflow.cancel, CancelRequest(cancelled_by="customer"))
    await _ends(handle)
    return handle


@path("cancelled_awaiting_approval")
async def _cancelled_waiting(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga, auto_confirm=False)
    await pay(saga, handle, held, succeed=True)  # type: ignore[arg-type]
    await status_becomes(handle, BookingStatus.AWAITING_APPROVAL)
    await handle.execute_update(BookingWorkflow.cancel, CancelRequest(cancelled_by="customer"))
    await _ends(handle)
    return handle


@path("cancelled_confirmed_refunded")
async def _cancelled_refunded(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga)
    await pay(saga, handle, held, succeed=True)  # type: ignore[arg-type]
    await status_becomes(handle, BookingStatus.CONFIRMED)
    await handle.execute_update(
        BookingWorkflow.cancel, CancelRequest(cancelled_by="customer", reason="moving away")
    )
    await _ends(handle)
    return handle


@path("cancelled_confirmed_late_not_refunded")
async def _cancelled_late(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga, days_ahead=3)
    await pay(saga, handle, held, succeed=True)  # type: ignore[arg-type]
    state = await status_becomes(handle, BookingStatus.CONFIRMED)
    await saga.env.sleep(state.start - await saga.env.get_current_time() - timedelta(hours=12))
    await handle.execute_update(BookingWorkflow.cancel, CancelRequest(cancelled_by="customer"))
    await _ends(handle)
    return handle


@path("cancelled_by_provider")
async def _cancelled_by_provider(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga)
    await pay(saga, handle, held, succeed=True)  # type: ignore[arg-type]
    await status_becomes(handle, BookingStatus.CONFIRMED)
    await handle.execute_update(
        BookingWorkflow.cancel, CancelRequest(cancelled_by="provider", reason="ill")
    )
    await _ends(handle)
    return handle


@path("rescheduled_then_completed")
async def _rescheduled(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga, days_ahead=2)
    await pay(saga, handle, held, succeed=True)  # type: ignore[arg-type]
    state = await status_becomes(handle, BookingStatus.CONFIRMED)
    await handle.execute_update(
        BookingWorkflow.reschedule,
        RescheduleRequest(start=state.start + timedelta(days=3), requested_by="customer"),
    )
    await _ends(handle)
    return handle


@path("rejected_slot_taken")
async def _rejected(saga: Saga) -> BookingHandle:
    made, first, _ = await _booked(saga)
    taken = (await first.query(BookingWorkflow.state)).start
    handle = await start_workflow(saga, booking_input(made, await make_customer(saga.db), taken))
    await _ends(handle)
    return handle


@path("workflow_cancelled")
async def _workflow_cancelled(saga: Saga) -> BookingHandle:
    _, handle, _ = await _booked(saga)
    await handle.cancel()
    await _ends(handle)
    return handle


@path("hold_lost_then_paid")
async def _hold_lost(saga: Saga) -> BookingHandle:
    """The hold lapsed and was swept before the payment landed: the payment is refunded."""
    _, handle, held = await _booked(saga)
    booking_id = (await handle.query(BookingWorkflow.state)).booking_id
    async with saga.db.session() as session, session.begin():
        await session.execute(
            update(Appointment)
            .where(Appointment.id == booking_id)
            .values(status=BookingStatus.EXPIRED)
        )
    await pay(saga, handle, held, succeed=True)  # type: ignore[arg-type]
    await _ends(handle)
    return handle


@path("compensation_incomplete")
async def _compensation_incomplete(saga: Saga) -> BookingHandle:
    _, handle, held = await _booked(saga)
    async with saga.db.session() as session, session.begin():
        intent = await session.get(SandboxPaymentIntent, held.payment.id)  # type: ignore[attr-defined]
        await session.delete(intent)
    await _ends(handle)
    return handle


@path("late_payment_refunded")
async def _late_payment_refund(saga: Saga) -> WorkflowHandle[Any, Any]:
    """LatePaymentRefund: a payment that succeeded after its booking expired goes back."""
    _, booking, held = await _booked(saga)
    await _ends(booking)  # expired: nobody paid in time
    async with saga.db.session() as session, session.begin():
        await session.execute(
            update(SandboxPaymentIntent)
            .where(SandboxPaymentIntent.id == held.payment.id)  # type: ignore[attr-defined]
            .values(status="succeeded")
        )
    handle = await saga.client.start_workflow(
        LatePaymentRefund.run,
        VoidPaymentRequest(
            booking_id=held.booking_id,  # type: ignore[attr-defined]
            intent_id=held.payment.id,  # type: ignore[attr-defined]
            idempotency_key=f"late-payment:{held.payment.id}",  # type: ignore[attr-defined]
            reason="paid after the booking had ended",
        ),
        id=f"late-payment-{held.payment.id}",  # type: ignore[attr-defined]
        task_queue=saga.task_queue,
    )
    await handle.result()
    return handle


@path("reconciler_released_a_lapsed_hold")
async def _reconciled(saga: Saga) -> WorkflowHandle[Any, Any]:
    """ReconcilerWorkflow: a hold past its deadline whose workflow is gone is expired."""
    made = await make_provider(saga.db)
    start = future_local(made.timezone)
    now = datetime.now(UTC)
    async with saga.db.session() as session, session.begin():
        session.add(
            Appointment(
                id=uuid.uuid4(),
                provider_id=made.provider_id,
                service_id=made.service_id,
                customer_id=await make_customer(saga.db),
                start_at=start,
                end_at=start + made.duration,
                blocked_start=start,
                blocked_end=start + made.duration,
                status=BookingStatus.AWAITING_PAYMENT,
                hold_expires_at=now - timedelta(hours=1),
                price_amount=made.price,
                currency="USD",
                created_at=now - timedelta(days=1),
                updated_at=now - timedelta(days=1),
            )
        )
    handle = await saga.client.start_workflow(
        ReconcilerWorkflow.run,
        ReconcileRun(grace=timedelta(minutes=10), provider_id=made.provider_id),
        id=f"booking-reconciler-{uuid.uuid4()}",
        task_queue=saga.task_queue,
    )
    await handle.result()
    return handle


@path("retention_purged_past_the_period")
async def _retention(saga: Saga) -> WorkflowHandle[Any, Any]:
    """RetentionWorkflow: three lapsed calendar authorizations go in batches of two."""
    made = await make_provider(saga.db)
    lapsed = datetime.now(UTC) - timedelta(days=3)
    async with saga.db.session() as session, session.begin():
        for _ in range(3):
            session.add(
                CalendarAuthorization(
                    state=uuid.uuid4().hex,
                    user_id=made.user_id,
                    provider_id=made.provider_id,
                    kind="google",
                    secret="sealed",
                    expires_at=lapsed,
                    created_at=lapsed,
                )
            )
    handle = await saga.client.start_workflow(
        RetentionWorkflow.run,
        RetentionRun(
            periods=RetentionPeriods(
                message_days=90, payment_event_days=90, calendar_authorization_days=1
            ),
            batch_size=2,
        ),
        id=f"data-retention-{uuid.uuid4()}",
        task_queue=saga.task_queue,
    )
    await handle.result()
    return handle


async def _calendar(_: calendar_connections.Connection) -> Account:
    return CALENDAR


@path("calendar_sync_until_the_grant_breaks")
async def _calendar_sync(saga: Saga) -> WorkflowHandle[Any, Any]:
    """CalendarSyncWorkflow: a sync at once, one after the period, one on a signal that finds
    the grant revoked."""
    made = await make_provider(saga.db)
    now = datetime.now(UTC)
    connection = await calendar_connections.connect(
        saga.db,
        provider_id=made.provider_id,
        kind=CalendarKind.CALDAV,
        account=f"recorded-{uuid.uuid4().hex[:8]}@example.com",
        secret="sealed",
        now=now,
    )
    await calendar_connections.choose(
        saga.db, connection.id, blocking=["work"], destination="work", now=now
    )
    start = now + timedelta(days=2)
    CALENDAR.events["meeting"] = (start, start + timedelta(hours=1))
    handle = await saga.client.start_workflow(
        CalendarSyncWorkflow.run,
        SyncRequest(connection_id=connection.id, period_seconds=300),
        id=sync_workflow_id(connection.id),
        task_queue=saga.task_queue,
    )
    await saga.env.sleep(timedelta(minutes=6))
    CALENDAR.failures.append(GrantBroken("invalid_grant: Token has been expired or revoked."))
    await handle.signal(CalendarSyncWorkflow.sync_now)
    await handle.result()
    return handle


async def record(names: list[str], into: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="development",
            database_url=f"sqlite:///{scratch}/app.db",
        )
        upgrade_to_head(settings)
        db = Database.from_settings(settings)
        payments = SandboxPaymentGateway(db, settings.payment_webhook_secret.get_secret_value())
        try:
            for name in names:
                # A server of its own per path: skipped time is global to a server.
                env = await WorkflowEnvironment.start_time_skipping(
                    data_converter=converter_for_tests(),
                    test_server_existing_path=temporal_test_server(),
                )
                async with env:
                    await register_search_attributes(env.client)
                    task_queue = f"record-{uuid.uuid4()}"
                    activities = BookingActivities(db, payments)
                    async with Worker(
                        env.client,
                        task_queue=task_queue,
                        workflows=WORKFLOWS,
                        activities=[
                            *ACTIVITIES.get(name, BookingActivities.all)(activities),
                            *ReconcileActivities(db, env.client, payments).all(),
                            *CalendarSyncActivities(db, _calendar).all(),  # type: ignore[arg-type]
                            *RetentionActivities(db).all(),
                        ],
                    ):
                        saga = Saga(env, env.client, task_queue, db, payments)
                        handle = await PATHS[name](saga)
                        history = await handle.fetch_history()
                (into / f"{name}.json").write_text(history.to_json())
                print(f"recorded {into.name}/{name}.json ({len(history.events)} events)")
        finally:
            await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="only these paths (default: all)")
    parser.add_argument("--force", action="store_true", help="re-record the newest era")
    args = parser.parse_args()
    into = HISTORIES / era()
    if into.exists() and not args.force:
        parser.exit(
            2,
            f"{into} exists: histories of a released era are never re-recorded. Add a patch "
            "(workflows.booking.PATCHES) for a new era, or --force while developing this one.\n",
        )
    names = args.paths or list(PATHS)
    unknown = sorted(set(names) - set(PATHS))
    if unknown:
        parser.exit(2, f"unknown paths: {', '.join(unknown)}; known: {', '.join(PATHS)}\n")
    into.mkdir(parents=True, exist_ok=True)
    asyncio.run(record(names, into))


if __name__ == "__main__":
    main()
