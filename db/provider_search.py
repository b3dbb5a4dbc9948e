"""Public provider search: one page of providers chosen, counted and ordered in SQL, and the
free time of that page's providers only, their calendars read at once (db.search_calendars).

With a date, SQL keeps the providers that offer a matching service and work on a local date
the asked-for day touches (weekly hours or an override with hours, and no holiday), within the
service's notice and horizon. Whether bookings leave a slot free is computed for the page
alone; a provider whose day is fully booked stays on its page with no free slots, so pages and
the count never depend on every candidate's calendar.

Without a date, each service of the page shows its next free slot within NEXT_FREE_DAYS, found
a day at a time (domain.first_free): most cost one day's sweep.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db import search_calendars
from db.engine import Database
from db.models import (
    Holiday,
    ProviderProfile,
    ScheduleOverride,
    Service,
    WorkingHours,
)
from db.schedule import booking_rules
from domain.availability import (
    BookingRules,
    BusyTimes,
    Schedule,
    Slot,
    free_slots,
    local_day_bounds,
)
from domain.first_free import first_free_slot

_ONE_DAY = timedelta(days=1)
NEXT_FREE_DAYS = 14


@dataclass(frozen=True, slots=True)
class FreeTime:
    """A service's free slots on the date asked about (None without one), and the first of them
    (without a date: the next one, if within NEXT_FREE_DAYS)."""

    count: int | None
    first: Slot | None


@dataclass(frozen=True, slots=True)
class Found:
    provider: ProviderProfile
    services: list[tuple[Service, FreeTime]]


@dataclass(frozen=True, slots=True)
class FoundPage:
    found: list[Found]
    count: int


async def search(
    db: Database,
    *,
    service_text: str | None,
    window: tuple[datetime, datetime] | None,
    now: datetime,
    limit: int,
    offset: int,
) -> FoundPage:
    """Providers with an active service named like `service_text`, by name; with a `window`
    (a local day's bounds), only those working then, each service with its free time in it;
    without, each service with its next free slot."""
    async with db.session() as session:
        offered = _offered(service_text, window, now)
        working = await _working(session, window) if window else None
        # Uncorrelated IN: each subquery runs once, not once per provider.
        wanted: ColumnElement[bool] = ProviderProfile.id.in_(
            select(Service.provider_id).where(offered)
        )
        if working is not None:
            wanted = and_(wanted, working)
        rows = (
            await session.execute(
                select(ProviderProfile, func.count().over())
                .where(wanted)
                .order_by(ProviderProfile.display_name, ProviderProfile.id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
        if rows:
            count = rows[0][1]
        else:
            count = (
                await session.scalar(
                    select(func.count()).select_from(ProviderProfile).where(wanted)
                )
                or 0
            )
        profiles = [profile for profile, _ in rows]
        ids = [p.id for p in profiles]
        services: dict[UUID, list[Service]] = defaultdict(list)
        for service in await session.scalars(
            select(Service).where(Service.provider_id.in_(ids), offered).order_by(Service.name)
        ):
            services[service.provider_id].append(service)
        free: dict[UUID, FreeTime] = {}
        if ids:
            ahead = window or (now, now + NEXT_FREE_DAYS * _ONE_DAY)
            free = await _free_time(session, profiles, services, ahead, now, counted=bool(window))
    found = [
        Found(p, [(s, free.get(s.id, FreeTime(0, None))) for s in services[p.id]]) for p in profiles
    ]
    return FoundPage(found, int(count))


def _offered(
    service_text: str | None, window: tuple[datetime, datetime] | None, now: datetime
) -> ColumnElement[bool]:
    """An active service named like the text, bookable in the window."""
    clauses: list[ColumnElement[bool]] = [Service.active.is_(True)]
    if service_text:
        clauses.append(func.lower(Service.name).contains(service_text.lower(), autoescape=True))
    if window:
        # free_slots offers nothing before now + notice nor after now + horizon.
        to_end = (window[1] - now).total_seconds()
        to_start = (window[0] - now).total_seconds()
        clauses.append(Service.min_notice_minutes * 60 < literal(to_end, Float))
        clauses.append(Service.horizon_days * 86400 >= literal(to_start, Float))
    return and_(*clauses)


async def _working(session: AsyncSession, window: tuple[datetime, datetime]) -> ColumnElement[bool]:
    """The provider row works on a local date (in its own zone) that the window touches."""
    zones = await session.scalars(select(ProviderProfile.timezone).distinct())
    by_dates: dict[tuple[date, ...], list[str]] = defaultdict(list)
    for zone in zones:
        by_dates[_local_dates(window, ZoneInfo(zone))].append(zone)
    return or_(
        *(
            and_(ProviderProfile.timezone.in_(names), or_(*(_works_on(d) for d in dates)))
            for dates, names in by_dates.items()
        )
    )


def _local_dates(window: tuple[datetime, datetime], zone: ZoneInfo) -> tuple[date, ...]:
    """The local dates of `zone` whose midnights (resolved as the domain does) bound part of it."""
    start, end = window
    first = start.astimezone(zone).date() - _ONE_DAY
    last = end.astimezone(zone).date() + _ONE_DAY
    days = (first + k * _ONE_DAY for k in range((last - first).days + 1))
    return tuple(d for d in days if (b := local_day_bounds(d, zone))[0] < end and b[1] > start)


def _works_on(day: date) -> ColumnElement[bool]:
    """Holiday: closed; else an override's hours (no hours: closed); else the weekday's."""
    mine = ProviderProfile.id
    holiday = select(Holiday.provider_id).where(Holiday.day == day)
    override = select(ScheduleOverride.provider_id).where(ScheduleOverride.day == day)
    override_hours = override.where(ScheduleOverride.start_time.is_not(None))
    weekly = select(WorkingHours.provider_id).where(WorkingHours.weekday == day.weekday())
    return and_(
        mine.not_in(holiday),
        or_(mine.in_(override_hours), and_(mine.not_in(override), mine.in_(weekly))),
    )


async def _free_time(
    session: AsyncSession,
    profiles: Sequence[ProviderProfile],
    services: dict[UUID, list[Service]],
    window: tuple[datetime, datetime],
    now: datetime,
    *,
    counted: bool,
) -> dict[UUID, FreeTime]:
    """Each service's free slots in the window (`counted`), or only its first, from the page's
    calendars read at once."""
    ids = [p.id for p in profiles]
    rules = {s.id: _rules(s) for listed in services.values() for s in listed}
    reach = max(
        (r.duration + r.buffer_before + r.buffer_after for r in rules.values()), default=_ONE_DAY
    )
    dates = [d for p in profiles for d in _local_dates(window, ZoneInfo(p.timezone))]
    hours = await search_calendars.hours(session, ids, min(dates), max(dates))
    spans = await search_calendars.busy(session, ids, window[0] - reach, window[1] + reach, now)
    capped = [sid for sid, r in rules.items() if r.max_per_day is not None]
    booked = await search_calendars.booked_starts(session, capped, window, now) if capped else {}
    free: dict[UUID, FreeTime] = {}
    for profile in profiles:
        weekly, overrides, holidays = hours.get(profile.id, ({}, {}, set()))
        schedule = Schedule(ZoneInfo(profile.timezone), weekly, overrides, frozenset(holidays))
        busy = BusyTimes.from_pairs(spans.get(profile.id, ()))
        for service in services[profile.id]:
            service_rules, starts = rules[service.id], booked.get(service.id, ())
            if counted:
                slots = free_slots(
                    schedule,
                    service_rules,
                    busy=busy,
                    booked_starts=starts,
                    window_start=window[0],
                    window_end=window[1],
                    now=now,
                )
                free[service.id] = FreeTime(len(slots), slots[0] if slots else None)
            else:
                first = first_free_slot(
                    schedule,
                    service_rules,
                    busy=busy,
                    booked_starts=starts,
                    window_start=window[0],
                    window_end=window[1],
                    now=now,
                )
                free[service.id] = FreeTime(None, first)
    return free


def _rules(service: Service) -> BookingRules:
    return booking_rules(
        service.duration_minutes,
        service.buffer_before_minutes,
        service.buffer_after_minutes,
        service.slot_interval_minutes,
        service.min_notice_minutes,
        service.horizon_days,
        service.max_per_day,
    )
