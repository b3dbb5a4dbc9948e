"""The payment webhook through the real app: each event once, late payments refunded, events
that are not ours acknowledged; and the history a booking ends with stays bounded."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from uuid import UUID

import httpx
from sqlalchemy import select, update

from activities.payments import events
from contract.notifications import Kind
from db.models import Notification, PaymentEvent, SandboxPaymentIntent
from domain.booking_state import BookingStatus
from tests.factories import future_local, make_provider
from tests.integration.api_helpers import assert_error, sign_up
from tests.temporal_fixtures import Saga
from tests.workflows.helpers import sandbox_intent
from workflows.booking import BookingWorkflow
from workflows.client import workflow_id

SECRET = "whsec_dev_only_not_secret"
# A booking that was paid, moved the most times allowed and sent the paid event 101 times ends
# with at most this many history events: a plain paid and completed booking has about 66 (its
# messages, reminders and calendar step included), each move about 25 (the move, its message,
# its calendar step, the reminders re-armed), and the 100 repeats none: 324 measured.
BOUNDED_HISTORY = 340


async def _booked(api: httpx.AsyncClient, saga: Saga, **provider: object) -> tuple[dict, dict]:  # type: ignore[type-arg]
    made = await make_provider(saga.db, **provider)  # type: ignore[arg-type]
    customer = await sign_up(api)
    response = await api.post(
        "/appointments",
        json={
            "service_id": str(made.service_id),
            "start": future_local(made.timezone, days_ahead=20).isoformat(),
        },
        headers=customer,
    )
    assert response.status_code == 201, response.text
    return customer, response.json()


async def _outcome(saga: Saga, booking_id: str, after: timedelta) -> BookingStatus:
    """Skip `after` of time, then the booking's outcome once its workflow has closed."""
    handle = saga.client.get_workflow_handle_for(BookingWorkflow.run, workflow_id(booking_id))
    await saga.env.sleep(after)
    for _ in range(200):
        if (await handle.describe()).close_time is not None:
            break
        await asyncio.sleep(0.05)
    return (await handle.result()).status


async def _webhook(api: httpx.AsyncClient, payload: bytes) -> httpx.Response:
    return await api.post(
        "/payments/webhook",
        content=payload,
        headers={"Stripe-Signature": events.sign(payload, SECRET)},
    )


async def test_100_repeats_of_a_webhook_signal_nothing_and_the_history_stays_bounded(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    customer, booking = await _booked(api, saga)
    payload, _ = await saga.payments.checkout(booking["payment"]["intent_id"], succeed=True)

    first = await _webhook(api, payload)
    assert first.status_code == 200 and first.json()["duplicate"] is False, first.text
    for _ in range(100):
        again = await _webhook(api, payload)
        assert again.status_code == 200, again.text
        assert again.json()["duplicate"] is True and again.json()["handled"] is True
    async with saga.db.session() as session:
        kept = (await session.scalars(select(PaymentEvent))).all()
    event_id = json.loads(payload)["id"]
    assert [e.event_id for e in kept if e.event_id == event_id] == [event_id]

    handle = saga.client.get_workflow_handle_for(BookingWorkflow.run, workflow_id(booking["id"]))
    start = future_local("America/New_York", days_ahead=20)
    for day in range(1, 11):
        moved = await api.post(
            f"/appointments/{booking['id']}/reschedule",
            json={"start": (start + timedelta(days=day)).isoformat()},
            headers=customer,
        )
        assert moved.status_code == 200, moved.text
    assert_error(
        await api.post(
            f"/appointments/{booking['id']}/reschedule",
            json={"start": (start + timedelta(days=11)).isoformat()},
            headers=customer,
        ),
        409,
        "reschedule_limit_reached",
    )
    assert await _outcome(saga, booking["id"], timedelta(days=40)) == BookingStatus.COMPLETED

    history = await handle.fetch_history()
    signals = [
        e for e in history.events if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert len(signals) == 1
    assert len(history.events) <= BOUNDED_HISTORY, len(history.events)


async def test_a_verified_event_that_is_not_a_bookings_is_acknowledged(
    api: httpx.AsyncClient,
) -> None:
    body = json.dumps(
        {
            "id": "evt_other_app",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {
                "object": {"id": "pi_other", "amount": 100, "currency": "usd", "metadata": {}}
            },
        }
    ).encode()
    response = await _webhook(api, body)
    assert response.status_code == 200, response.text
    assert response.json()["handled"] is False


async def test_a_payment_that_lands_after_the_booking_closed_is_refunded_once(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    _, booking = await _booked(api, saga)
    # Nobody paid in time.
    assert await _outcome(saga, booking["id"], timedelta(hours=1)) == BookingStatus.EXPIRED
    intent_id = booking["payment"]["intent_id"]
    # The gateway took the money after all (a payment that was processing when it expired).
    async with saga.db.session() as session, session.begin():
        await session.execute(
            update(SandboxPaymentIntent)
            .where(SandboxPaymentIntent.id == intent_id)
            .values(status="succeeded")
        )
    payload = saga.payments._event(  # the event the gateway sends for it
        (await _sandbox_row(saga, intent_id)), succeed=True
    )

    refunding = await _webhook(api, payload)
    assert refunding.status_code == 200, refunding.text
    assert "refunded" in refunding.json()["detail"]
    for _ in range(100):
        if (await sandbox_intent(saga, intent_id)).amount_refunded:
            break
        await asyncio.sleep(0.05)
    assert (await sandbox_intent(saga, intent_id)).amount_refunded == booking["price"]["amount"]

    repeat = await _webhook(api, payload)
    assert repeat.json()["duplicate"] is True
    late = saga.client.get_workflow_handle(f"late-payment-{intent_id}")
    await late.result()
    # The customer hears that the money went back, once (the repeat started no second refund).
    async with saga.db.session() as session:
        told = list(
            await session.scalars(
                select(Notification).where(
                    Notification.appointment_id == UUID(booking["id"]),
                    Notification.kind == Kind.LATE_PAYMENT_REFUNDED,
                )
            )
        )
    assert [(m.channel, m.status) for m in told] == [("email", "sent")], told
    assert "arrived after the booking had ended" in (told[0].body_text or "")
    assert "Your payment of USD 50.00 is refunded." in (told[0].body_text or "")


async def test_a_late_event_for_a_booking_confirmed_with_that_payment_is_not_refunded(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    customer, booking = await _booked(api, saga)
    intent_id = booking["payment"]["intent_id"]
    paid = await api.post(f"/sandbox/payments/{intent_id}/succeed", headers=customer)
    assert paid.json()["booking"]["status"] == "confirmed", paid.text
    assert await _outcome(saga, booking["id"], timedelta(days=40)) == BookingStatus.COMPLETED

    # Another delivery of the success under a new event id, after the workflow has closed.
    event = json.loads(saga.payments._event(await _sandbox_row(saga, intent_id), succeed=True))
    response = await _webhook(api, json.dumps(event | {"id": "evt_redelivered"}).encode())

    assert response.status_code == 200, response.text
    assert "confirmed with this payment" in response.json()["detail"]
    assert (await sandbox_intent(saga, intent_id)).amount_refunded == 0


async def test_the_sandbox_checkout_pays_only_for_the_bookings_customer(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    _, booking = await _booked(api, saga)
    intent_id = booking["payment"]["intent_id"]
    assert_error(await api.post(f"/sandbox/payments/{intent_id}/succeed"), 401, "not_authenticated")
    stranger = await sign_up(api)
    assert_error(
        await api.post(f"/sandbox/payments/{intent_id}/succeed", headers=stranger),
        404,
        "payment_not_found",
    )
    assert (await sandbox_intent(saga, intent_id)).status == "requires_payment_method"


async def _sandbox_row(saga: Saga, intent_id: str):  # type: ignore[no-untyped-def]
    from activities.payments.sandbox import _Intent

    intent = await sandbox_intent(saga, intent_id)
    return _Intent(intent.id, intent.amount, intent.currency, intent.status, intent.booking_id)


def _uuid(value: str) -> UUID:
    return UUID(value)
