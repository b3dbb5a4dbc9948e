"""Payment truth: only a success, the deadline or a cancel decides; the gateway has the last
word at the deadline; events count once. On the time-skipping server with real activities."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from contract.errors import NOT_RESCHEDULABLE
from contract.messages import RescheduleRequest
from db.models import PaymentTransaction
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
from workflows.booking import BookingWorkflow


async def test_a_declined_card_keeps_the_booking_waiting_and_a_retry_confirms(saga: Saga) -> None:
    provider = await make_provider(saga.db)
    booking = booking_input(provider, await make_customer(saga.db), future_local(provider.timezone))
    handle, held = await start_booking(saga, booking)
    assert held.payment is not None

    declined = await pay(saga, handle, held, succeed=False)
    waiting = await handle.execute_update(BookingWorkflow.wait_until_seen, declined)
    assert (waiting.status, waiting.payment_failure) == (
        BookingStatus.AWAITING_PAYMENT,
        "Your card was declined.",
    )
    assert (
        await appointment_row(saga, booking.booking_id)
    ).status == BookingStatus.AWAITING_PAYMENT

    await pay(saga, handle, held, succeed=True)  # the same intent, another card
    confirmed = await status_becomes(handle, BookingStatus.CONFIRMED)
    assert confirmed.payment_failure is None
    assert (await appointment_row(saga, booking.booking_id)).status == BookingStatus.CONFIRMED


async def test_declined_until_the_deadline_expires_and_cancels_the_intent(saga: Saga) -> None:
    provider = await make_provider(saga.db)
    booking = booking_input(provider, await make_customer(saga.db), future_local(provider.timezone))
    handle, held = await start_booking(saga, booking)
    assert held.payment is not None
    await pay(saga, handle, held, succeed=False)

    outcome = await handle.result()

    assert outcome.status == BookingStatus.EXPIRED
    assert (await appointment_row(saga, booking.booking_id)).status == BookingStatus.EXPIRED
    assert (await sandbox_intent(saga, held.payment.id)).status == "canceled"


async def test_a_payment_whose_webhook_never_came_confirms_at_the_deadline(saga: Saga) -> None:
    """The customer paid in time; the event was lost (or will come late). At the deadline the
    workflow asks the gateway, which says succeeded: confirmed, not expired and refunded."""
    provider = await make_provider(saga.db)
    booking = booking_input(provider, await make_customer(saga.db), future_local(provider.timezone))
    handle, held = await start_booking(saga, booking)
    assert held.payment is not None
    await saga.payments.checkout(held.payment.id, succeed=True)  # paid; no webhook delivered

    await saga.env.sleep(held.hold_expires_at - await saga.env.get_current_time())  # type: ignore[operator]
    confirmed = await status_becomes(handle, BookingStatus.CONFIRMED)

    assert confirmed.payment is not None and confirmed.payment.status == "succeeded"
    assert (await sandbox_intent(saga, held.payment.id)).amount_refunded == 0
    async with saga.db.session() as session:
        status = await session.scalar(
            select(PaymentTransaction.status).where(PaymentTransaction.intent_id == held.payment.id)
        )
    assert status == "succeeded"


async def test_a_repeated_event_counts_once(saga: Saga) -> None:
    provider = await make_provider(saga.db)
    booking = booking_input(provider, await make_customer(saga.db), future_local(provider.timezone))
    handle, held = await start_booking(saga, booking)
    assert held.payment is not None
    failed = await pay(saga, handle, held, succeed=False)
    for _ in range(3):
        await handle.signal(BookingWorkflow.payment_failed, failed)
    await handle.execute_update(BookingWorkflow.wait_until_seen, failed)
    events = await handle.query(BookingWorkflow.payment_events)
    assert [e.event_id for e in events] == [failed.event_id]


async def test_a_move_is_refused_once_the_appointment_has_started(saga: Saga) -> None:
    provider = await make_provider(saga.db)
    start = future_local(provider.timezone, days_ahead=2)
    booking = booking_input(provider, await make_customer(saga.db), start)
    handle, held = await start_booking(saga, booking)
    await pay(saga, handle, held, succeed=True)
    await status_becomes(handle, BookingStatus.CONFIRMED)
    await saga.env.sleep(start - await saga.env.get_current_time())

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            BookingWorkflow.reschedule,
            RescheduleRequest(start=start + timedelta(days=1), requested_by="customer"),
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == NOT_RESCHEDULABLE
    assert "started" in refused.value.cause.message
