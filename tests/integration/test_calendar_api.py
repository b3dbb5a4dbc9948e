"""Calendar connections through the real app, a real CalDAV server (Radicale) and the sync
workflow on the time-skipping server: a meeting in the provider's calendar takes its slots after
one sync, and gives them back when it is deleted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import caldav  # type: ignore[import-untyped]
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.booking import BookingActivities
from activities.calendar_events import BookingCalendars
from activities.calendar_sync import CalendarSyncActivities
from activities.calendars.accounts import CalendarAccounts
from activities.payments.sandbox import SandboxPaymentGateway
from api.main import create_app
from config import Settings
from db.engine import Database
from tests.integration.api_helpers import assert_error, provider_with_service, sign_up
from tests.integration.radicale_server import (
    Radicale,
    radicale_fixture,  # noqa: F401  # the fixture
)
from tests.workflows.helpers import eventually
from workflows.booking import BookingWorkflow
from workflows.calendar_sync import CalendarSyncWorkflow

ZONE = "America/New_York"


@pytest.fixture
async def api(
    time_skipping_env: WorkflowEnvironment, db: Database, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    task_queue = f"calendars-{uuid.uuid4()}"
    accounts = CalendarAccounts.from_settings(settings, db)
    payments = SandboxPaymentGateway(db, settings.payment_webhook_secret.get_secret_value())
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[CalendarSyncWorkflow, BookingWorkflow],
        activities=[
            *CalendarSyncActivities(db, accounts.open).all(),
            *BookingActivities(
                db, payments, calendars=BookingCalendars(db, accounts, settings.public_base_url)
            ).all(),
        ],
    ):
        app = create_app(
            settings.model_copy(
                update={
                    "temporal_address": time_skipping_env.client.service_client.config.target_host,
                    "temporal_task_queue": task_queue,
                }
            )
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
                yield client


@pytest.fixture
def calendar(radicale: Radicale) -> Iterator[caldav.Calendar]:
    """A calendar of the provider's own on the CalDAV server, as their phone would make it."""
    client = caldav.DAVClient(radicale.url, username=radicale.username, password=radicale.password)
    made = client.principal().make_calendar(name=f"Work {uuid.uuid4().hex[:6]}")
    yield made
    made.delete()


def _meeting(on: date) -> tuple[str, str]:
    uid = f"meeting-{uuid.uuid4()}@phone.example.com"
    start = datetime.combine(on, time(10), ZoneInfo(ZONE)).astimezone(ZoneInfo("UTC"))
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Phone//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:{start:%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\nSUMMARY:Dentist\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    return uid, ics


async def _slots(api: httpx.AsyncClient, provider_id: str, service_id: str, on: date) -> list[str]:
    answer = await api.get(
        f"/providers/{provider_id}/availability",
        params={"service_id": service_id, "from": on.isoformat(), "to": on.isoformat()},
    )
    assert answer.status_code == 200, answer.text
    return [slot["start"] for slot in answer.json()["slots"]]


async def _synced(api: httpx.AsyncClient, headers: dict[str, str], after: Any) -> dict[str, Any]:
    async def connections() -> list[dict[str, Any]]:
        return list((await api.get("/calendar/connections", headers=headers)).json())

    found = await eventually(
        connections, lambda c: bool(c) and (c[0]["last_synced_at"] or "") > (after or ""), within=30
    )
    assert found and found[0]["last_synced_at"], found
    return found[0]


async def test_a_meeting_in_the_connected_calendar_takes_its_slots_until_it_is_deleted(
    api: httpx.AsyncClient,
    radicale: Radicale,
    calendar: caldav.Calendar,
) -> None:
    provider, provider_id, service_id = await provider_with_service(
        api,
        timezone=ZONE,
        hours={
            d: [{"start": "09:00", "end": "17:00"}]
            for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        },
    )
    day = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=3)
    ten = datetime.combine(day, time(10), ZoneInfo(ZONE))
    assert any(
        datetime.fromisoformat(s) == ten for s in await _slots(api, provider_id, service_id, day)
    )
    uid, ics = _meeting(day)
    calendar.save_event(ics)

    login = {"url": radicale.url, "username": radicale.username}
    wrong = await api.post(
        "/calendar/connections/caldav", json=login | {"password": "wrong"}, headers=provider
    )
    assert_error(wrong, 422, "calendar_login_refused")
    connected = await api.post(
        "/calendar/connections/caldav",
        json=login | {"password": radicale.password},
        headers=provider,
    )
    assert connected.status_code == 201, connected.text
    body = connected.json()
    assert body["status"] == "active" and "password" not in connected.text
    assert radicale.password not in connected.text
    listed = {c["id"]: c for c in body["calendars"]}
    assert str(calendar.url) in listed

    # Block with the calendar that holds the meeting; the sync reads it at once.
    chosen = await api.put(
        f"/calendar/connections/{body['id']}/calendars",
        json={"blocking": [str(calendar.url)], "destination": str(calendar.url)},
        headers=provider,
    )
    assert chosen.status_code == 200, chosen.text
    synced = await _synced(api, provider, None)
    assert synced["last_error"] is None, synced
    free = await eventually(
        lambda: _slots(api, provider_id, service_id, day),
        lambda slots: all(datetime.fromisoformat(s) != ten for s in slots),
        within=30,
    )
    assert all(datetime.fromisoformat(s) != ten for s in free), free
    customer = await sign_up(api)
    refused = await api.post(
        "/appointments",
        json={"service_id": service_id, "start": ten.isoformat()},
        headers=customer,
    )
    assert_error(refused, 409, "slot_unavailable")

    # Deleted on the phone, then "sync now": the slot comes back.
    calendar.event_by_uid(uid).delete()
    initiated = await api.post("/calendar/sync/initiate", headers=provider)
    assert initiated.status_code == 202 and initiated.json() == {"connections": 1}
    back = await eventually(
        lambda: _slots(api, provider_id, service_id, day),
        lambda slots: any(datetime.fromisoformat(s) == ten for s in slots),
        within=30,
    )
    assert any(datetime.fromisoformat(s) == ten for s in back), back

    # Someone else cannot see or remove it; I can.
    stranger, _, _ = await provider_with_service(api, timezone=ZONE)
    assert (await api.get("/calendar/connections", headers=stranger)).json() == []
    assert_error(
        await api.delete(f"/calendar/connections/{body['id']}", headers=stranger),
        404,
        "calendar_connection_not_found",
    )
    assert (
        await api.delete(f"/calendar/connections/{body['id']}", headers=provider)
    ).status_code == 204
    assert (await api.get("/calendar/connections", headers=provider)).json() == []


async def test_only_providers_have_calendars(api: httpx.AsyncClient) -> None:
    customer = await sign_up(api)
    assert_error(await api.get("/calendar/connections", headers=customer), 403, "providers_only")
    assert_error(await api.get("/calendar/connections"), 401, "not_authenticated")


async def test_a_booking_is_written_moved_and_removed_in_the_connected_calendar(
    api: httpx.AsyncClient,
    radicale: Radicale,
    calendar: caldav.Calendar,
) -> None:
    every_day = {
        d: [{"start": "09:00", "end": "17:00"}]
        for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    }
    provider, _, service_id = await provider_with_service(api, timezone=ZONE, hours=every_day)
    login = {"url": radicale.url, "username": radicale.username, "password": radicale.password}
    connected = await api.post("/calendar/connections/caldav", json=login, headers=provider)
    assert connected.status_code == 201, connected.text
    chosen = await api.put(
        f"/calendar/connections/{connected.json()['id']}/calendars",
        json={"blocking": [str(calendar.url)], "destination": str(calendar.url)},
        headers=provider,
    )
    assert chosen.status_code == 200, chosen.text

    customer = await sign_up(api)
    day = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=4)
    ten = datetime.combine(day, time(10), ZoneInfo(ZONE))
    booked = await api.post(
        "/appointments", json={"service_id": service_id, "start": ten.isoformat()}, headers=customer
    )
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    paid = await api.post(
        f"/sandbox/payments/{booking['payment']['intent_id']}/succeed", headers=customer
    )
    assert paid.status_code == 200, paid.text

    def events() -> list[tuple[str, datetime]]:
        found = []
        for event in calendar.events():
            vevent = event.icalendar_component
            found.append((str(vevent["UID"]), vevent["DTSTART"].dt))
        return found

    async def in_calendar() -> list[tuple[str, datetime]]:
        return events()

    written = await eventually(in_calendar, lambda e: len(e) == 1, within=30)
    [(uid, start)] = written
    assert booking["id"] in uid and start == ten, written

    # Moved by the customer: the same event, at the new time.
    two = datetime.combine(day, time(14), ZoneInfo(ZONE))
    moved = await api.post(
        f"/appointments/{booking['id']}/reschedule",
        json={"start": two.isoformat()},
        headers=customer,
    )
    assert moved.status_code in (200, 202), moved.text
    after_move = await eventually(in_calendar, lambda e: [s for _, s in e] == [two], within=30)
    assert [(u, s) for u, s in after_move] == [(uid, two)], after_move

    # Cancelled: the event leaves the provider's calendar.
    cancelled = await api.put(f"/appointments/{booking['id']}/cancel", json={}, headers=customer)
    assert cancelled.status_code in (200, 202), cancelled.text
    gone = await eventually(in_calendar, lambda e: e == [], within=30)
    assert gone == [], gone
