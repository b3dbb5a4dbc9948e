"""Live availability: one feed of changes per API process, fanned out to SSE subscribers.

The feed is PostgreSQL's LISTEN connection or SQLite's polled table (db/availability_changes.py);
the API's lifespan starts the hub and stops it, and nothing of it runs after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, Final, Literal, TypeVar
from uuid import UUID

from config import Settings
from db import availability_changes
from db.availability_changes import Change
from db.engine import Database

log = logging.getLogger("booking.api.availability")

T = TypeVar("T")
# What a subscriber reads: the dates that changed, "refresh" (refetch every date: it fell
# behind, the change was to every date, or the feed was down), or "closed" (the API stops).
Event = tuple[str, ...] | Literal["refresh", "closed"]
REFRESH: Final = "refresh"
CLOSED: Final = "closed"
QUEUE_SIZE = 32
POLL_SECONDS = 0.25
READY_WAIT_SECONDS = 2.0


class Subscription:
    """One subscriber's bounded queue: a full one collapses into a single "refresh", which
    stands for every change after it too until the subscriber reads it."""

    def __init__(self, provider_id: UUID, size: int = QUEUE_SIZE) -> None:
        self.provider_id = provider_id
        self._queue: asyncio.Queue[Event] = asyncio.Queue(size)
        self._refresh_pending = False

    def offer(self, event: Event) -> None:
        if self._refresh_pending and event != CLOSED:
            return
        if event in (REFRESH, CLOSED) or self._queue.full():
            event = CLOSED if event == CLOSED else REFRESH
            self._refresh_pending = event == REFRESH
            while not self._queue.empty():
                self._queue.get_nowait()
        self._queue.put_nowait(event)

    async def next(self) -> Event:
        event = await self._queue.get()
        if event == REFRESH:
            self._refresh_pending = False
        return event


Feed = Callable[["AvailabilityHub"], Coroutine[Any, Any, None]]


class AvailabilityHub:
    """Subscribers by provider, and the task that reads the feed into them."""

    def __init__(self, feed: Feed, *, queue_size: int = QUEUE_SIZE) -> None:
        self._feed = feed
        self._queue_size = queue_size
        self._subscribers: dict[UUID, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()  # set once the feed hears every change that commits
        self._tried = asyncio.Event()  # set once the feed has tried, heard or not

    @classmethod
    def from_settings(cls, settings: Settings, db: Database) -> AvailabilityHub:
        if settings.is_sqlite:
            return cls(lambda hub: poll_sqlite(db, hub))
        return cls(lambda hub: listen_postgres(settings.database_url, hub))

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def subscriber_count(self, provider_id: UUID | None = None) -> int:
        if provider_id is not None:
            return len(self._subscribers.get(provider_id, ()))
        return sum(len(subs) for subs in self._subscribers.values())

    @contextlib.contextmanager
    def subscribe(self, provider_id: UUID) -> Iterator[Subscription]:
        subscription = self.add(provider_id)
        try:
            yield subscription
        finally:
            self.remove(subscription)

    def add(self, provider_id: UUID) -> Subscription:
        subscription = Subscription(provider_id, self._queue_size)
        self._subscribers.setdefault(provider_id, set()).add(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        subs = self._subscribers.get(subscription.provider_id)
        if subs is not None:
            subs.discard(subscription)
            if not subs:
                del self._subscribers[subscription.provider_id]

    def publish(self, change: Change) -> None:
        event: Event = REFRESH if change.dates is None else change.dates
        for subscription in self._subscribers.get(change.provider_id, ()):
            subscription.offer(event)

    def feed_up(self) -> None:
        self.ready.set()
        self._tried.set()

    def feed_down(self) -> None:
        self._tried.set()

    def refresh_everyone(self) -> None:
        """Changes may have been missed (the feed was down): every subscriber refetches."""
        for subs in self._subscribers.values():
            for subscription in subs:
                subscription.offer(REFRESH)

    async def start(self) -> None:
        """Start reading the feed; wait until its first try, so a subscriber's first change is
        heard, but never long: the API answers everything else while the database is down."""
        self._task = asyncio.create_task(self._feed(self), name="availability-feed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tried.wait(), READY_WAIT_SECONDS)

    async def stop(self) -> None:
        """Stop the feed (its connection closes with it) and end every subscriber's stream."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for subs in self._subscribers.values():
            for subscription in subs:
                subscription.offer(CLOSED)
        self._subscribers.clear()


class Backoff:
    """Waits that double from `first` to `most` while a feed keeps failing."""

    def __init__(self, first: float = 0.25, most: float = 10.0) -> None:
        self.first, self.most = first, most
        self.delay = first

    async def wait(self) -> None:
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, self.most)

    def reset(self) -> None:
        self.delay = self.first


async def _uncut(query: Awaitable[T]) -> T:
    """Await a query to its end even when the feed is cancelled meanwhile: one cut in half
    could leave its pooled connection in the middle of a transaction."""
    task = asyncio.ensure_future(query)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # stopping anyway: retrieved, so asyncio does not report it
        raise


async def poll_sqlite(
    db: Database,
    hub: AvailabilityHub,
    *,
    every: float = POLL_SECONDS,
    backoff: Backoff | None = None,
) -> None:
    """SQLite: read the changes committed since the last read, every `every` seconds."""
    backoff = backoff or Backoff()
    last: int | None = None
    failing = False
    while True:
        try:
            if last is None:
                last = await _uncut(availability_changes.last_change_id(db))
                hub.feed_up()
            for change_id, change in await _uncut(availability_changes.changes_after(db, last)):
                last = change_id
                hub.publish(change)
        except Exception as err:
            log.warning("availability feed: cannot read changes (%s); retrying", err)
            hub.feed_down()
            failing = True
            await backoff.wait()
            continue
        if failing:
            failing = False
            backoff.reset()
            hub.refresh_everyone()
        await asyncio.sleep(every)


async def listen_postgres(
    database_url: str,
    hub: AvailabilityHub,
    *,
    backoff: Backoff | None = None,
    listen: Callable[..., AsyncGenerator[Change]] = availability_changes.listen,
) -> None:
    """PostgreSQL: one LISTEN connection, made again (with backoff) whenever it drops."""
    backoff = backoff or Backoff()
    dropped = False

    def listening() -> None:
        nonlocal dropped
        hub.feed_up()
        backoff.reset()
        if dropped:
            dropped = False
            hub.refresh_everyone()

    while True:
        try:
            async with contextlib.aclosing(listen(database_url, on_listening=listening)) as feed:
                async for change in feed:
                    hub.publish(change)
        except Exception as err:
            log.warning("availability feed: LISTEN connection lost (%s); reconnecting", err)
        hub.feed_down()
        dropped = True
        await backoff.wait()
