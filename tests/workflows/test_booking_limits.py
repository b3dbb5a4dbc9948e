"""Moves, their limits and the refund deadline; a hold whose answer was lost; bounded histories."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.booking import BookingActivities
from contract.errors import RESCHEDULE_LIMIT_REACHED
from contract.messages import CancelRequest, RescheduleRequest
from db.models import Appointment, SandboxPaymentIntent
from domain.booking_state import BookingStatus
from tests.factories import future_local, make_customer, make_provider
from tests.temporal_fixtures import Saga
from tests.workflows.helpers import (
    activities_losing_the_hold_answer,
    booking_input,
    pay,
    start_booking,
    status_becomes,
)
from workflows.booking import BookingWorkflow

# Inside the 24-hour no-refund window, and off the 1 h reminder's instant.
BEFORE_THE_START = timedelta(minutes=70)


async def _confirmed(saga: Saga, *, days_ahead: int, max_reschedules: int = 10):  # type: ignore[no-untyped-def]
    provider = await make_provider(saga.db)
    start = future_local(provider.timezone, days_ahead=days_ahead)
    booking = booking_input(provider, await make_customer(saga.db), start).model_copy(
        update={"max_reschedules": max_reschedules}
    )
    handle, held = await start_booking(saga, booking)
    await pay(saga, handle, held, succeed=True)
    await status_becomes(handle, BookingStatus.CONFIRMED)
    assert held.payment is not None
    return booking, handle, held.payment.id


async def _refunded(saga: Saga, intent_id: str) -> int:
    async with saga.db.session() as session:
        intent = await session.get(SandboxPaymentIntent, intent_id)
    assert intent is not None
    return intent.amount_refunded


async def test_a_customer_move_inside_the_no_refund_window_keeps_its_deadline(saga: Saga) -> None:
    """70 minutes before the start the customer moves the booking a week out, then cancels: the
    refund deadline passed before the move, so nothing is refunded."""
    booking, handle, intent_id = await _confirmed(saga, days_ahead=3)
    await saga.env.sleep(booking.start - await saga.env.get_current_time() - BEFORE_THE_START)
    await handle.execute_update(
        BookingWorkflow.reschedule,
        RescheduleRequest(start=booking.start + timedelta(days=7), requested_by="customer"),
    )

    state = await handle.execute_update(
        BookingWorkflow.cancel, CancelRequest(cancelled_by="customer")
    )

    assert state.status == BookingStatus.CANCELLED
    assert state.payment is not None and state.payment.status == "succeeded"
    assert await _refunded(saga, intent_id) == 0


async def test_a_provider_move_inside_the_window_gives_the_customer_a_new_deadline(
    saga: Saga,
) -> None:
    booking, handle, intent_id = await _confirmed(saga, days_ahead=3)
    await saga.env.sleep(booking.start - await saga.env.get_current_time() - BEFORE_THE_START)
    await handle.execute_update(
        BookingWorkflow.reschedule,
        RescheduleRequest(start=booking.start + timedelta(days=7), requested_by="provider"),
    )

    state = await handle.execute_update(
        BookingWorkflow.cancel, CancelRequest(cancelled_by="customer")
    )

    assert state.payment is not None and state.payment.status == "refunded"
    assert await _refunded(saga, intent_id) > 0


async def test_moves_are_capped(saga: Saga) -> None:
    booking, handle, _ = await _confirmed(saga, days_ahead=5, max_reschedules=2)
    for day in (1, 2):
        await handle.execute_update(
            BookingWorkflow.reschedule,
            RescheduleRequest(start=booking.start + timedelta(days=day), requested_by="customer"),
        )
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            BookingWorkflow.reschedule,
            RescheduleRequest(start=booking.start + timedelta(days=3), requested_by="customer"),
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == RESCHEDULE_LIMIT_REACHED
    state = await handle.query(BookingWorkflow.state)
    assert (state.start, state.reschedules) == (booking.start + timedelta(days=2), 2)


async def test_a_hold_whose_answer_was_lost_is_released_by_the_booking_id(saga: Saga) -> None:
    """A free, auto-confirmed booking's hold commits, but the workflow never hears of it: the
    caller is refused and the row must not stay a booking with no workflow behind it."""
    provider = await make_provider(saga.db, price=0)
    slot = future_local(provider.timezone)
    booking = booking_input(provider, await make_customer(saga.db), slot)
    task_queue = f"lost-{uuid.uuid4()}"
    activities = BookingActivities(saga.db, saga.payments)
    async with Worker(
        saga.client,
        task_queue=task_queue,
        workflows=[BookingWorkflow],
        activities=activities_losing_the_hold_answer(activities),
    ):
        handle = await saga.client.start_workflow(
            BookingWorkflow.run, booking, id=f"booking-{booking.booking_id}", task_queue=task_queue
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(BookingWorkflow.wait_until_held)
        outcome = await handle.result()

    assert outcome.status == BookingStatus.REJECTED
    async with saga.db.session() as session:
        row = await session.scalar(select(Appointment).where(Appointment.id == booking.booking_id))
    assert row is not None and row.status == BookingStatus.CANCELLED
    _, again = await start_booking(
        saga, booking_input(provider, await make_customer(saga.db), slot)
    )
    assert again.status == BookingStatus.CONFIRMED
