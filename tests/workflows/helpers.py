from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError

from activities.booking import BookingActivities
from contract.messages import (
    BookingInput,
    BookingOutcome,
    BookingState,
    Hold,
    HoldRequest,
    PaymentEvent,
)
from db.models import Appointment, SandboxPaymentIntent
from domain.booking_state import BookingStatus
from tests.factories import ProviderFixture
from tests.temporal_fixtures import Saga
from workflows import search_attributes
from workflows.booking import BookingWorkflow
from workflows.client import workflow_id

T = TypeVar("T")
BookingHandle = WorkflowHandle[BookingWorkflow, BookingOutcome]


def booking_input(
    provider: ProviderFixture,
    customer_id: uuid.UUID,
    start: datetime,
    payment_timeout: timedelta = timedelta(minutes=15),
) -> BookingInput:
    return BookingInput(
        booking_id=uuid.uuid4(),
        provider_id=provider.provider_id,
        service_id=provider.service_id,
        customer_id=customer_id,
        start=start,
        payment_timeout=payment_timeout,
    )


async def start_workflow(saga: Saga, booking: BookingInput) -> BookingHandle:
    return await saga.client.start_workflow(
        BookingWorkflow.run,
        booking,
        id=workflow_id(booking.booking_id),
        task_queue=saga.task_queue,
        search_attributes=search_attributes.initial(
            status="requested",
            provider_id=booking.provider_id,
            service_id=booking.service_id,
            start=booking.start,
        ),
    )


async def start_booking(saga: Saga, booking: BookingInput) -> tuple[BookingHandle, BookingState]:
    handle = await start_workflow(saga, booking)
    state = await handle.execute_update(BookingWorkflow.wait_until_held)
    return handle, state


async def pay(
    saga: Saga, handle: BookingHandle, state: BookingState, *, succeed: bool
) -> PaymentEvent:
    """Pay at the sandbox checkout and deliver its verified webhook event as the API would."""
    assert state.payment is not None
    payload, signature = await saga.payments.checkout(state.payment.id, succeed=succeed)
    event = saga.payments.parse_webhook(payload, signature)
    assert event is not None
    signal = BookingWorkflow.payment_succeeded if succeed else BookingWorkflow.payment_failed
    await handle.signal(signal, event)
    return event


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], within: float = 10
) -> T:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await probe()
        if done(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


async def status_becomes(handle: BookingHandle, status: BookingStatus) -> BookingState:
    state = await eventually(
        lambda: handle.query(BookingWorkflow.state), lambda s: s.status == status
    )
    assert state.status == status, state
    return state


def activities_losing_the_hold_answer(activities: BookingActivities) -> list[Callable[..., object]]:
    """The real activities, but `hold_slot` commits its hold and then fails as a lost answer
    would (a connection dropped after COMMIT): the workflow never learns the hold exists."""

    @activity.defn(name="hold_slot")
    async def hold_slot(request: HoldRequest) -> Hold:
        await activities.hold_slot(request)
        raise ApplicationError("connection lost after commit", type="Lost", non_retryable=True)

    return [hold_slot, *(a for a in activities.all() if a != activities.hold_slot)]


async def appointment_row(saga: Saga, booking_id: object) -> Appointment:
    """The booking's row as stored."""
    async with saga.db.session() as session:
        row = await session.get(Appointment, booking_id)
    assert row is not None
    return row


async def sandbox_intent(saga: Saga, intent_id: str) -> SandboxPaymentIntent:
    """The sandbox gateway's own record of an intent (what Stripe would hold)."""
    async with saga.db.session() as session:
        intent = await session.get(SandboxPaymentIntent, intent_id)
    assert intent is not None
    return intent
