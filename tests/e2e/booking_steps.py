"""Steps and checks the fault tests share: book, pay, wait out an outage, find leaked slots."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable
from datetime import datetime, time

import httpx
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecutionStatus

from db.engine import Database
from db.models import Appointment, SandboxPaymentIntent
from domain.booking_state import ACTIVE_STATUSES
from tests.factories import ProviderFixture, future_local
from workflows.client import workflow_id

Headers = dict[str, str]
# The 503s a dependency outage may answer; anything else 5xx fails the test.
OUTAGE_CODES = frozenset({"booking_engine_unavailable", "database_unavailable", "booking_pending"})


def slot(provider: ProviderFixture, index: int) -> datetime:
    """The index-th of distinct free starts of a make_provider service (14 a day, 30 minutes)."""
    day, half_hours = divmod(index, 14)
    hour, half = divmod(half_hours, 2)
    hour += 9 if hour < 3 else 10  # 09:00-11:30, then after lunch 13:00-16:30
    return future_local(provider.timezone, days_ahead=3 + day, at=time(hour, 30 * half))


def assert_unavailable(response: httpx.Response, *codes: str) -> None:
    """A 503 naming the dependency that is down, with Retry-After; never a 500."""
    assert response.status_code == 503, (
        f"{response.request.method} {response.request.url.path}: expected 503 "
        f"{'/'.join(codes)}, got {response.status_code}: {response.text}"
    )
    assert response.json()["code"] in codes, response.text
    assert response.headers.get("Retry-After", "").isdigit(), (
        f"a 503 without Retry-After: {response.headers}"
    )


async def answered(
    send: Callable[[], Awaitable[httpx.Response]], *, within: float = 60
) -> httpx.Response:
    """The first answer that is not an outage's 503; those are retried, until `within`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        response = await send()
        if response.status_code != 503:
            assert response.status_code < 500, (
                f"{response.request.method} {response.request.url.path} answered "
                f"{response.status_code}: {response.text}"
            )
            return response
        assert_unavailable(response, *OUTAGE_CODES)
        assert loop.time() < deadline, (
            f"{response.request.method} {response.request.url.path} still answered 503 after "
            f"{within}s: {response.text}"
        )
        await asyncio.sleep(0.5)


async def book(
    http: httpx.AsyncClient, customer: Headers, service_id: uuid.UUID, start: datetime
) -> dict[str, object]:
    response = await answered(
        lambda: http.post(
            "/appointments",
            json={"service_id": str(service_id), "start": start.isoformat()},
            headers=customer | {"Idempotency-Key": f"{service_id}/{start.isoformat()}"},
        )
    )
    assert response.status_code == 201, response.text
    booking: dict[str, object] = response.json()
    return booking


def intent_of(booking: dict[str, object]) -> str:
    payment = booking["payment"]
    assert isinstance(payment, dict), booking
    return str(payment["intent_id"])


async def pay(http: httpx.AsyncClient, customer: Headers, booking: dict[str, object]) -> None:
    paid = await answered(
        lambda: http.post(f"/sandbox/payments/{intent_of(booking)}/succeed", headers=customer)
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["webhook"]["body"]["handled"] is True, paid.text


async def status_becomes(
    http: httpx.AsyncClient,
    booking_id: object,
    headers: Headers,
    status: str,
    *,
    within: float = 90,
) -> dict[str, object]:
    """Poll the booking until it has `status`; an outage's 503 on the way is allowed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        response = await answered(
            lambda: http.get(f"/appointments/{booking_id}", headers=headers), within=within
        )
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        if body["status"] == status:
            return body
        assert loop.time() < deadline, f"not {status} within {within}s: {body}"
        await asyncio.sleep(0.3)


async def assert_stored(
    db: Database, booking_id: object, status: str, payment: str | None = None
) -> None:
    """The appointment row's status and its sandbox intent: `succeeded`, `canceled` or
    `refunded` (succeeded, then refunded in full)."""
    key = uuid.UUID(str(booking_id))
    async with db.session() as session:
        row = await session.get(Appointment, key)
        intents = list(
            await session.scalars(
                select(SandboxPaymentIntent).where(SandboxPaymentIntent.booking_id == str(key))
            )
        )
    assert row is not None, f"no appointment row for {key}"
    assert row.status == status, f"{key} is stored {row.status}, expected {status}"
    if payment is None:
        return
    assert len(intents) == 1, f"{key} has {len(intents)} payment intents"
    intent = intents[0]
    seen = intent.status
    if intent.status == "succeeded" and intent.amount_refunded:
        seen = "refunded" if intent.amount_refunded == intent.amount else "partly refunded"
    assert seen == payment, f"{key}'s payment is {seen}, expected {payment}"


async def leaked_slots(
    db: Database, temporal: Client, provider_ids: Iterable[uuid.UUID]
) -> list[str]:
    """Appointments that occupy a slot while their booking's workflow is not running."""
    async with db.session() as session:
        active = list(
            await session.scalars(
                select(Appointment).where(
                    Appointment.provider_id.in_(list(provider_ids)),
                    Appointment.status.in_(list(ACTIVE_STATUSES)),
                )
            )
        )
    leaks = []
    for row in active:
        described = await temporal.get_workflow_handle(workflow_id(row.id)).describe()
        if described.status != WorkflowExecutionStatus.RUNNING:
            leaks.append(f"{row.id} is {row.status} but its workflow is {described.status}")
    return leaks


async def assert_no_leaks(
    db: Database, temporal: Client, provider_ids: Collection[uuid.UUID]
) -> None:
    leaks = await leaked_slots(db, temporal, provider_ids)
    assert not leaks, "slots held without a live booking:\n" + "\n".join(leaks)


async def wait_for_event(
    temporal: Client,
    booking_id: object,
    event_type: EventType.ValueType,
    within: float = 20,
    *,
    update: str | None = None,
) -> None:
    """Return as soon as the booking's history has an event of `event_type` (for an update's
    events, of the update named `update`: the early return's own come first)."""
    handle = temporal.get_workflow_handle(workflow_id(booking_id))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async for event in handle.fetch_history_events():
            if event.event_type == event_type and (update is None or _names(event, update)):
                return
        assert loop.time() < deadline, (
            f"{workflow_id(booking_id)} had no {EventType.Name(event_type)} within {within}s"
        )
        await asyncio.sleep(0.01)


def _names(event: HistoryEvent, update: str) -> bool:
    accepted = event.workflow_execution_update_accepted_event_attributes
    return bool(accepted.accepted_request.input.name == update)
