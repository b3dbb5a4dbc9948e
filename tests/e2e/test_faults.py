"""Issue #10: a worker SIGKILLed at every stage of a booking, then replaced. Every booking ends
in its right state, no slot is left held without a live booking, and no request answers 500."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from config import Settings
from db.engine import Database
from tests.e2e.booking_steps import (
    assert_no_leaks,
    assert_stored,
    assert_unavailable,
    book,
    intent_of,
    pay,
    slot,
    status_becomes,
    wait_for_event,
)
from tests.e2e.conftest import Stack, running_stack
from tests.factories import future_local, make_provider
from tests.integration.api_helpers import provider_with_service, sign_up
from workflows.client import connect

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def crash_stack(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for every stage; each test kills its worker and starts the next."""
    with running_stack(settings, tmp_path_factory.mktemp("worker-crashes")) as running:
        yield running


@pytest.fixture
async def crash_http(crash_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    if not crash_stack.workers[-1].running:  # an earlier test failed between kill and restart
        crash_stack.start_worker()
    async with httpx.AsyncClient(base_url=crash_stack.base_url, timeout=30) as client:
        yield client


@pytest.fixture
async def crash_temporal(crash_stack: Stack, settings: Settings) -> Client:
    return await connect(
        settings.model_copy(update={"temporal_address": crash_stack.temporal_address})
    )


def replace_worker(stack: Stack) -> None:
    """SIGKILL the running worker (no shutdown, no goodbye) and start a new one."""
    stack.workers[-1].kill()
    stack.start_worker()


async def approve(http: httpx.AsyncClient, booking_id: object, provider: dict[str, str]) -> None:
    """Approve, sending it again after a 503 as its Retry-After says. A repeat whose first try
    was taken after all answers with the booking, as the first would have."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        approved = await http.post(f"/appointments/{booking_id}/approve", headers=provider)
        if approved.status_code in (200, 202):
            assert approved.json()["status"] in ("awaiting_approval", "confirmed"), approved.text
            return
        assert_unavailable(approved, "booking_engine_unavailable")
        assert loop.time() < deadline, f"no worker took the approval within 60s: {approved.text}"
        await asyncio.sleep(float(approved.headers["Retry-After"]))


async def test_killed_right_after_the_hold(
    crash_stack: Stack, crash_http: httpx.AsyncClient, crash_temporal: Client, db: Database
) -> None:
    provider = await make_provider(db)
    customer = await sign_up(crash_http)
    booking = await book(crash_http, customer, provider.service_id, slot(provider, 0))
    assert booking["status"] == "awaiting_payment", booking
    replace_worker(crash_stack)

    await pay(crash_http, customer, booking)
    confirmed = await status_becomes(crash_http, booking["id"], customer, "confirmed")
    assert confirmed["payment"]["status"] == "succeeded", confirmed  # type: ignore[index]
    await assert_stored(db, booking["id"], "confirmed", "succeeded")
    await assert_no_leaks(db, crash_temporal, [provider.provider_id])


async def test_killed_while_awaiting_payment(
    crash_stack: Stack, crash_http: httpx.AsyncClient, crash_temporal: Client, db: Database
) -> None:
    provider = await make_provider(db)
    customer = await sign_up(crash_http)
    booking = await book(crash_http, customer, provider.service_id, slot(provider, 0))
    await status_becomes(crash_http, booking["id"], customer, "awaiting_payment")
    crash_stack.workers[-1].kill()
    # No worker answers the query: the API answers from the database.
    waiting = await crash_http.get(f"/appointments/{booking['id']}", headers=customer)
    assert waiting.status_code == 200, waiting.text
    assert waiting.json()["status"] == "awaiting_payment", waiting.text
    crash_stack.start_worker()

    await pay(crash_http, customer, booking)
    await status_becomes(crash_http, booking["id"], customer, "confirmed")
    await assert_stored(db, booking["id"], "confirmed", "succeeded")
    await assert_no_leaks(db, crash_temporal, [provider.provider_id])


async def test_killed_while_awaiting_approval(
    crash_stack: Stack, crash_http: httpx.AsyncClient, crash_temporal: Client, db: Database
) -> None:
    every_day = {
        day: [{"start": "09:00", "end": "17:00"}]
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    }
    provider, provider_id, service_id = await provider_with_service(
        crash_http, hours=every_day, auto_confirm=False
    )
    customer = await sign_up(crash_http)
    start = future_local("America/New_York", days_ahead=3)
    booking = await book(crash_http, customer, uuid.UUID(service_id), start)
    await pay(crash_http, customer, booking)
    await status_becomes(crash_http, booking["id"], customer, "awaiting_approval")
    replace_worker(crash_stack)

    await approve(crash_http, booking["id"], provider)
    await status_becomes(crash_http, booking["id"], customer, "confirmed")
    await assert_stored(db, booking["id"], "confirmed", "succeeded")
    await assert_no_leaks(db, crash_temporal, [uuid.UUID(provider_id)])


async def test_killed_while_confirming(
    crash_stack: Stack, crash_http: httpx.AsyncClient, crash_temporal: Client, db: Database
) -> None:
    provider = await make_provider(db)
    customer = await sign_up(crash_http)
    booking = await book(crash_http, customer, provider.service_id, slot(provider, 0))
    paying = asyncio.create_task(
        crash_http.post(f"/sandbox/payments/{intent_of(booking)}/succeed", headers=customer)
    )
    signalled = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    await wait_for_event(crash_temporal, booking["id"], signalled)
    replace_worker(crash_stack)

    paid = await paying
    assert paid.status_code == 200, paid.text
    assert paid.json()["webhook"]["body"]["handled"] is True, paid.text
    await status_becomes(crash_http, booking["id"], customer, "confirmed")
    await assert_stored(db, booking["id"], "confirmed", "succeeded")
    await assert_no_leaks(db, crash_temporal, [provider.provider_id])


async def test_killed_while_compensating(
    crash_stack: Stack, crash_http: httpx.AsyncClient, crash_temporal: Client, db: Database
) -> None:
    provider = await make_provider(db)
    customer = await sign_up(crash_http)
    paid = await book(crash_http, customer, provider.service_id, slot(provider, 0))
    unpaid = await book(crash_http, customer, provider.service_id, slot(provider, 1))
    await pay(crash_http, customer, paid)
    await status_becomes(crash_http, paid["id"], customer, "confirmed")

    cancels = [
        asyncio.create_task(
            crash_http.put(f"/appointments/{booking['id']}/cancel", headers=customer)
        )
        for booking in (paid, unpaid)
    ]
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    for booking in (paid, unpaid):
        await wait_for_event(crash_temporal, booking["id"], accepted, update="cancel")
    replace_worker(crash_stack)

    for cancel in cancels:
        answer = await cancel
        # Taken: finished (200), still undoing (202), or nobody left to say how far (503).
        assert answer.status_code in (200, 202, 503), answer.text
        if answer.status_code != 200:
            assert answer.headers.get("Retry-After"), answer.headers
    await status_becomes(crash_http, paid["id"], customer, "cancelled")
    await status_becomes(crash_http, unpaid["id"], customer, "cancelled")
    await assert_stored(db, paid["id"], "cancelled", "refunded")
    await assert_stored(db, unpaid["id"], "cancelled", "canceled")
    await assert_no_leaks(db, crash_temporal, [provider.provider_id])
