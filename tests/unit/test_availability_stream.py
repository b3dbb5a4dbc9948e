"""The live-availability hub alone: fan-out by provider, a full queue collapsing into one
refresh, feeds that fail and come back, and a stop that leaves nothing running."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from api import availability_stream
from api.availability_stream import CLOSED, REFRESH, AvailabilityHub, Backoff, Subscription
from db.availability_changes import Change, local_dates


async def _forever(_: AvailabilityHub) -> None:
    await asyncio.Event().wait()


def _drain(subscription: Subscription) -> list[Any]:
    events = []
    while not subscription._queue.empty():
        events.append(subscription._queue.get_nowait())
    return events


async def test_a_change_reaches_every_subscriber_of_its_provider_and_no_other() -> None:
    hub = AvailabilityHub(_forever)
    ada, bob = uuid.uuid4(), uuid.uuid4()
    with hub.subscribe(ada) as first, hub.subscribe(ada) as second, hub.subscribe(bob) as other:
        hub.publish(Change(ada, ("2026-12-24",)))
        hub.publish(Change(ada, ("2026-12-25", "2026-12-26")))
        assert _drain(first) == [("2026-12-24",), ("2026-12-25", "2026-12-26")]
        assert _drain(second) == [("2026-12-24",), ("2026-12-25", "2026-12-26")]
        assert _drain(other) == []
        # A change to every date is a refresh, which also stands for what was not read yet.
        hub.publish(Change(ada, ("2026-12-27",)))
        hub.publish(Change(ada, None))
        assert _drain(first) == [REFRESH]
        assert hub.subscriber_count() == 3
    assert hub.subscriber_count() == 0


async def test_a_subscriber_that_falls_behind_gets_one_refresh_then_changes_again() -> None:
    hub = AvailabilityHub(_forever, queue_size=3)
    provider = uuid.uuid4()
    with hub.subscribe(provider) as slow:
        for day in range(1, 7):
            hub.publish(Change(provider, (f"2026-12-0{day}",)))
        assert await slow.next() == REFRESH
        assert slow._queue.empty()
        hub.publish(Change(provider, ("2026-12-09",)))
        assert await slow.next() == ("2026-12-09",)


async def test_stop_cancels_the_feed_and_ends_every_stream() -> None:
    cleaned_up = asyncio.Event()

    async def feed(hub: AvailabilityHub) -> None:
        hub.feed_up()
        try:
            await asyncio.Event().wait()
        finally:
            cleaned_up.set()

    hub = AvailabilityHub(feed)
    await hub.start()
    subscription = hub.add(uuid.uuid4())
    hub.publish(Change(subscription.provider_id, ("2026-12-24",)))
    assert hub.running
    await asyncio.wait_for(hub.stop(), 1)
    assert cleaned_up.is_set() and not hub.running
    assert _drain(subscription) == [CLOSED]  # what it had not read yet no longer matters
    assert hub.subscriber_count() == 0
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "availability-feed"]


async def test_start_does_not_wait_long_for_a_feed_that_cannot_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(availability_stream, "READY_WAIT_SECONDS", 0.1)
    hub = AvailabilityHub(_forever)
    await asyncio.wait_for(hub.start(), 1)
    assert hub.running and not hub.ready.is_set()
    await hub.stop()


async def test_a_failing_poll_backs_off_and_a_recovered_one_refreshes_everyone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[float] = []
    down = True

    async def last_change_id(_: object) -> int:
        calls.append(asyncio.get_running_loop().time())
        if down:
            raise OSError("database is locked")
        return 7

    async def changes_after(_: object, after: int) -> list[tuple[int, Change]]:
        return []

    monkeypatch.setattr(availability_stream.availability_changes, "last_change_id", last_change_id)
    monkeypatch.setattr(availability_stream.availability_changes, "changes_after", changes_after)
    hub = AvailabilityHub(
        lambda hub: availability_stream.poll_sqlite(
            object(),  # type: ignore[arg-type]
            hub,
            every=0.01,
            backoff=Backoff(first=0.05, most=0.2),
        )
    )
    subscription = hub.add(uuid.uuid4())
    began = asyncio.get_running_loop().time()
    await hub.start()
    assert asyncio.get_running_loop().time() - began < 0.5  # the API starts while it is down
    assert not hub.ready.is_set()
    await asyncio.sleep(0.5)
    # 0.05 + 0.1 + 0.2 + 0.2 ... : a handful of tries in 0.5 s, not thousands.
    assert 3 <= len(calls) <= 20, len(calls)
    down = False
    await asyncio.wait_for(hub.ready.wait(), 1)
    assert await asyncio.wait_for(subscription.next(), 1) == REFRESH
    await hub.stop()


async def test_a_dropped_listen_connection_is_made_again_and_everyone_refreshes() -> None:
    provider = uuid.uuid4()
    connections = 0

    async def listen(_: str, *, on_listening: Callable[[], None]) -> AsyncGenerator[Change]:
        nonlocal connections
        connections += 1
        on_listening()
        if connections == 1:
            yield Change(provider, ("2026-12-24",))
            raise OSError("server closed the connection unexpectedly")
        await asyncio.Event().wait()
        yield Change(provider, None)  # never reached

    hub = AvailabilityHub(
        lambda hub: availability_stream.listen_postgres(
            "postgresql://nowhere", hub, backoff=Backoff(first=0.01), listen=listen
        )
    )
    subscription = hub.add(provider)
    await hub.start()
    assert await asyncio.wait_for(subscription.next(), 1) == ("2026-12-24",)
    assert await asyncio.wait_for(subscription.next(), 1) == REFRESH
    assert connections == 2
    await hub.stop()


def test_local_dates_are_the_providers_days_a_span_touches() -> None:
    # 23:30 to 00:30 in Auckland (UTC+13 in December) touches two local days.
    start = datetime(2026, 12, 24, 10, 30, tzinfo=UTC)
    end = datetime(2026, 12, 24, 11, 30, tzinfo=UTC)
    assert local_dates([(start, end)], "Pacific/Auckland") == {
        date(2026, 12, 24),
        date(2026, 12, 25),
    }
    assert local_dates([(start, end)], "UTC") == {date(2026, 12, 24)}
    # A span ending at local midnight does not touch the next day.
    midnight = datetime(2026, 12, 25, 0, 0, tzinfo=UTC)
    assert local_dates([(end, midnight)], "UTC") == {date(2026, 12, 24)}
