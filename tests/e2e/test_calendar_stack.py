"""Issue #12 end to end: the worker and the API as `make dev` runs them, with a real CalDAV
server. A confirmed booking is written to the provider's calendar and removed on cancel; a
meeting the provider adds there takes its slot after one sync."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import caldav  # type: ignore[import-untyped]
import httpx
import pytest
from temporalio.client import Client

from tests.e2e.booking_steps import pay, status_becomes
from tests.e2e.conftest import Stack
from tests.integration.api_helpers import book, provider_with_service, sign_up
from tests.integration.radicale_server import (
    Radicale,
    radicale_fixture,  # noqa: F401  # the fixture
)
from tests.workflows.helpers import eventually

pytestmark = pytest.mark.e2e
ZONE = "America/New_York"


@pytest.fixture
def calendar(radicale: Radicale) -> Iterator[caldav.Calendar]:
    client = caldav.DAVClient(radicale.url, username=radicale.username, password=radicale.password)
    made = client.principal().make_calendar(name=f"Practice {uuid.uuid4().hex[:6]}")
    yield made
    made.delete()


async def test_the_provider_calendar_both_ways_on_the_running_stack(
    stack: Stack,
    http: httpx.AsyncClient,
    temporal_client: Client,
    radicale: Radicale,
    calendar: caldav.Calendar,
) -> None:
    every_day = {
        d: [{"start": "09:00", "end": "17:00"}]
        for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    }
    provider, provider_id, service_id = await provider_with_service(
        http, timezone=ZONE, hours=every_day
    )
    login = {"url": radicale.url, "username": radicale.username, "password": radicale.password}
    connected = await http.post("/calendar/connections/caldav", json=login, headers=provider)
    assert connected.status_code == 201, connected.text
    connection = connected.json()
    chosen = await http.put(
        f"/calendar/connections/{connection['id']}/calendars",
        json={"blocking": [str(calendar.url)], "destination": str(calendar.url)},
        headers=provider,
    )
    assert chosen.status_code == 200, chosen.text
    sync = temporal_client.get_workflow_handle(f"calendar-sync-{connection['id']}")
    assert (await sync.describe()).status is not None  # the worker runs the connection's sync

    # A customer books and pays: the booking is written to the provider's calendar.
    day = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=5)
    ten = datetime.combine(day, time(10), ZoneInfo(ZONE))
    customer = await sign_up(http)
    booking = await book(http, customer, service_id, ten)
    await pay(http, customer, booking)
    await status_becomes(http, booking["id"], customer, "confirmed")

    async def uids() -> list[str]:
        return [str(e.icalendar_component["UID"]) for e in calendar.events()]

    written = await eventually(uids, lambda found: len(found) == 1, within=60)
    assert len(written) == 1 and booking["id"] in written[0], written

    # The provider adds a meeting at 15:00 on their phone; one sync later the slot is gone.
    three = datetime.combine(day, time(15), ZoneInfo(ZONE)).astimezone(ZoneInfo("UTC"))
    calendar.save_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Phone//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:meeting-{uuid.uuid4()}\r\nDTSTAMP:20261201T000000Z\r\n"
        f"DTSTART:{three:%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{three + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\n"
        "SUMMARY:Supplier\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert (await http.post("/calendar/sync/initiate", headers=provider)).status_code == 202

    async def starts() -> set[datetime]:
        answer = await http.get(
            f"/providers/{provider_id}/availability",
            params={"service_id": service_id, "from": day.isoformat(), "to": day.isoformat()},
        )
        return {datetime.fromisoformat(s["start"]) for s in answer.json()["slots"]}

    free = await eventually(starts, lambda s: three not in s, within=60)
    assert three not in free and ten not in free, sorted(free)
    # The booking's own event is not counted twice: after the sync, 11:00 is still free.
    assert datetime.combine(day, time(11), ZoneInfo(ZONE)) in free

    # Cancelled: the booking's event leaves the calendar; the provider's meeting stays.
    cancelled = await http.put(f"/appointments/{booking['id']}/cancel", json={}, headers=customer)
    assert cancelled.status_code in (200, 202), cancelled.text
    left = await eventually(uids, lambda found: len(found) == 1 and booking["id"] not in found[0])
    assert len(left) == 1 and left[0].startswith("meeting-"), left
