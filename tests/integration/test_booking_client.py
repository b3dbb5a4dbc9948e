"""BookingClient never waits without bound: slow work answers with the state so far, a booking
nobody serves is the engine's unavailability, and reads fall back to the database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from temporalio import activity
from temporalio.worker import Worker

from activities.booking import BookingActivities
from contract.messages import CancelRequest, PaymentVoid, VoidPaymentRequest
from db import booking_reads
from domain.booking_state import BookingStatus
from tests.factories import future_local, make_customer, make_provider
from tests.integration.api_helpers import api_without_temporal, book, sign_up
from tests.temporal_fixtures import Saga, running
from tests.workflows.helpers import booking_input, start_workflow, status_becomes
from workflows.booking import BookingWorkflow
from workflows.client import BookingClient, BookingEngineUnavailable

SLOW_GATEWAY = 2.0


async def test_a_cancel_while_the_gateway_is_slow_answers_with_cancelling_then_refunds(
    saga: Saga,
) -> None:
    activities = BookingActivities(saga.db, saga.payments)

    @activity.defn(name="void_payment")
    async def slow_void(request: VoidPaymentRequest) -> PaymentVoid:
        await asyncio.sleep(SLOW_GATEWAY)
        return await activities.void_payment(request)

    task_queue = f"slow-{uuid.uuid4()}"
    real = [a for a in activities.all() if a != activities.void_payment]
    provider = await make_provider(saga.db)
    booking = booking_input(provider, await make_customer(saga.db), future_local(provider.timezone))
    worker = Worker(
        saga.client,
        task_queue=task_queue,
        workflows=[BookingWorkflow],
        activities=[slow_void, *real],
    )
    async with running(worker):
        client = BookingClient(
            saga.client, task_queue, answer_within=timedelta(seconds=SLOW_GATEWAY / 4)
        )
        held = await client.book(booking, join=False, summary="test")
        assert held.status == BookingStatus.AWAITING_PAYMENT

        answer = await client.cancel(booking.booking_id, CancelRequest(cancelled_by="customer"))

        assert not answer.finished
        assert answer.state.status == BookingStatus.CANCELLING
        handle = saga.client.get_workflow_handle_for(
            BookingWorkflow.run, f"booking-{booking.booking_id}"
        )
        ended = await status_becomes(handle, BookingStatus.CANCELLED)
        assert ended.payment is not None and ended.payment.status == "canceled"


async def test_an_update_nobody_takes_is_the_engines_unavailability(saga: Saga) -> None:
    provider = await make_provider(saga.db)
    booking = booking_input(provider, await make_customer(saga.db), future_local(provider.timezone))
    # A booking on a task queue no worker polls: started, but nobody runs it.
    unserved = saga.__class__(
        saga.env, saga.client, f"nobody-{uuid.uuid4()}", saga.db, saga.payments
    )
    await start_workflow(unserved, booking)
    client = BookingClient(saga.client, unserved.task_queue, accept_within=timedelta(seconds=0.5))
    with pytest.raises(BookingEngineUnavailable):
        await client.cancel(booking.booking_id, CancelRequest(cancelled_by="customer"))
    # A change asks the live state first and hears 'unavailable' there, in one wait; a read
    # hears None and falls back to the database.
    with pytest.raises(BookingEngineUnavailable):
        await client.live_state(booking.booking_id)
    assert await client.state(booking.booking_id) is None


async def test_reads_fall_back_to_the_database_while_temporal_is_down(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    customer = await sign_up(api)
    booked = await book(
        api,
        customer,
        provider.service_id,
        future_local(provider.timezone),
        timezone="Europe/Berlin",
    )
    assert booked["start"].endswith("+01:00")  # Berlin in winter

    async with api_without_temporal(api) as client:
        read = await client.get(f"/appointments/{booked['id']}", headers=customer)
        cancel = await client.put(f"/appointments/{booked['id']}/cancel", headers=customer)
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "awaiting_payment"
    # Shown in the zone the booking was made in, from the database too.
    assert read.json()["start"] == booked["start"]
    assert cancel.status_code == 503 and cancel.headers["Retry-After"], cancel.text
    stored = await booking_reads.get_booking(saga.db, uuid.UUID(booked["id"]))
    assert stored is not None and stored.status == BookingStatus.AWAITING_PAYMENT


async def test_a_cancel_reason_of_500_characters_is_kept_and_501_refused(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    """The reason went into a 500-character column after 'cancelled by the customer: ', so on
    PostgreSQL the release failed and was retried forever; now it is a note of its own."""
    provider = await make_provider(saga.db)
    customer = await sign_up(api)
    booked = await book(api, customer, provider.service_id, future_local(provider.timezone))
    url = f"/appointments/{booked['id']}/cancel"

    too_long = await api.put(url, json={"reason": "x" * 501}, headers=customer)
    assert too_long.status_code == 422 and too_long.json()["code"] == "validation_error"

    cancelled = await api.put(url, json={"reason": "é" * 500}, headers=customer)
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["note"]) == ("cancelled", "é" * 500)
    stored = await booking_reads.get_booking(saga.db, uuid.UUID(booked["id"]))
    assert stored is not None and (stored.status, stored.note) == ("cancelled", "é" * 500)
