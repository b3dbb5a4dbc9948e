"""End to end: separate processes, real HTTP, the dev server that `make dev` runs."""

from __future__ import annotations

import asyncio

import httpx
from temporalio.client import Client

from db.engine import Database
from tests.e2e.conftest import Stack
from tests.factories import future_local, make_provider
from tests.integration.api_helpers import assert_error, sign_up


async def _status_becomes(
    http: httpx.AsyncClient,
    booking_id: str,
    headers: dict[str, str],
    status: str,
    within: float = 30,
) -> dict[str, object]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await http.get(f"/appointments/{booking_id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        if body["status"] == status or asyncio.get_running_loop().time() > deadline:
            assert body["status"] == status, body
            return body
        await asyncio.sleep(0.2)


async def _visible(client: Client, query: str, within: float = 15) -> list[str]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        ids = [w.id async for w in client.list_workflows(query)]
        if ids or asyncio.get_running_loop().time() > deadline:
            return ids
        await asyncio.sleep(0.3)


async def test_book_pay_and_confirm_across_processes(
    stack: Stack, http: httpx.AsyncClient, db: Database, temporal_client: Client
) -> None:
    provider = await make_provider(db)
    customer = await sign_up(http)
    start = future_local(provider.timezone).isoformat()

    booked = await http.post(
        "/appointments",
        json={"service_id": str(provider.service_id), "start": start},
        headers=customer,
    )
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    assert booking["status"] == "awaiting_payment"

    paid = await http.post(
        f"/sandbox/payments/{booking['payment']['intent_id']}/succeed", headers=customer
    )
    assert paid.status_code == 200 and paid.json()["webhook"]["body"]["handled"] is True

    await _status_becomes(http, booking["id"], customer, "confirmed")
    assert_error(
        await http.post(
            "/appointments",
            json={"service_id": str(provider.service_id), "start": start},
            headers=await sign_up(http),
        ),
        409,
        "slot_unavailable",
    )
    # An operator finds it in the Web UI by its search attributes.
    query = f'BookingStatus="confirmed" AND ProviderId="{provider.provider_id}"'
    assert await _visible(temporal_client, query) == [f"booking-{booking['id']}"]


async def test_a_worker_killed_while_a_booking_waits_for_payment_loses_nothing(
    stack: Stack, http: httpx.AsyncClient, db: Database
) -> None:
    provider = await make_provider(db)
    customer = await sign_up(http)
    booked = await http.post(
        "/appointments",
        json={
            "service_id": str(provider.service_id),
            "start": future_local(provider.timezone).isoformat(),
        },
        headers=customer,
    )
    assert booked.status_code == 201, booked.text
    booking = booked.json()

    stack.workers[0].kill()  # SIGKILL: no shutdown, no goodbye
    # With no worker to answer the query, the API falls back to the database.
    waiting = await http.get(f"/appointments/{booking['id']}", headers=customer)
    assert waiting.status_code == 200 and waiting.json()["status"] == "awaiting_payment"

    stack.start_worker()
    paid = await http.post(
        f"/sandbox/payments/{booking['payment']['intent_id']}/succeed", headers=customer
    )
    assert paid.status_code == 200 and paid.json()["webhook"]["body"]["handled"] is True
    confirmed = await _status_becomes(http, booking["id"], customer, "confirmed")
    assert confirmed["payment"]["status"] == "succeeded"  # type: ignore[index]
