"""Issue #10: the Temporal dev server and the database go away and come back with bookings in
flight. Meanwhile requests answer 503 with Retry-After (never 500); afterwards every booking
reaches its end state and no slot is left held without a live booking."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url
from temporalio.api.enums.v1 import EventType

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
from tests.e2e.conftest import running_stack
from tests.e2e.proxy import TcpProxy
from tests.factories import make_provider
from tests.integration.api_helpers import sign_up
from workflows.booking import BookingWorkflow
from workflows.client import connect, workflow_id

pytestmark = pytest.mark.e2e
IN_FLIGHT = 20


async def test_temporal_restarted_with_bookings_in_flight(
    settings: Settings, tmp_path: Path, db: Database
) -> None:
    with running_stack(settings, tmp_path, durable_temporal=True) as stack:
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as http:
            provider = await make_provider(db)
            customer = await sign_up(http)
            bookings = [
                await book(http, customer, provider.service_id, slot(provider, i))
                for i in range(IN_FLIGHT)
            ]
            paid, unpaid = bookings[: IN_FLIGHT // 2], bookings[IN_FLIGHT // 2 :]
            await asyncio.gather(*(pay(http, customer, booking) for booking in paid))
            for booking in paid:
                await status_becomes(http, booking["id"], customer, "confirmed")

            await asyncio.to_thread(stack.temporal.stop)
            # Reads answer from the database; whatever needs the booking engine answers 503.
            seen = await asyncio.gather(
                *(http.get(f"/appointments/{b['id']}", headers=customer) for b in bookings)
            )
            for booking, answer in zip(bookings, seen, strict=True):
                assert answer.status_code == 200, f"GET {booking['id']}: {answer.text}"
                expected = "confirmed" if booking in paid else "awaiting_payment"
                assert answer.json()["status"] == expected, answer.text
            new_start = slot(provider, IN_FLIGHT).isoformat()
            refused = await http.post(
                "/appointments",
                json={"service_id": str(provider.service_id), "start": new_start},
                headers=customer,
            )
            assert_unavailable(refused, "booking_engine_unavailable")
            cancel = await http.put(f"/appointments/{paid[0]['id']}/cancel", headers=customer)
            assert_unavailable(cancel, "booking_engine_unavailable")
            ready = await http.get("/ready")
            assert ready.status_code == 503 and ready.headers.get("Retry-After"), ready.text

            await asyncio.to_thread(stack.restart_temporal)
            await asyncio.gather(*(pay(http, customer, booking) for booking in unpaid))
            for booking in bookings:
                await status_becomes(http, booking["id"], customer, "confirmed")
                await assert_stored(db, booking["id"], "confirmed", "succeeded")
            later = await book(http, customer, provider.service_id, slot(provider, IN_FLIGHT))
            await pay(http, customer, later)
            await status_becomes(http, later["id"], customer, "confirmed")
            temporal = await connect(
                settings.model_copy(update={"temporal_address": stack.temporal_address})
            )
            await assert_no_leaks(db, temporal, [provider.provider_id])


def _through(proxy: TcpProxy, database_url: str) -> str:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


async def test_database_unreachable_with_bookings_in_flight(
    settings: Settings, tmp_path: Path, db: Database
) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite is a file each process opens itself: no connection to cut")
    proxy = TcpProxy(make_url(settings.database_url).port or 5432).start()
    try:
        with running_stack(
            settings, tmp_path, database_url=_through(proxy, settings.database_url)
        ) as stack:
            async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as http:
                temporal = await connect(
                    settings.model_copy(update={"temporal_address": stack.temporal_address})
                )
                provider = await make_provider(db)
                customer = await sign_up(http)
                bookings = [
                    await book(http, customer, provider.service_id, slot(provider, i))
                    for i in range(5)
                ]
                confirmed, cancelling, confirming, waiting, idle = bookings
                await pay(http, customer, confirmed)
                await status_becomes(http, confirmed["id"], customer, "confirmed")

                # A cancel and a payment the bookings have taken, whose steps need the database.
                cancel = asyncio.create_task(
                    http.put(f"/appointments/{cancelling['id']}/cancel", headers=customer)
                )
                payment = asyncio.create_task(
                    http.post(
                        f"/sandbox/payments/{intent_of(confirming)}/succeed", headers=customer
                    )
                )
                accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
                await wait_for_event(temporal, cancelling["id"], accepted, update="cancel")
                signalled = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
                await wait_for_event(temporal, confirming["id"], signalled)
                proxy.cut()

                down = [
                    await http.post(
                        "/appointments",
                        json={
                            "service_id": str(provider.service_id),
                            "start": slot(provider, 5).isoformat(),
                        },
                        headers=customer,
                    ),
                    await http.get(f"/appointments/{waiting['id']}", headers=customer),
                    await http.put(f"/appointments/{idle['id']}/cancel", headers=customer),
                    await http.post(
                        f"/sandbox/payments/{intent_of(waiting)}/succeed", headers=customer
                    ),
                ]
                for answer in down:
                    assert_unavailable(answer, "database_unavailable")
                ready = await http.get("/ready")
                assert ready.status_code == 503 and ready.headers.get("Retry-After"), ready.text
                for answer in await asyncio.gather(cancel, payment):
                    # Taken before the cut; finishing it needs the database.
                    assert answer.status_code in (200, 202, 503), answer.text
                    if answer.status_code == 503:
                        assert_unavailable(
                            answer, "database_unavailable", "booking_engine_unavailable"
                        )
                await asyncio.sleep(3)  # the worker's steps retry against the dead database
                # The booking waits: it has the cancel, and its undo steps retry.
                handle = temporal.get_workflow_handle(workflow_id(cancelling["id"]))
                state = await handle.query(BookingWorkflow.state)
                assert state.status == "cancelling", state
                proxy.resume()

                await status_becomes(http, cancelling["id"], customer, "cancelled")
                await status_becomes(http, confirming["id"], customer, "confirmed")
                await asyncio.gather(pay(http, customer, waiting), pay(http, customer, idle))
                for booking in (confirmed, confirming, waiting, idle):
                    await status_becomes(http, booking["id"], customer, "confirmed")
                    await assert_stored(db, booking["id"], "confirmed", "succeeded")
                await assert_stored(db, cancelling["id"], "cancelled", "canceled")
                later = await book(http, customer, provider.service_id, slot(provider, 5))
                await pay(http, customer, later)
                await status_becomes(http, later["id"], customer, "confirmed")
                await assert_no_leaks(db, temporal, [provider.provider_id])
    finally:
        proxy.close()
