"""Booking over HTTP: the real app and a real worker on the time-skipping server."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select, update
from temporalio.client import Client

from activities.payments import events
from db import booking_reads
from db.models import Appointment
from domain.booking_state import BookingStatus
from tests.factories import future_local, make_provider
from tests.integration.api_helpers import api_without_temporal, assert_error, sign_up
from tests.temporal_fixtures import Saga


async def _book(
    api: httpx.AsyncClient, headers: dict[str, str], service_id: object, start: str
) -> httpx.Response:
    return await api.post(
        "/appointments", json={"service_id": str(service_id), "start": start}, headers=headers
    )


async def test_book_pay_and_read_the_confirmed_booking(api: httpx.AsyncClient, saga: Saga) -> None:
    provider = await make_provider(saga.db)
    customer = await sign_up(api)
    start = future_local(provider.timezone)

    booked = await _book(api, customer, provider.service_id, start.isoformat())
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert body["status"] == "awaiting_payment"
    assert body["price"] == {"amount": 5000, "currency": "USD"}
    assert body["hold_expires_at"] is not None
    assert body["payment"]["gateway"] == "sandbox" and body["payment"]["client_secret"]

    paid = await api.post(
        f"/sandbox/payments/{body['payment']['intent_id']}/succeed", headers=customer
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["webhook"]["body"]["handled"] is True
    assert paid.json()["booking"] == {
        "id": body["id"],
        "status": "confirmed",
        "payment_failure": None,
    }

    # The checkout returns once the booking has acted on the payment: no polling needed.
    read = await api.get(f"/appointments/{body['id']}", headers=customer)
    assert read.status_code == 200 and read.json()["status"] == "confirmed", read.text
    assert read.json()["payment"]["status"] == "succeeded"
    # What a cancel would refund, as the booking itself will decide it: 24 h before the start.
    refund_until = datetime.fromisoformat(read.json()["refund_until"])
    assert refund_until == start - timedelta(hours=24)
    assert body["refund_until"] is None  # not confirmed yet: nothing to keep or lose
    declined = await _book(
        api, customer, provider.service_id, (start + timedelta(hours=1)).isoformat()
    )
    failed = await api.post(
        f"/sandbox/payments/{declined.json()['payment']['intent_id']}/fail", headers=customer
    )
    # A declined card keeps the booking waiting for another attempt.
    assert failed.json()["booking"]["status"] == "awaiting_payment", failed.text
    assert failed.json()["booking"]["payment_failure"] == "Your card was declined."
    waiting = (await api.get(f"/appointments/{declined.json()['id']}", headers=customer)).json()
    assert waiting["payment_failure"] == "Your card was declined."
    assert waiting["payment"]["client_secret"]


async def test_times_are_answered_in_the_zone_the_customer_asks_for(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    customer = await sign_up(api)
    start = future_local(provider.timezone)
    booked = await api.post(
        "/appointments",
        json={
            "service_id": str(provider.service_id),
            "start": start.isoformat(),
            "timezone": "Asia/Tokyo",
        },
        headers=customer,
    )
    assert booked.status_code == 201, booked.text
    shown = booked.json()["start"]
    assert shown.endswith("+09:00")
    from datetime import datetime

    assert datetime.fromisoformat(shown) == start


async def test_a_second_booking_of_the_same_slot_gets_409(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    start = future_local(provider.timezone).isoformat()
    first = await _book(api, await sign_up(api), provider.service_id, start)
    assert first.status_code == 201
    second = await _book(api, await sign_up(api), provider.service_id, start)
    assert_error(second, 409, "slot_unavailable")


async def test_another_customers_booking_is_not_found(api: httpx.AsyncClient, saga: Saga) -> None:
    provider = await make_provider(saga.db)
    owner = await sign_up(api)
    booked = await _book(
        api, owner, provider.service_id, future_local(provider.timezone).isoformat()
    )
    stranger = await sign_up(api)
    assert_error(
        await api.get(f"/appointments/{booked.json()['id']}", headers=stranger),
        404,
        "appointment_not_found",
    )
    assert (await api.get(f"/appointments/{booked.json()['id']}", headers=owner)).status_code == 200


async def test_bad_booking_requests_get_clear_4xx(api: httpx.AsyncClient, saga: Saga) -> None:
    provider = await make_provider(saga.db)
    customer = await sign_up(api)
    service = str(provider.service_id)
    assert_error(
        await api.post(
            "/appointments", json={"service_id": service, "start": "2030-01-07T10:00:00-05:00"}
        ),
        401,
        "not_authenticated",
    )
    naive = assert_error(
        await _book(api, customer, service, "2030-01-07T10:00:00"), 422, "validation_error"
    )
    assert "start" in naive["detail"] and "timezone" in naive["detail"]
    assert_error(await _book(api, customer, service, "next tuesday"), 422, "validation_error")
    assert_error(
        await _book(api, customer, "not-a-uuid", "2030-01-07T10:00:00-05:00"),
        422,
        "validation_error",
    )
    assert_error(
        await _book(
            api, customer, "00000000-0000-4000-8000-000000000000", "2030-01-07T10:00:00-05:00"
        ),
        404,
        "service_not_found",
    )
    zone = await api.post(
        "/appointments",
        json={
            "service_id": service,
            "start": "2030-01-07T10:00:00-05:00",
            "timezone": "Mars/Olympus",
        },
        headers=customer,
    )
    assert "Mars/Olympus" in assert_error(zone, 422, "validation_error")["detail"]
    assert_error(
        await api.post(
            "/appointments",
            content=b"{not json",
            headers=customer | {"Content-Type": "application/json"},
        ),
        422,
        "validation_error",
    )
    assert_error(
        await api.get("/appointments/not-a-uuid", headers=customer), 422, "validation_error"
    )
    assert_error(
        await api.get("/appointments/00000000-0000-4000-8000-000000000000", headers=customer),
        404,
        "appointment_not_found",
    )
    assert_error(
        await api.get(
            "/appointments/00000000-0000-4000-8000-000000000000",
            headers={"Authorization": "Bearer forged"},
        ),
        401,
        "invalid_token",
    )


async def test_forged_or_malformed_webhooks_get_400_and_change_nothing(
    api: httpx.AsyncClient, saga: Saga, settings: object
) -> None:
    provider = await make_provider(saga.db)
    customer = await sign_up(api)
    booked = (
        await _book(api, customer, provider.service_id, future_local(provider.timezone).isoformat())
    ).json()
    intent = booked["payment"]["intent_id"]
    paid_intent = {
        "id": intent,
        "amount": 5000,
        "currency": "usd",
        "metadata": {"booking_id": booked["id"]},
    }
    event = {
        "id": "evt_forged",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": paid_intent},
    }
    payload = json.dumps(event).encode()
    wrong_secret = events.sign(payload, "whsec_attacker")
    stale = events.sign(payload, "whsec_dev_only_not_secret", timestamp=int(time.time()) - 3600)

    for headers in (
        {},
        {"Stripe-Signature": wrong_secret},
        {"Stripe-Signature": stale},
        {"Stripe-Signature": "garbage"},
    ):
        assert_error(
            await api.post("/payments/webhook", content=payload, headers=headers),
            400,
            "invalid_webhook",
        )
    # Correctly signed but not an event: refused. An event missing its booking is genuine but
    # not ours: acknowledged (a 400 would have the gateway retry it for days), and ignored.
    body = b"[1, 2]"
    signed = events.sign(body, "whsec_dev_only_not_secret")
    assert_error(
        await api.post("/payments/webhook", content=body, headers={"Stripe-Signature": signed}),
        400,
        "invalid_webhook",
    )
    body = json.dumps({**event, "data": {"object": {"id": intent}}}).encode()
    signed = events.sign(body, "whsec_dev_only_not_secret")
    response = await api.post(
        "/payments/webhook", content=body, headers={"Stripe-Signature": signed}
    )
    assert response.status_code == 200 and response.json()["handled"] is False, response.text

    state = await booking_reads.get_booking(saga.db, __import__("uuid").UUID(booked["id"]))
    assert state is not None and state.status == BookingStatus.AWAITING_PAYMENT
    assert (await api.get(f"/appointments/{booked['id']}", headers=customer)).json()[
        "status"
    ] == "awaiting_payment"


async def test_a_signed_event_of_another_type_is_acknowledged_and_ignored(
    api: httpx.AsyncClient,
) -> None:
    body = json.dumps(
        {"id": "evt_1", "object": "event", "type": "customer.created", "data": {"object": {}}}
    ).encode()
    response = await api.post(
        "/payments/webhook",
        content=body,
        headers={"Stripe-Signature": events.sign(body, "whsec_dev_only_not_secret")},
    )
    assert response.status_code == 200 and response.json()["handled"] is False


async def test_the_sandbox_checkout_repeats_a_paid_intent_and_refuses_unknown_and_void_ones(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    customer = await sign_up(api)
    booked = (
        await _book(api, customer, provider.service_id, future_local(provider.timezone).isoformat())
    ).json()
    pay = f"/sandbox/payments/{booked['payment']['intent_id']}/succeed"
    first = await api.post(pay, headers=customer)
    assert first.status_code == 200 and first.json()["booking"]["status"] == "confirmed"

    # Paying again (the first answer lost, say) sends the same event: taken once, no harm.
    again = await api.post(pay, headers=customer)
    assert again.status_code == 200, again.text
    assert again.json()["webhook"]["body"]["duplicate"] is True
    assert again.json()["booking"]["status"] == "confirmed"

    other = (
        await _book(
            api,
            customer,
            provider.service_id,
            future_local(provider.timezone, days_ahead=9).isoformat(),
        )
    ).json()
    cancel = await api.put(f"/appointments/{other['id']}/cancel", headers=customer)
    assert cancel.json()["status"] == "cancelled", cancel.text
    assert_error(
        await api.post(
            f"/sandbox/payments/{other['payment']['intent_id']}/succeed", headers=customer
        ),
        409,
        "payment_not_payable",
    )
    assert_error(
        await api.post("/sandbox/payments/pi_nope/succeed", headers=customer),
        404,
        "payment_not_found",
    )


async def test_a_checkout_cut_off_by_a_temporal_outage_confirms_when_repeated(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    """The card is charged and the event kept, but the booking cannot be told: 503. Paying again
    delivers the kept event, so the booking confirms now, not at its deadline."""
    provider = await make_provider(saga.db)
    customer = await sign_up(api)
    booked = (
        await _book(api, customer, provider.service_id, future_local(provider.timezone).isoformat())
    ).json()
    pay = f"/sandbox/payments/{booked['payment']['intent_id']}/succeed"
    async with api_without_temporal(api) as down:
        cut_off = await down.post(pay, headers=customer)
    assert_error(cut_off, 503, "booking_engine_unavailable")
    assert cut_off.headers["Retry-After"]

    again = await api.post(pay, headers=customer)

    assert again.status_code == 200, again.text
    assert again.json()["webhook"]["body"]["duplicate"] is False
    assert again.json()["booking"]["status"] == "confirmed"


async def test_health_and_readiness(api: httpx.AsyncClient) -> None:
    assert (await api.get("/health")).json() == {"status": "ok"}
    ready = await api.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "database": "ok", "temporal": "ok"}


async def test_a_crowd_for_one_slot_starts_one_workflow_and_the_rest_get_409(
    api: httpx.AsyncClient, saga: Saga, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = await make_provider(saga.db)
    start = future_local(provider.timezone).isoformat()
    customers = [await sign_up(api) for _ in range(12)]
    started = 0
    execute = Client.execute_update_with_start_workflow

    async def counting(self: Client, *args: Any, **kwargs: Any) -> Any:
        nonlocal started
        started += 1
        return await execute(self, *args, **kwargs)

    monkeypatch.setattr(Client, "execute_update_with_start_workflow", counting)

    answers = await asyncio.gather(
        *(_book(api, customer, provider.service_id, start) for customer in customers)
    )

    assert sorted(a.status_code for a in answers) == [201] + [409] * 11
    for refused in (a for a in answers if a.status_code == 409):
        assert_error(refused, 409, "slot_unavailable")
    # Those queued behind the winner saw the slot taken without starting a workflow.
    assert started == 1


async def test_a_lapsed_hold_does_not_turn_a_new_booking_away(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    start = future_local(provider.timezone).isoformat()
    first = await _book(api, await sign_up(api), provider.service_id, start)
    assert first.status_code == 201, first.text
    async with saga.db.session() as session, session.begin():
        await session.execute(
            update(Appointment)
            .where(Appointment.id == UUID(first.json()["id"]))
            .values(hold_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    again = await _book(api, await sign_up(api), provider.service_id, start)

    assert again.status_code == 201, again.text
    assert again.json()["status"] == "awaiting_payment"


async def _book_keyed(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    service_id: object,
    start: str,
    key: str | bytes,
) -> httpx.Response:
    return await api.post(
        "/appointments",
        json={"service_id": str(service_id), "start": start},
        headers=[*headers.items(), ("Idempotency-Key", key)],
    )


async def test_a_repeated_idempotency_key_returns_the_booking_it_made(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    """A client that lost the answer sends the request again: it gets its own booking back,
    not a 409 for the slot its first request holds, and not a second booking."""
    provider = await make_provider(saga.db)
    customer = await sign_up(api)
    start = future_local(provider.timezone).isoformat()

    # Two at once (the retry overtakes the first answer) and one after.
    first, second = await asyncio.gather(
        _book_keyed(api, customer, provider.service_id, start, "order-17"),
        _book_keyed(api, customer, provider.service_id, start, "order-17"),
    )
    third = await _book_keyed(api, customer, provider.service_id, start, "order-17")
    for response in (first, second, third):
        assert response.status_code == 201, response.text
    booked = first.json()
    assert second.json()["id"] == third.json()["id"] == booked["id"]
    assert third.json()["payment"]["intent_id"] == booked["payment"]["intent_id"]
    async with saga.db.session() as session:
        rows = await session.scalars(
            select(Appointment).where(Appointment.customer_id == UUID(booked["customer_id"]))
        )
        assert [str(a.id) for a in rows] == [booked["id"]]

    # Without the key, the same request is another customer's race for the slot: 409.
    assert_error(await _book(api, customer, provider.service_id, start), 409, "slot_unavailable")
    # Once paid, the key still answers with the booking as it is now.
    await api.post(f"/sandbox/payments/{booked['payment']['intent_id']}/succeed", headers=customer)
    again = await _book_keyed(api, customer, provider.service_id, start, "order-17")
    assert again.status_code == 201 and again.json()["status"] == "confirmed", again.text


async def test_an_idempotency_key_names_one_request_of_one_customer(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    customer, other = await sign_up(api), await sign_up(api)
    start = future_local(provider.timezone)
    later = (start + timedelta(hours=1)).isoformat()

    booked = await _book_keyed(api, customer, provider.service_id, start.isoformat(), "k-1")
    assert booked.status_code == 201, booked.text
    # The same key for a different slot is a client bug: refused, and nothing changes.
    reused = await _book_keyed(api, customer, provider.service_id, later, "k-1")
    assert_error(reused, 422, "idempotency_key_reused")
    read = await api.get(f"/appointments/{booked.json()['id']}", headers=customer)
    assert read.json()["status"] == "awaiting_payment"
    assert read.json()["start"] == booked.json()["start"]
    # Another customer's "k-1" is theirs: a booking of its own.
    theirs = await _book_keyed(api, other, provider.service_id, later, "k-1")
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != booked.json()["id"]
    # A refused request may be sent again with its key: it is decided again.
    taken = await _book_keyed(api, customer, provider.service_id, later, "k-2")
    assert_error(taken, 409, "slot_unavailable")
    assert_error(
        await _book_keyed(api, customer, provider.service_id, later, "k-2"), 409, "slot_unavailable"
    )

    for bad in ("", "x" * 256, "a\tb", "naïve".encode("latin-1")):
        response = await _book_keyed(api, customer, provider.service_id, later, bad)
        assert_error(response, 422, "invalid_idempotency_key")


async def test_customers_racing_with_their_own_keys_get_one_winner(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    """Keys only ever join their own booking: a crowd of keyed requests for one slot still has
    exactly one winner, and every other customer gets 409."""
    provider = await make_provider(saga.db)
    customers = [await sign_up(api) for _ in range(8)]
    start = future_local(provider.timezone).isoformat()
    answers = await asyncio.gather(
        *(
            _book_keyed(api, customer, provider.service_id, start, "same-text-for-everyone")
            for customer in customers
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 7, [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert_error(answer, 409, "slot_unavailable")


async def _booked_and_paid(
    api: httpx.AsyncClient, customer: dict[str, str], service_id: object, start: datetime
) -> dict[str, Any]:
    booked = await _book(api, customer, service_id, start.isoformat())
    assert booked.status_code == 201, booked.text
    paid = await api.post(
        f"/sandbox/payments/{booked.json()['payment']['intent_id']}/succeed", headers=customer
    )
    assert paid.json()["booking"]["status"] == "confirmed", paid.text
    body: dict[str, Any] = booked.json()
    return body


async def _free_starts(api: httpx.AsyncClient, provider: Any, day: datetime) -> set[datetime]:
    answer = await api.get(
        f"/providers/{provider.provider_id}/availability",
        params={
            "service_id": str(provider.service_id),
            "from": str(day.date()),
            "to": str(day.date()),
        },
    )
    assert answer.status_code == 200, answer.text
    return {datetime.fromisoformat(s["start"]) for s in answer.json()["slots"]}


async def test_a_confirmed_booking_moves_to_a_free_time_and_frees_the_old_one(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    customer = await sign_up(api)
    start = future_local(provider.timezone)
    later = start + timedelta(hours=4)  # 14:00, after the lunch break
    booking = await _booked_and_paid(api, customer, provider.service_id, start)

    moved = await api.post(
        f"/appointments/{booking['id']}/reschedule",
        json={"start": later.isoformat(), "timezone": provider.timezone},
        headers=customer,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "confirmed"
    assert datetime.fromisoformat(moved.json()["start"]) == later
    assert datetime.fromisoformat(moved.json()["end"]) == later + timedelta(minutes=30)
    # The workflow and the database agree, and the old time is offered again, the new one not.
    read = await api.get(f"/appointments/{booking['id']}", headers=customer)
    assert datetime.fromisoformat(read.json()["start"]) == later
    # Moved well ahead of the no-refund window: the deadline follows the new start.
    assert datetime.fromisoformat(read.json()["refund_until"]) == later - timedelta(hours=24)
    stored = await booking_reads.get_booking(saga.db, UUID(booking["id"]))
    assert stored is not None and stored.start == later and stored.status == "confirmed"
    free = await _free_starts(api, provider, start)
    assert start in free and later not in free
    # Someone else can now book the old time.
    other = await sign_up(api)
    assert (await _book(api, other, provider.service_id, start.isoformat())).status_code == 201

    # Moving back and forth inside its own old span is not blocked by itself.
    half_past = later + timedelta(minutes=30)
    again = await api.post(
        f"/appointments/{booking['id']}/reschedule",
        json={"start": half_past.isoformat()},
        headers=customer,
    )
    assert again.status_code == 200, again.text
    assert datetime.fromisoformat(again.json()["start"]) == half_past


async def test_a_move_to_a_taken_or_unbookable_time_changes_nothing(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    customer, other = await sign_up(api), await sign_up(api)
    start = future_local(provider.timezone)
    booking = await _booked_and_paid(api, customer, provider.service_id, start)
    taken = start + timedelta(hours=1)
    assert (await _book(api, other, provider.service_id, taken.isoformat())).status_code == 201
    url = f"/appointments/{booking['id']}/reschedule"

    async def move(to: datetime, who: dict[str, str] = customer) -> httpx.Response:
        return await api.post(url, json={"start": to.isoformat()}, headers=who)

    assert_error(await move(taken), 409, "slot_unavailable")
    assert_error(await move(start + timedelta(minutes=10)), 422, "off_grid")
    assert_error(await move(start.replace(hour=20)), 422, "outside_working_hours")
    assert_error(await move(start - timedelta(days=30)), 422, "too_soon")
    # Someone else's booking is not theirs to move (nor to see).
    assert_error(await move(start + timedelta(hours=2), other), 404, "appointment_not_found")
    naive = await api.post(url, json={"start": "2030-01-01T10:00:00"}, headers=customer)
    assert_error(naive, 422, "validation_error")

    read = await api.get(f"/appointments/{booking['id']}", headers=customer)
    assert datetime.fromisoformat(read.json()["start"]) == start
    assert start not in await _free_starts(api, provider, start)


async def test_only_a_confirmed_booking_can_be_rescheduled(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    customer = await sign_up(api)
    start = future_local(provider.timezone)
    unpaid = await _book(api, customer, provider.service_id, start.isoformat())
    assert unpaid.status_code == 201, unpaid.text
    url = f"/appointments/{unpaid.json()['id']}/reschedule"
    later = {"start": (start + timedelta(hours=1)).isoformat()}
    assert_error(await api.post(url, json=later, headers=customer), 409, "not_reschedulable")

    cancelled = await api.put(f"/appointments/{unpaid.json()['id']}/cancel", headers=customer)
    assert cancelled.status_code == 200, cancelled.text
    assert_error(await api.post(url, json=later, headers=customer), 409, "not_reschedulable")


async def test_a_move_and_a_new_booking_racing_for_one_time_have_one_winner(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    customers = [await sign_up(api) for _ in range(3)]
    start = future_local(provider.timezone)
    target = start + timedelta(hours=4)  # 14:00, after the lunch break
    first = await _booked_and_paid(api, customers[0], provider.service_id, start)
    second = await _booked_and_paid(
        api, customers[1], provider.service_id, start + timedelta(hours=1)
    )

    answers = await asyncio.gather(
        api.post(
            f"/appointments/{first['id']}/reschedule",
            json={"start": target.isoformat()},
            headers=customers[0],
        ),
        api.post(
            f"/appointments/{second['id']}/reschedule",
            json={"start": target.isoformat()},
            headers=customers[1],
        ),
        _book(api, customers[2], provider.service_id, target.isoformat()),
    )
    winners = [a for a in answers if a.status_code in (200, 201)]
    assert len(winners) == 1, [a.text for a in answers]
    assert all(a.json()["code"] == "slot_unavailable" for a in answers if a not in winners)
    async with saga.db.session() as session:
        at_target = await session.scalars(
            select(Appointment).where(
                Appointment.provider_id == provider.provider_id,
                Appointment.start_at == target,
                Appointment.status.in_(["awaiting_payment", "confirmed"]),
            )
        )
        assert len(list(at_target)) == 1
