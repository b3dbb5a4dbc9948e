"""Run a booking worker: build the activities with the adapters Settings names, then poll."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.booking import BookingActivities
from activities.calendar_events import BookingCalendars
from activities.calendar_sync import CalendarSyncActivities
from activities.calendars.accounts import CalendarAccounts
from activities.notifications.teller import Teller, teller_from_settings
from activities.payments import gateway_from_settings
from activities.payments.port import PaymentGateway
from activities.reconcile import ReconcileActivities
from activities.retention import RetentionActivities
from config import Settings, get_settings
from db.engine import Database
from telemetry.logs import configure_logging
from telemetry.temporal import ActivityLogContext, worker_runtime
from telemetry.tracing import start_tracing, temporal_interceptors
from workflows.booking import BookingWorkflow
from workflows.calendar_sync import CalendarSyncWorkflow
from workflows.client import connect
from workflows.late_payment import LatePaymentRefund
from workflows.reconciler import ReconcilerWorkflow
from workflows.retention import RetentionWorkflow
from workflows.schedules import ensure_reconciler_schedule, ensure_retention_schedule

log = logging.getLogger("booking.worker")


def build_worker(
    client: Client, settings: Settings, db: Database, payments: PaymentGateway, teller: Teller
) -> Worker:
    accounts = CalendarAccounts.from_settings(settings, db)
    booking_calendars = BookingCalendars(db, accounts, settings.public_base_url)
    activities = BookingActivities(
        db,
        payments,
        teller,
        calendars=booking_calendars,
        max_open_holds=settings.max_open_holds,
    )
    reconcile = ReconcileActivities(db, client, payments)
    calendars = CalendarSyncActivities(db, accounts.open, teller=teller)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[
            BookingWorkflow,
            LatePaymentRefund,
            ReconcilerWorkflow,
            CalendarSyncWorkflow,
            RetentionWorkflow,
        ],
        activities=[
            *activities.all(),
            *reconcile.all(),
            *calendars.all(),
            *RetentionActivities(db).all(),
        ],
        # The sandbox re-imports the workflow module and the SDK's workflow runtime for every
        # booking it starts or replays: about a third of this worker's CPU per booking (see
        # README, Performance). Its job is to catch non-deterministic workflow code, and that
        # check runs where it can fail a build: every workflow test runs in the sandbox.
        workflow_runner=UnsandboxedWorkflowRunner(),
        interceptors=[ActivityLogContext()],
        max_concurrent_activities=settings.worker_max_activities,
    )


async def run(settings: Settings) -> None:
    db = Database.from_settings(settings)
    start_tracing(settings, "booking-worker")
    client = await connect(
        settings, runtime=worker_runtime(settings), interceptors=temporal_interceptors(settings)
    )
    payments = gateway_from_settings(settings, db)
    teller = teller_from_settings(settings, db)
    worker = build_worker(client, settings, db, payments, teller)
    await ensure_reconciler_schedule(client, settings)
    await ensure_retention_schedule(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.info("worker polling %s on %s", settings.temporal_task_queue, settings.temporal_address)
    try:
        async with worker:
            await stop.wait()
    finally:
        await payments.aclose()
        await teller.email.aclose()
        await teller.sms.aclose()
        await db.dispose()


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it exists: the worker's hot path is mostly event-loop wake-ups."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(run(settings))


if __name__ == "__main__":
    main()
