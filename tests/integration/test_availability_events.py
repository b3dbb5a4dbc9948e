"""Live availability end to end, on each database: a write made the way the worker makes it (its
own engine, straight through db/) reaches a subscriber of the running API over real HTTP."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from api.main import create_app
from config import Settings
from contract.calendars import BusyChanges, BusyEvent, CalendarKind
from contract.messages import ReleaseRequest
from db import booking_lifecycle, calendar_connections, holds, providers
from db.engine import Database
from devstack.processes import free_port
from domain.booking_state import BookingStatus
from tests.factories import future_local, hold_request, make_customer, make_provider
from tests.integration.api_helpers import assert_error

# Far ahead of New Zealand's clock, UTC is still on the day before: a date in UTC would differ.
AUCKLAND = "Pacific/Auckland"
WAIT = 5.0


@dataclass
class Event:
    kind: str
    data: dict[str, Any]


class EventStream:
    """An SSE client on a real connection: the events it reads, and whether the stream ended."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        kind, data = "message", ""
        try:
            async for line in self.response.aiter_lines():
                if line.startswith("event:"):
                    kind = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    data += line.removeprefix("data:").strip()
                elif not line and data:
                    self.events.put_nowait(Event(kind, json.loads(data)))
                    kind, data = "message", ""
        finally:
            self.events.put_nowait(None)

    async def next(self, within: float = WAIT) -> Event | None:
        """The next event, or None when the stream ended."""
        return await asyncio.wait_for(self.events.get(), within)

    async def close(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


@dataclass
class LiveApi:
    app: FastAPI
    client: httpx.AsyncClient

    @asynccontextmanager
    async def subscribe(self, provider_id: uuid.UUID) -> AsyncIterator[EventStream]:
        url = f"/providers/{provider_id}/availability/events"
        async with self.client.stream("GET", url) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = EventStream(response)
            try:
                yield stream
            finally:
                await stream.close()


@asynccontextmanager
async def live_api(settings: Settings, **update: Any) -> AsyncIterator[LiveApi]:
    """The real app under uvicorn on a free port (a streamed answer needs a real server:
    httpx's ASGI transport hands over a body only once it is complete)."""
    port = free_port()
    app = create_app(
        settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"} | update)
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="on", ws="none", log_level="warning"
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), "uvicorn stopped while starting"
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=WAIT) as client:
            yield LiveApi(app, client)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)


async def test_a_hold_and_its_release_reach_a_subscriber_with_the_providers_local_date(
    settings: Settings, db: Database
) -> None:
    provider = await make_provider(db, timezone=AUCKLAND)
    other = await make_provider(db, timezone=AUCKLAND)
    customer = await make_customer(db)
    start = future_local(AUCKLAND, days_ahead=9, at=time(9))
    local_day = start.date().isoformat()
    assert start.astimezone(UTC).date().isoformat() != local_day  # so the test tells them apart

    async with live_api(settings) as api, api.subscribe(provider.provider_id) as stream:
        # `db` is an engine of its own, as the worker's is: the API hears it through the feed.
        await holds.hold_slot(db, hold_request(other, customer, start), now=datetime.now(UTC))
        held = await holds.hold_slot(
            db, hold_request(provider, customer, start), now=datetime.now(UTC)
        )
        event = await stream.next()
        assert event == Event(
            "changed", {"provider_id": str(provider.provider_id), "dates": [local_day]}
        )

        release = ReleaseRequest(
            booking_id=held.booking_id, status=BookingStatus.EXPIRED, reason="hold expired"
        )
        assert await booking_lifecycle.release_slot(db, release, now=datetime.now(UTC))
        event = await stream.next()
        assert event is not None and event.kind == "changed"
        assert event.data["dates"] == [local_day]


async def test_schedule_edits_reach_a_subscriber(settings: Settings, db: Database) -> None:
    provider = await make_provider(db, timezone=AUCKLAND)
    day = (datetime.now(UTC) + timedelta(days=40)).date()

    async with live_api(settings) as api, api.subscribe(provider.provider_id) as stream:
        await providers.set_override(db, provider.provider_id, day, [(time(10), time(12))])
        event = await stream.next()
        assert event == Event(
            "changed", {"provider_id": str(provider.provider_id), "dates": [day.isoformat()]}
        )

        await providers.add_holiday(db, provider.provider_id, day + timedelta(days=1), "Closed")
        event = await stream.next()
        assert event is not None and event.data["dates"] == [(day + timedelta(days=1)).isoformat()]

        # New weekly hours change every date: the subscriber refetches them all.
        await providers.replace_weekly_hours(db, provider.provider_id, [(0, time(8), time(9))])
        event = await stream.next()
        assert event == Event("refresh", {"provider_id": str(provider.provider_id)})


async def test_busy_blocks_a_sync_changes_reach_a_subscriber_and_an_unchanged_sync_is_quiet(
    settings: Settings, db: Database
) -> None:
    provider = await make_provider(db, timezone=AUCKLAND)
    now = datetime.now(UTC)
    connection = await calendar_connections.connect(
        db,
        provider_id=provider.provider_id,
        kind=CalendarKind.CALDAV,
        account="ann@example.com",
        secret="sealed",
        now=now,
        server_url="http://127.0.0.1:5232/",
    )
    meeting = future_local(AUCKLAND, days_ahead=12, at=time(11))
    moved = meeting + timedelta(days=2)

    def full_listing(start: datetime) -> BusyChanges:
        busy = BusyEvent(external_id="/cal/m.ics", start=start, end=start + timedelta(hours=1))
        return BusyChanges(busy=[busy], full=True)

    async with live_api(settings) as api, api.subscribe(provider.provider_id) as stream:
        await calendar_connections.apply_busy_changes(
            db, connection, "/cal/", full_listing(meeting), now=now
        )
        event = await stream.next()
        assert event is not None and event.data["dates"] == [meeting.date().isoformat()]

        # A full sync rewrites every block; one that finds the same meeting changes nothing.
        await calendar_connections.apply_busy_changes(
            db, connection, "/cal/", full_listing(meeting), now=now
        )
        await calendar_connections.apply_busy_changes(
            db, connection, "/cal/", full_listing(moved), now=now
        )
        event = await stream.next()
        assert event is not None
        assert event.data["dates"] == [meeting.date().isoformat(), moved.date().isoformat()]

        assert await calendar_connections.disconnect(db, connection.id, now=now)
        event = await stream.next()
        assert event is not None and event.data["dates"] == [moved.date().isoformat()]


async def test_a_stream_ends_after_availability_stream_seconds(
    settings: Settings, db: Database
) -> None:
    provider = await make_provider(db)
    async with live_api(settings, availability_stream_seconds=1.0) as api:
        hub = api.app.state.services.availability
        opened = asyncio.get_running_loop().time()
        async with api.subscribe(provider.provider_id) as stream:
            assert hub.subscriber_count(provider.provider_id) == 1
            assert await stream.next(within=WAIT) is None  # ended, with no event
        took = asyncio.get_running_loop().time() - opened
        assert 0.9 <= took < 3, took
        assert hub.subscriber_count() == 0


async def test_an_unknown_provider_is_404_with_the_error_body(settings: Settings) -> None:
    async with live_api(settings) as api:
        response = await api.client.get(f"/providers/{uuid.uuid4()}/availability/events")
        assert_error(response, 404, "provider_not_found")


async def test_nothing_of_the_feed_runs_after_the_api_stops(
    settings: Settings, db: Database
) -> None:
    provider = await make_provider(db)
    async with live_api(settings) as api:
        hub = api.app.state.services.availability
        assert hub.running and hub.ready.is_set()
    assert not hub.running
    feeds = [t for t in asyncio.all_tasks() if t.get_name() == "availability-feed"]
    assert feeds == []
    # And a later write still commits at once: no connection of the feed holds anything.
    await asyncio.wait_for(
        providers.set_override(db, provider.provider_id, datetime.now(UTC).date(), []), 2
    )


async def test_every_api_process_hears_a_change(settings: Settings, db: Database) -> None:
    """Two apps (two replicas) on one database: each one's subscriber hears the same change."""
    provider = await make_provider(db)
    async with (
        live_api(settings) as first,
        live_api(settings) as second,
        first.subscribe(provider.provider_id) as one,
        second.subscribe(provider.provider_id) as two,
    ):
        day = (datetime.now(UTC) + timedelta(days=50)).date()
        await providers.add_holiday(db, provider.provider_id, day, "Closed")
        for stream in (one, two):
            event = await stream.next()
            assert event is not None and event.data["dates"] == [day.isoformat()]
