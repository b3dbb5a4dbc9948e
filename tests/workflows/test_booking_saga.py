"""The booking saga on the time-skipping server: real activities, database and sandbox payments."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, CancelledError

from activities.payments.sandbox import IntentNotPayable
from contract.errors import COMPENSATION_INCOMPLETE, SLOT_UNAVAILABLE
from db import booking_reads
from db.models import Appointment, PaymentTransaction, SandboxPaymentIntent
from domain.booking_state import BookingStatus
from tests.factories import future_local, make_customer, make_provider
from tests.temporal_fixtures import Saga
from tests.workflows.helpers import (
    appointment_row,
    booking_input,
    pay,
    sandbox_intent,
    start_booking,
    status_becomes,
)
from workflows import search_attributes
from workflows.booking import BookingWorkflow
from workflows.client import workflow_id


async def _transaction_status(saga: Saga, intent_id: str) -> str | None:
    async with saga.db.session() as session:
        return await session.scalar(
            select(PaymentTransaction.status).where(PaymentTransaction.intent_id == intent_id)
        )


async def test_a_paid_booking_is_confirmed_then_completed_after_it_ends(saga: Saga) -> None:
    provider = await make_provider(saga.db)
    booking = booking_input(provider, await make_customer(saga.db), future_local(provider.timezone))
    start = WithStartWorkflowOperation(
        BookingWorkflow.run,
        booking,
        id=workflow_id(booking.booking_id),
        task_queue=saga.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    held = await saga.client.execute_update_with_start_workflow(
        BookingWorkflow.wait_until_held, start_workflow_operation=start
    )
    assert held.status == BookingStatus.AWAITING_PAYMENT
    assert held.payment is not None and held.payment.amount == provider.price
    assert held.hold_expires_at is not None
    assert (
        await appointment_row(saga, booking.booking_id)
    ).status == BookingStatus.AWAITING_PAYMENT

    handle = saga.client.get_workflow_handle_for(
        BookingWorkflow.run, workflow_id(booking.booking_id)
    )
    await pay(saga, handle, held, succeed=True)
    confirmed = await status_becomes(handle, BookingStatus.CONFIRMED)

    assert confirmed.hold_expires_at is None
    assert confirmed.payment is not None and confirmed.payment.status == "succeeded"
    row = await appointment_row(saga, booking.booking_id)
    assert (row.status, row.hold_expires_at) == (BookingStatus.CONFIRMED, None)
    assert await _transaction_status(saga, held.payment.id) == "succeeded"
    description = await handle.describe()
    assert description.typed_search_attributes.get(search_attributes.BOOKING_STATUS) == "confirmed"

    # Time skips to the end of the appointment, a week away.
    await saga.env.sleep(confirmed.end - confirmed.start + timedelta(days=8))
    outcome = await handle.result()
    assert outcome.status == BookingStatus.COMPLETED
    assert (await appointment_row(saga, booking.booking_id)).status == BookingStatus.COMPLETED


async def test_an_unpaid_hold_expires_releases_the_slot_and_it_can_be_booked_again(
    saga: Saga,
) -> None:
    provider = await make_provider(saga.db)
    slot = future_local(provider.timezone)
    booking = booking_input(provider, await make_customer(saga.db), slot)
    handle, held = await start_booking(saga, booking)
    assert held.payment is not None

    outcome = await handle.result()  # the 15-minute payment timer fires in skipped time

    assert outcome.status == BookingStatus.EXPIRED
    assert (await appointment_row(saga, booking.booking_id)).status == BookingStatus.EXPIRED
    assert (await sandbox_intent(saga, held.payment.id)).status == "canceled"
    assert await _transaction_status(saga, held.payment.id) == "canceled"
    with pytest.raises(IntentNotPayable):  # a late payment cannot be taken
        await saga.payments.checkout(held.payment.id, succeed=True)

    _, again = await start_booking(
        saga, booking_input(provider, await make_customer(saga.db), slot)
    )
    assert again.status == BookingStatus.AWAITING_PAYMENT


async def test_a_second_booking_of_a_held_slot_is_refused_and_leaves_nothing(saga: Saga) -> None:
    provider = await make_provider(saga.db)
    slot = future_local(provider.timezone)
    first = booking_input(provider, await make_customer(saga.db), slot)
    await start_booking(saga, first)

    second = booking_input(provider, await make_customer(saga.db), slot)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await start_booking(saga, second)

    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == SLOT_UNAVAILABLE
    outcome = await saga.client.get_workflow_handle_for(
        BookingWorkflow.run, workflow_id(second.booking_id)
    ).result()
    assert outcome.status == BookingStatus.REJECTED
    async with saga.db.session() as session:
        assert await session.get(Appointment, second.booking_id) is None


async def test_a_payment_that_arrives_after_the_hold_was_lost_is_refunded(saga: Saga) -> None:
    provider = await make_provider(saga.db)
    slot = future_local(provider.timezone)
    booking = booking_input(provider, await make_customer(saga.db), slot)
    handle, held = await start_booking(saga, booking)
    assert held.payment is not None
    # The hold lapsed and another customer's hold swept it before this payment landed.
    async with saga.db.session() as session, session.begin():
        await session.execute(
            update(Appointment)
            .where(Appointment.id == booking.booking_id)
            .values(status=BookingStatus.EXPIRED)
        )
    _, other = await start_booking(
        saga, booking_input(provider, await make_customer(saga.db), slot)
    )
    assert other.status == BookingStatus.AWAITING_PAYMENT

    await pay(saga, handle, held, succeed=True)
    outcome = await handle.result()

    assert outcome.status == BookingStatus.EXPIRED
    intent = await sandbox_intent(saga, held.payment.id)
    assert (intent.status, intent.amount_refunded) == ("succeeded", provider.price)
    assert await _transaction_status(saga, held.payment.id) == "refunded"
    assert (await appointment_row(saga, other.booking_id)).status == BookingStatus.AWAITING_PAYMENT


async def test_a_free_booking_is_confirmed_without_payment(saga: Saga) -> None:
    provider = await make_provider(saga.db, price=0)
    booking = booking_input(provider, await make_customer(saga.db), future_local(provider.timezone))
    _, held = await start_booking(saga, booking)
    assert held.payment is None
    assert held.status in (BookingStatus.CONFIRMED,)
    state = await booking_reads.get_booking(saga.db, booking.booking_id)
    assert state is not None and state.status == BookingStatus.CONFIRMED


async def test_cancelling_the_workflow_undoes_the_hold_and_the_payment(saga: Saga) -> None:
    provider = await make_provider(saga.db)
    booking = booking_input(provider, await make_customer(saga.db), future_local(provider.timezone))
    handle, held = await start_booking(saga, booking)
    assert held.payment is not None

    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()

    assert isinstance(failed.value.cause, CancelledError)
    assert (await appointment_row(saga, booking.booking_id)).status == BookingStatus.CANCELLED
    assert (await sandbox_intent(saga, held.payment.id)).status == "canceled"


async def test_an_event_for_another_payment_intent_does_not_confirm(saga: Saga) -> None:
    provider = await make_provider(saga.db)
    booking = booking_input(provider, await make_customer(saga.db), future_local(provider.timezone))
    handle, held = await start_booking(saga, booking)
    other = booking_input(
        provider, await make_customer(saga.db), future_local(provider.timezone, days_ahead=8)
    )
    other_handle, other_held = await start_booking(saga, other)
    assert other_held.payment is not None and held.payment is not None
    # Deliver the other booking's paid event to this booking: it must be ignored.
    payload, signature = await saga.payments.checkout(other_held.payment.id, succeed=True)
    event = saga.payments.parse_webhook(payload, signature)
    assert event is not None
    await handle.signal(BookingWorkflow.payment_succeeded, event)
    await other_handle.signal(BookingWorkflow.payment_succeeded, event)
    await status_becomes(other_handle, BookingStatus.CONFIRMED)
    assert (await handle.query(BookingWorkflow.state)).status == BookingStatus.AWAITING_PAYMENT


async def test_a_payment_that_cannot_be_voided_still_frees_the_slot_and_flags_the_booking(
    saga: Saga,
) -> None:
    provider = await make_provider(saga.db)
    slot = future_local(provider.timezone)
    booking = booking_input(provider, await make_customer(saga.db), slot)
    handle, held = await start_booking(saga, booking)
    assert held.payment is not None
    # The gateway lost the intent: cancelling it is refused for good when the hold expires.
    async with saga.db.session() as session, session.begin():
        await session.delete(await session.get(SandboxPaymentIntent, held.payment.id))

    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()

    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == COMPENSATION_INCOMPLETE
    assert held.payment.id in failed.value.cause.message
    assert (await appointment_row(saga, booking.booking_id)).status == BookingStatus.EXPIRED
    _, again = await start_booking(
        saga, booking_input(provider, await make_customer(saga.db), slot)
    )
    assert again.status == BookingStatus.AWAITING_PAYMENT
