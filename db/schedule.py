"""A provider's scheduling rules and busy time, read from the database into the domain's terms.

The hold (inside its serialized transaction) and the availability endpoint both read through
here, so what a customer is offered and what the booking accepts cannot disagree. The statements
themselves are in db.calendar_statement.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from db.calendar_statement import (
    BOOKED_ROW,
    BUSY_ROW,
    CALENDARS,
    OFFER,
    OVERRIDE_ROW,
    STAMP_ROW,
    WEEKLY_ROW,
)
from db.engine import Database
from domain.availability import (
    BookingRules,
    Busy,
    BusyTimes,
    Schedule,
    Slot,
    WorkingInterval,
    free_slots,
)

T = TypeVar("T")

# Local dates a UTC window touches can differ from its UTC dates by up to a day either way.
_DATE_MARGIN = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class BookingContext:
    """Everything that decides whether a start is bookable for one service of one provider."""

    schedule: Schedule
    rules: BookingRules
    busy: list[Busy]
    booked_starts: list[datetime]


@dataclass(frozen=True, slots=True)
class Offer:
    """A provider's zone and, when it offers the service and the service is active, its rules."""

    provider_id: UUID
    timezone: str
    service_id: UUID
    rules: BookingRules | None
    # The zone and rules as one text, read again by the calendar statement (see `reading`).
    stamp: str


class OfferChanged(Exception):
    """The provider's zone or the service's rules changed between the offer and its calendar."""


class CalendarReader:
    """Offers and their free slots, read consistently (see `reading`)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def offer(self, provider_id: UUID, service_id: UUID) -> Offer | None:
        """The provider's zone and the service's rules; None if there is no such provider."""
        row = (
            await self._connection.execute(
                OFFER, {"provider_id": provider_id, "service_id": service_id}
            )
        ).first()
        if row is None:
            return None
        timezone, stamp, found, *rules = row
        rules_found = None if found is None else booking_rules(*rules)
        return Offer(provider_id, timezone, service_id, rules_found, stamp)

    async def free_slots(
        self, offer: Offer, window_start: datetime, window_end: datetime, now: datetime
    ) -> list[Slot]:
        """Free slots of the offer's service starting in the window; none without a service.
        Raises OfferChanged if the zone or the rules are no longer those of `offer`."""
        if offer.rules is None:
            return []
        schedule, busy, booked, stamp = await _calendar(
            self._connection,
            offer.provider_id,
            offer.service_id,
            ZoneInfo(offer.timezone),
            offer.rules,
            window_start,
            window_end,
            now,
            stamped=True,
        )
        if stamp != offer.stamp:
            raise OfferChanged()
        return free_slots(
            schedule,
            offer.rules,
            busy=BusyTimes.from_sorted(*busy),
            booked_starts=booked,
            window_start=window_start,
            window_end=window_end,
            now=now,
        )


@asynccontextmanager
async def reading(db: Database) -> AsyncIterator[CalendarReader]:
    """A Core connection, not an ORM session: these reads make no objects, and the session's
    bookkeeping was a tenth of the 90-day availability's time.

    On PostgreSQL the reads run in autocommit (Database.reading), each statement in its own
    snapshot. The calendar statement therefore reads the offer's zone and rules again, and
    free_slots raises OfferChanged unless they are the ones the offer read: slots are only ever
    computed from one moment's rules and calendar.
    """
    async with db.reading() as connection:
        yield CalendarReader(connection)


async def consistently(read: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Run a read of an offer and its calendar again while the offer changes under it."""
    for _ in range(attempts - 1):
        try:
            return await read()
        except OfferChanged:
            continue
    return await read()


async def open_slots(
    db: Database,
    provider_id: UUID,
    service_id: UUID,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
) -> list[Slot] | None:
    """Free slots of an active service starting in the window; None if there is no such service."""
    async with reading(db) as calendar:

        async def read() -> list[Slot] | None:
            offer = await calendar.offer(provider_id, service_id)
            if offer is None or offer.rules is None:
                return None
            return await calendar.free_slots(offer, window_start, window_end, now)

        return await consistently(read)


async def load_context(
    connection: AsyncConnection,
    provider_id: UUID,
    service_id: UUID,
    timezone: str,
    rules: BookingRules,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    *,
    moving: UUID | None = None,
) -> BookingContext:
    """Schedule and busy time of the provider relevant to starts in [window_start, window_end),
    read inside the caller's transaction (a hold's or a move's: the booking being moved is not
    busy time for its own new start)."""
    schedule, busy, booked, _ = await _calendar(
        connection,
        provider_id,
        service_id,
        ZoneInfo(timezone),
        rules,
        window_start,
        window_end,
        now,
        stamped=False,
        moving=moving,
    )
    spans = [Busy(start, end) for start, end in zip(*busy, strict=True)]
    return BookingContext(schedule, rules, spans, booked)


def booking_rules(
    duration: int,
    buffer_before: int,
    buffer_after: int,
    slot_interval: int,
    min_notice: int,
    horizon_days: int,
    max_per_day: int | None,
) -> BookingRules:
    """The rules from the values of calendar_statement.RULE_COLUMNS, in their order."""
    return BookingRules(
        duration=timedelta(minutes=duration),
        buffer_before=timedelta(minutes=buffer_before),
        buffer_after=timedelta(minutes=buffer_after),
        slot_interval=timedelta(minutes=slot_interval),
        min_notice=timedelta(minutes=min_notice),
        horizon=timedelta(days=horizon_days),
        max_per_day=max_per_day,
    )


_NOBODY = UUID(int=0)


async def _calendar(
    connection: AsyncConnection,
    provider_id: UUID,
    service_id: UUID,
    zone: ZoneInfo,
    rules: BookingRules,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    *,
    stamped: bool,
    moving: UUID | None = None,
) -> tuple[Schedule, tuple[list[datetime], list[datetime]], list[datetime], str | None]:
    """The schedule, busy spans (their starts and their ends, by start, see _all_joined),
    booked starts that decide starts in the window, and (if `stamped`) the offer's stamp as
    read alongside."""
    params: dict[str, Any] = {
        "provider_id": provider_id,
        "service_id": service_id,
        "first_day": (window_start.astimezone(zone) - _DATE_MARGIN).date(),
        "last_day": (window_end.astimezone(zone) + _DATE_MARGIN).date(),
        # A slot's blocked span reaches past the window by its buffers and duration.
        "busy_start": window_start - rules.buffer_before - rules.buffer_after,
        "busy_end": window_end + rules.duration + rules.buffer_before + rules.buffer_after,
        "now": now,
        "moving_id": moving or _NOBODY,
    }
    # Booked starts only count against a daily maximum; without one they decide nothing.
    with_booked = rules.max_per_day is not None
    query = CALENDARS[with_booked, stamped]
    if with_booked:
        params["booked_start"] = window_start - 2 * _DATE_MARGIN
        params["booked_end"] = window_end + 2 * _DATE_MARGIN
    weekly: dict[int, list[WorkingInterval]] = {}
    overrides: dict[date, list[WorkingInterval]] = {}
    holidays: set[date] = set()
    busy: tuple[list[datetime], list[datetime]] = ([], [])
    booked: list[datetime] = []
    stamp = None
    for kind, weekday, day, opens, closes, instants in (
        await connection.execute(query, params)
    ).all():
        if kind == BUSY_ROW:
            if instants:
                ends = list(map(datetime.fromisoformat, instants.split(",")))
                busy = ends[0::2], ends[1::2]
        elif kind == STAMP_ROW:
            stamp = instants
        elif kind == BOOKED_ROW:
            if instants:
                booked = list(map(datetime.fromisoformat, instants.split(",")))
        elif kind == WEEKLY_ROW:
            weekly.setdefault(weekday, []).append(WorkingInterval(opens, closes))
        elif kind == OVERRIDE_ROW:
            hours = overrides.setdefault(day, [])
            if opens is not None and closes is not None:
                hours.append(WorkingInterval(opens, closes))
        else:
            holidays.add(day)
    return Schedule(zone, weekly, overrides, frozenset(holidays)), busy, booked, stamp
