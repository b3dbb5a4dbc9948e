"""The reconciler on the time-skipping server: real activities, database and sandbox payments."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.payments.sandbox import SandboxPaymentGateway
from activities.reconcile import ReconcileActivities
from config import Settings
from contract.messages import Money, PaymentIntentRequest
from contract.reconcile import EXPIRED_BY_RECONCILER, ReconcileReport, ReconcileRun
from db import booking_lifecycle
from db.engine import Database
from db.models import Appointment, PaymentTransaction, SandboxPaymentIntent
from domain.booking_state import BookingStatus
from tests.factories import ProviderFixture, make_customer, make_provider
from workflows.client import workflow_id
from workflows.reconciler import ReconcilerWorkflow

GRACE = timedelta(minutes=10)


@workflow.defn(sandboxed=False)
class RunningBooking:
    """Stands in for a booking's workflow that is still running."""

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@workflow.defn(sandboxed=False)
class FinishedBooking:
    """Stands in for a booking's workflow that has closed."""

    @workflow.run
    async def run(self) -> None:
        return None


@dataclass
class Reconciler:
    env: WorkflowEnvironment
    client: Client
    task_queue: str
    db: Database
    payments: SandboxPaymentGateway

    async def run(self, provider: ProviderFixture, **options: int) -> ReconcileReport:
        # The stand-ins wait on nothing: with time skipping on, the server would jump to their
        # execution timeout and close them while the reconciler looks.
        with self.env.auto_time_skipping_disabled():
            return await self.client.execute_workflow(
                ReconcilerWorkflow.run,
                ReconcileRun(grace=GRACE, provider_id=provider.provider_id, **options),
                id=f"booking-reconciler-{uuid.uuid4()}",
                task_queue=self.task_queue,
            )

    async def start_stand_in(self, booking_id: uuid.UUID, *, running: bool) -> None:
        stand_in = RunningBooking.run if running else FinishedBooking.run
        handle = await self.client.start_workflow(
            stand_in, id=workflow_id(booking_id), task_queue=self.task_queue
        )
        if not running:
            with self.env.auto_time_skipping_disabled():
                await handle.result()


@pytest.fixture
async def reconciler(
    time_skipping_env: WorkflowEnvironment, db: Database, settings: Settings
) -> AsyncIterator[Reconciler]:
    client = time_skipping_env.client
    payments = SandboxPaymentGateway(db, settings.payment_webhook_secret.get_secret_value())
    task_queue = f"reconciler-{uuid.uuid4()}"
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[ReconcilerWorkflow, RunningBooking, FinishedBooking],
        activities=ReconcileActivities(db, client, payments).all(),
    )
    async with worker:
        yield Reconciler(time_skipping_env, client, task_queue, db, payments)


def _appointment(
    provider: ProviderFixture,
    customer_id: uuid.UUID,
    status: BookingStatus,
    start: datetime,
    *,
    hold_expires_at: datetime | None = None,
) -> Appointment:
    now = datetime.now(UTC)
    end = start + provider.duration
    return Appointment(
        id=uuid.uuid4(),
        provider_id=provider.provider_id,
        service_id=provider.service_id,
        customer_id=customer_id,
        start_at=start,
        end_at=end,
        blocked_start=start,
        blocked_end=end,
        status=status,
        hold_expires_at=hold_expires_at,
        price_amount=provider.price,
        currency="USD",
        customer_timezone=None,
        cancel_reason=None,
        created_at=now - timedelta(days=3),
        updated_at=now - timedelta(days=3),
    )


async def _insert(db: Database, appointment: Appointment) -> uuid.UUID:
    async with db.session() as session, session.begin():
        session.add(appointment)
    return appointment.id


async def _lapsed_hold(db: Database, provider: ProviderFixture, start: datetime) -> uuid.UUID:
    lapsed = datetime.now(UTC) - timedelta(hours=1)
    customer = await make_customer(db)
    return await _insert(
        db,
        _appointment(
            provider, customer, BookingStatus.AWAITING_PAYMENT, start, hold_expires_at=lapsed
        ),
    )


async def _confirmed(db: Database, provider: ProviderFixture, start: datetime) -> uuid.UUID:
    customer = await make_customer(db)
    return await _insert(db, _appointment(provider, customer, BookingStatus.CONFIRMED, start))


async def _pending_payment(reconciler: Reconciler, booking_id: uuid.UUID, price: int) -> str:
    intent = await reconciler.payments.create_intent(
        PaymentIntentRequest(
            booking_id=booking_id,
            price=Money(amount=price, currency="USD"),
            idempotency_key=f"{workflow_id(booking_id)}:payment-intent",
            description="test booking",
        )
    )
    await booking_lifecycle.record_payment_intent(
        reconciler.db, booking_id, intent, now=datetime.now(UTC)
    )
    return intent.id


async def _row(db: Database, booking_id: uuid.UUID) -> Appointment:
    async with db.session() as session:
        row = await session.get(Appointment, booking_id)
    assert row is not None
    return row


def _next_week() -> datetime:
    return (datetime.now(UTC) + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)


async def test_a_lapsed_hold_without_a_workflow_is_expired_its_slot_freed_and_payment_voided(
    reconciler: Reconciler,
) -> None:
    db = reconciler.db
    provider = await make_provider(db)
    start = _next_week()
    booking_id = await _lapsed_hold(db, provider, start)
    intent_id = await _pending_payment(reconciler, booking_id, provider.price)
    rival = _appointment(provider, await make_customer(db), BookingStatus.CONFIRMED, start)
    with pytest.raises(IntegrityError):
        await _insert(db, rival)

    report = await reconciler.run(provider)

    assert report == ReconcileReport(examined=1, released=1, voided=1)
    row = await _row(db, booking_id)
    assert (row.status, row.cancel_reason) == (BookingStatus.EXPIRED, EXPIRED_BY_RECONCILER)
    await _insert(db, _appointment(provider, rival.customer_id, BookingStatus.CONFIRMED, start))
    async with db.session() as session:
        intent = await session.get(SandboxPaymentIntent, intent_id)
        recorded = await session.scalar(
            select(PaymentTransaction.status).where(PaymentTransaction.intent_id == intent_id)
        )
    assert intent is not None and intent.status == "canceled"
    assert recorded == "canceled"


async def test_a_lapsed_hold_whose_workflow_is_running_is_left_to_it(
    reconciler: Reconciler,
) -> None:
    db = reconciler.db
    provider = await make_provider(db)
    booking_id = await _lapsed_hold(db, provider, _next_week())
    await reconciler.start_stand_in(booking_id, running=True)

    report = await reconciler.run(provider)

    assert report == ReconcileReport(examined=1, live=1)
    assert (await _row(db, booking_id)).status == BookingStatus.AWAITING_PAYMENT
    with reconciler.env.auto_time_skipping_disabled():
        await reconciler.client.get_workflow_handle(workflow_id(booking_id)).terminate()


async def test_a_confirmed_booking_that_ended_without_a_workflow_is_completed(
    reconciler: Reconciler,
) -> None:
    db = reconciler.db
    provider = await make_provider(db)
    booking_id = await _confirmed(db, provider, datetime.now(UTC) - timedelta(days=2))

    report = await reconciler.run(provider)

    assert report == ReconcileReport(examined=1, completed=1)
    assert (await _row(db, booking_id)).status == BookingStatus.COMPLETED


async def test_a_confirmed_upcoming_booking_without_a_workflow_is_reported_and_left_alone(
    reconciler: Reconciler,
) -> None:
    db = reconciler.db
    provider = await make_provider(db)
    booking_id = await _confirmed(db, provider, _next_week())
    before = await _row(db, booking_id)

    report = await reconciler.run(provider)

    assert (report.examined, report.unresolved, report.completed) == (1, 1, 0)
    [problem] = report.problems
    assert (problem.booking_id, problem.status) == (booking_id, BookingStatus.CONFIRMED)
    assert "upcoming" in problem.problem and "workflow not found" in problem.problem
    after = await _row(db, booking_id)
    assert (after.status, after.updated_at) == (before.status, before.updated_at)


async def test_pages_continue_as_new_and_a_closed_workflow_counts_as_gone(
    reconciler: Reconciler,
) -> None:
    db = reconciler.db
    provider = await make_provider(db)
    week = _next_week()
    closed = await _lapsed_hold(db, provider, week)
    await reconciler.start_stand_in(closed, running=False)
    missing = await _lapsed_hold(db, provider, week + timedelta(hours=1))
    ended = await _confirmed(db, provider, datetime.now(UTC) - timedelta(days=1))

    report = await reconciler.run(provider, batch_size=1, pages_per_run=2)

    assert report == ReconcileReport(examined=3, released=2, completed=1)
    assert (await _row(db, closed)).status == BookingStatus.EXPIRED
    assert (await _row(db, missing)).status == BookingStatus.EXPIRED
    assert (await _row(db, ended)).status == BookingStatus.COMPLETED
