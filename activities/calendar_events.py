"""A booking as an event in each connected calendar's destination: written when confirmed,
moved when rescheduled, removed when it is cancelled.

One step does all three: it makes each calendar agree with the booking as stored, so a retry,
or a step that runs after a later one, does no harm. An event whose booking did not change is
left alone: the provider's own edits to it are theirs. A calendar never fails the booking: a
broken grant marks its connection broken, a refusal is noted on the connection, and only a
vendor that cannot answer now makes the step retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from temporalio.exceptions import ApplicationError

from activities.calendar_sync import CALENDAR_BUSY
from activities.calendars.accounts import CalendarAccounts
from activities.calendars.port import (
    CalendarAccount,
    CalendarRefused,
    CalendarRetryLater,
    GrantBroken,
)
from contract.calendars import ConnectionStatus, EventToWrite
from db import calendar_connections as store
from db import calendar_events as events
from db.engine import Database
from db.sealed import SealBroken
from domain.booking_state import BookingStatus
from domain.timezones import utc_now

log = logging.getLogger(__name__)


class BookingCalendars:
    def __init__(
        self,
        db: Database,
        accounts: CalendarAccounts,
        public_base_url: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._link_base = public_base_url.rstrip("/")
        self._clock = clock

    async def mirror(self, booking_id: UUID) -> int:
        """Make every connected calendar agree with the booking; how many it wrote or removed."""
        booking = await events.booking_to_mirror(self._db, booking_id)
        if booking is None:
            return 0
        linked = {link.connection_id: link for link in await events.links(self._db, booking_id)}
        shown = booking.status == BookingStatus.CONFIRMED
        changed, busy = 0, []
        for connection in await store.of_provider(self._db, booking.provider_id):
            if connection.status != ConnectionStatus.ACTIVE:
                continue
            link = linked.get(connection.id)
            destination = connection.destination_calendar if shown else None
            wanted = (
                None
                if destination is None
                else events.Link(connection.id, destination, "", booking.start, booking.end)
            )
            if _same(link, wanted):
                continue
            try:
                changed += await self._apply(connection, booking, link, wanted)
            except (GrantBroken, SealBroken) as broken:
                await store.mark_broken(self._db, connection.id, str(broken), now=self._clock())
            except CalendarRefused as refused:
                await store.sync_failed(
                    self._db, connection.id, f"writing a booking: {refused}", now=self._clock()
                )
            except CalendarRetryLater as later:
                busy.append(later)
        if busy:
            wait = max((b.retry_after for b in busy if b.retry_after is not None), default=None)
            raise ApplicationError(
                f"{len(busy)} calendar(s) cannot answer now: {busy[0]}",
                type=CALENDAR_BUSY,
                next_retry_delay=timedelta(seconds=wait) if wait is not None else None,
            )
        return changed

    async def _apply(
        self,
        connection: store.Connection,
        booking: events.BookingToMirror,
        link: events.Link | None,
        wanted: events.Link | None,
    ) -> int:
        account: CalendarAccount = await self._accounts.open(connection)
        try:
            if link is not None and (wanted is None or wanted.calendar_id != link.calendar_id):
                await account.delete_event(link.calendar_id, booking.booking_id)
                await events.removed(self._db, booking.booking_id, connection.id)
            if wanted is None:
                return 1
            event = EventToWrite(
                booking_id=booking.booking_id,
                summary=f"{booking.service_name}: {booking.customer_name}",
                description=f"Booking {self._link_base}/appointments/{booking.booking_id}",
                start=booking.start,
                end=booking.end,
                timezone=booking.provider_timezone,
            )
            done = await account.put_event(wanted.calendar_id, event)
            await events.written(
                self._db,
                booking.booking_id,
                wanted._replace(event_id=done.event_id),
                etag=done.etag,
                now=self._clock(),
            )
            return 1
        finally:
            await account.aclose()


def _same(link: events.Link | None, wanted: events.Link | None) -> bool:
    if link is None or wanted is None:
        return link is wanted
    return (link.calendar_id, link.start, link.end) == (
        wanted.calendar_id,
        wanted.start,
        wanted.end,
    )
