"""Cancelling, rescheduling, approving and declining bookings, on the time-skipping server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError

from contract.errors import NOT_AWAITING_APPROVAL, NOT_CANCELLABLE, NOT_RESCHEDULABLE
from contract.messages import CancelRequest, Decision, RescheduleRequest
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


async def _confirmed_booking(saga: Saga, *, days_ahead: int = 7):  # type: ignore[no-untyped-def]
    provider = await make_provider(saga.db)
    start = future_local(provider.timezone, days_ahead=days_ahead)
    booking = booking_input(provider, await make_customer(saga.db), start)
    handle, held = await start_booking(saga, booking)
    await pay(saga, handle, held, succeed=True)
    await status_becomes(handle, BookingStatus.CONFIRMED)
    assert held.payment is not None
    return provider, booking, handle, held.payment.id


async def test_cancelling_while_awaiting_payment_voids_the_intent_and_frees_the_slot(
    saga: Saga,
) -> None:
    provider = await make_provider(saga.db)
    slot = future_local(provider.timezone)
    booking = booking_input(provider, await make_customer(saga.db), slot)
    handle, held = await start_booking(saga, booking)
    assert held.payment is not None

    state = await handle.execute_update(
        BookingWorkflow.cancel, CancelRequest(cancelled_by="customer", reason="changed my mind")
    )

    assert state.status == BookingStatus.CANCELLED
    assert (state.reason, state.note) == ("cancelled by the customer", "changed my mind")
    assert state.payment is not None and state.payment.status == "canceled"
    row = await appointment_row(saga, booking.booking_id)
    assert (row.status, row.cancel_reason, row.cancel_note) == (
        BookingStatus.CANCELLED,
        "cancelled by the customer",
        "changed my mind",
    )
    assert (await sandbox_intent(saga, held.payment.id)).status == "canceled"
    _, again = await start_booking(
        saga, booking_input(provider, await make_customer(saga.db), slot)
    )
    assert again.status == BookingStatus.AWAITING_PAYMENT


async def test_a_customer_cancelling_a_day_or_more_ahead_is_refunded(saga: Saga) -> None:
    _, booking, handle, intent_id = await _confirmed_booking(saga, days_ahead=7)

    state = await handle.execute_update(
        BookingWorkflow.cancel, CancelRequest(cancelled_by="customer")
    )

    assert (state.status, state.payment.status if state.payment else None) == (
        BookingStatus.CANCELLED,
        "refunded",
    )
    row = await appointment_row(saga, booking.booking_id)
    assert (row.status, row.cancel_reason) == (BookingStatus.CANCELLED, "cancelled by the customer")
    intent = await sandbox_intent(saga, intent_id)
    assert intent.amount_refunded == intent.amount


async def test_a_customer_cancelling_within_a_day_is_not_refunded(saga: Saga) -> None:
    _, booking, handle, intent_id = await _confirmed_booking(saga, days_ahead=3)
    # Two and a half days pass: the appointment is now under 24 hours away.
    start = booking.start
    await saga.env.sleep(start - await saga.env.get_current_time() - timedelta(hours=12))

    state = await handle.execute_update(
        BookingWorkflow.cancel, CancelRequest(cancelled_by="customer")
    )

    assert state.status == BookingStatus.CANCELLED
    assert state.payment is not None and state.payment.status == "succeeded"
    assert state.reason is not None and "not refunded" in state.reason
    assert (await sandbox_intent(saga, intent_id)).amount_refunded == 0
    assert (await appointment_row(saga, booking.booking_id)).status == BookingStatus.CANCELLED


async def test_a_provider_cancelling_even_at_the_last_minute_refunds(saga: Saga) -> None:
    _, booking, handle, intent_id = await _confirmed_booking(saga, days_ahead=3)
    await saga.env.sleep(booking.start - await saga.env.get_current_time() - timedelta(minutes=70))

    state = await handle.execute_update(
        BookingWorkflow.cancel, CancelRequest(cancelled_by="provider", reason="ill")
    )

    assert state.payment is not None and state.payment.status == "refunded"
    intent = await sandbox_intent(saga, intent_id)
    assert intent.amount_refunded == intent.amount


async def test_a_second_cancellation_is_refused_while_the_first_runs(saga: Saga) -> None:
    _, _, handle, _ = await _confirmed_booking(saga)
    first = await handle.start_update(
        BookingWorkflow.cancel,
        CancelRequest(cancelled_by="customer"),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(BookingWorkflow.cancel, CancelRequest(cancelled_by="admin"))
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == NOT_CANCELLABLE
    assert (await first.result()).reason == "cancelled by the customer"


async def test_without_auto_confirm_a_paid_booking_waits_for_the_provider(saga: Saga) -> None:
    provider = await make_provider(saga.db, auto_confirm=False)
    booking = booking_input(provider, await make_customer(saga.db), future_local(provider.timezone))
    handle, held = await start_booking(saga, booking)
    await pay(saga, handle, held, succeed=True)

    waiting = await status_becomes(handle, BookingStatus.AWAITING_APPROVAL)
    assert waiting.payment is not None and waiting.payment.status == "succeeded"
    row = await appointment_row(saga, booking.booking_id)
    assert row.status == BookingStatus.AWAITING_APPROVAL and row.hold_expires_at is not None

    approved = await handle.execute_update(BookingWorkflow.approve, Decision())
    assert approved.status == BookingStatus.CONFIRMED
    assert (await appointment_row(saga, booking.booking_id)).status == BookingStatus.CONFIRMED
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(BookingWorkflow.decline, Decision())
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == NOT_AWAITING_APPROVAL


async def test_a_declined_booking_is_refunded_and_frees_the_slot(saga: Saga) -> None:
    provider = await make_provider(saga.db, auto_confirm=False)
    booking = booking_input(provider, await make_customer(saga.db), future_local(provider.timezone))
    handle, held = await start_booking(saga, booking)
    assert held.payment is not None
    await pay(saga, handle, held, succeed=True)
    await status_becomes(handle, BookingStatus.AWAITING_APPROVAL)

    declined = await handle.execute_update(BookingWorkflow.decline, Decision(reason="fully booked"))

    assert (declined.status, declined.reason) == (BookingStatus.DECLINED, "fully booked")
    assert (await appointment_row(saga, booking.booking_id)).status == BookingStatus.DECLINED
    intent = await sandbox_intent(saga, held.payment.id)
    assert intent.amount_refunded == intent.amount


async def test_an_unanswered_booking_expires_at_the_deadline_and_is_refunded(saga: Saga) -> None:
    provider = await make_provider(saga.db, auto_confirm=False)
    booking = booking_input(provider, await make_customer(saga.db), future_local(provider.timezone))
    handle, held = await start_booking(saga, booking)
    assert held.payment is not None
    await pay(saga, handle, held, succeed=True)
    await status_becomes(handle, BookingStatus.AWAITING_APPROVAL)

    outcome = await handle.result()  # the 48-hour approval timer fires in skipped time

    assert outcome.status == BookingStatus.EXPIRED
    assert outcome.reason == "the provider did not answer before the deadline"
    intent = await sandbox_intent(saga, held.payment.id)
    assert intent.amount_refunded == intent.amount


async def test_a_free_booking_without_auto_confirm_waits_and_can_be_approved(saga: Saga) -> None:
    provider = await make_provider(saga.db, price=0, auto_confirm=False)
    booking = booking_input(provider, await make_customer(saga.db), future_local(provider.timezone))
    handle, held = await start_booking(saga, booking)
    assert (held.status, held.payment) == (BookingStatus.AWAITING_APPROVAL, None)
    await status_becomes(handle, BookingStatus.AWAITING_APPROVAL)
    approved = await handle.execute_update(BookingWorkflow.approve, Decision())
    assert approved.status == BookingStatus.CONFIRMED


async def test_a_moved_booking_completes_at_its_new_end_not_its_old_one(saga: Saga) -> None:
    """The durable timer follows the reschedule: at the old end the booking is still
    confirmed (and its search attribute shows the new start); it completes after the new end."""
    _, booking, handle, _ = await _confirmed_booking(saga, days_ahead=2)
    later = booking.start + timedelta(days=3)

    state = await handle.execute_update(
        BookingWorkflow.reschedule, RescheduleRequest(start=later, requested_by="provider")
    )
    assert (state.status, state.start) == (BookingStatus.CONFIRMED, later)
    assert (await appointment_row(saga, booking.booking_id)).start_at == later
    described = await handle.describe()
    assert described.typed_search_attributes.get(search_attributes.APPOINTMENT_START) == later

    old_end = booking.start + timedelta(minutes=30)
    await saga.env.sleep(old_end - await saga.env.get_current_time() + timedelta(hours=1))
    assert (await handle.query(BookingWorkflow.state)).status == BookingStatus.CONFIRMED
    assert (await appointment_row(saga, booking.booking_id)).status == BookingStatus.CONFIRMED

    await saga.env.sleep(later - await saga.env.get_current_time() + timedelta(hours=1))
    assert (await handle.result()).status == BookingStatus.COMPLETED


async def test_the_refund_rule_counts_from_the_new_start(saga: Saga) -> None:
    """Moved from two days ahead to ten, a customer cancelling a day before the old time is
    more than a day before the new one: refunded in full."""
    _, booking, handle, intent_id = await _confirmed_booking(saga, days_ahead=2)
    await handle.execute_update(
        BookingWorkflow.reschedule,
        RescheduleRequest(start=booking.start + timedelta(days=8), requested_by="customer"),
    )
    await saga.env.sleep(booking.start - await saga.env.get_current_time() - timedelta(hours=12))

    state = await handle.execute_update(
        BookingWorkflow.cancel, CancelRequest(cancelled_by="customer")
    )
    assert state.payment is not None and state.payment.status == "refunded"
    intent = await sandbox_intent(saga, intent_id)
    assert intent.amount_refunded == intent.amount


async def test_a_reschedule_while_awaiting_payment_is_refused_by_the_validator(
    saga: Saga,
) -> None:
    provider = await make_provider(saga.db)
    slot = future_local(provider.timezone)
    booking = booking_input(provider, await make_customer(saga.db), slot)
    handle, _ = await start_booking(saga, booking)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            BookingWorkflow.reschedule,
            RescheduleRequest(start=slot + timedelta(hours=1), requested_by="customer"),
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == NOT_RESCHEDULABLE
    assert (await appointment_row(saga, booking.booking_id)).start_at == slot
