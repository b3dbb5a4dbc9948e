"""The calendars of a page of providers, each kind read for all of them in one statement."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    Integer,
    Time,
    and_,
    cast,
    literal,
    not_,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Appointment, ExternalBusyBlock, Holiday, ScheduleOverride, WorkingHours
from domain.availability import WorkingInterval
from domain.booking_state import ACTIVE_STATUSES, HOLD_STATUSES

_ONE_DAY = timedelta(days=1)
_WEEKLY, _OVERRIDE, _HOLIDAY = range(3)

Hours = tuple[dict[int, list[WorkingInterval]], dict[date, list[WorkingInterval]], set[date]]


async def hours(
    session: AsyncSession, ids: list[UUID], first: date, last: date
) -> dict[UUID, Hours]:
    """Weekly hours, overrides and holidays of the providers, for dates in [first, last]."""
    no_time, no_day, no_weekday = cast(null(), Time), cast(null(), Date), cast(null(), Integer)
    statement: CompoundSelect[Any] = union_all(
        select(
            literal(_WEEKLY),
            WorkingHours.provider_id,
            WorkingHours.weekday,
            no_day,
            WorkingHours.start_time,
            WorkingHours.end_time,
        ).where(WorkingHours.provider_id.in_(ids)),
        select(
            literal(_OVERRIDE),
            ScheduleOverride.provider_id,
            no_weekday,
            ScheduleOverride.day,
            ScheduleOverride.start_time,
            ScheduleOverride.end_time,
        ).where(ScheduleOverride.provider_id.in_(ids), ScheduleOverride.day.between(first, last)),
        select(
            literal(_HOLIDAY), Holiday.provider_id, no_weekday, Holiday.day, no_time, no_time
        ).where(Holiday.provider_id.in_(ids), Holiday.day.between(first, last)),
    )
    found: dict[UUID, Hours] = {}
    for kind, provider_id, weekday, day, opens, closes in await session.execute(statement):
        weekly, overrides, holidays = found.setdefault(provider_id, ({}, {}, set()))
        if kind == _WEEKLY:
            weekly.setdefault(weekday, []).append(WorkingInterval(opens, closes))
        elif kind == _OVERRIDE:
            on_day = overrides.setdefault(day, [])
            if opens is not None and closes is not None:
                on_day.append(WorkingInterval(opens, closes))
        else:
            holidays.add(day)
    return found


def _in_force(now: datetime) -> ColumnElement[bool]:
    """An active booking, and not a hold that has run out."""
    lapsed = and_(Appointment.status.in_(HOLD_STATUSES), Appointment.hold_expires_at <= now)
    return and_(Appointment.status.in_(ACTIVE_STATUSES), not_(lapsed))


async def busy(
    session: AsyncSession, ids: list[UUID], start: datetime, end: datetime, now: datetime
) -> dict[UUID, list[tuple[datetime, datetime]]]:
    """Busy spans (bookings' blocked spans, calendar blocks) of the providers near the window."""
    statement = union_all(
        select(Appointment.provider_id, Appointment.blocked_start, Appointment.blocked_end).where(
            Appointment.provider_id.in_(ids),
            _in_force(now),
            Appointment.blocked_start < end,
            Appointment.blocked_end > start,
        ),
        select(
            ExternalBusyBlock.provider_id, ExternalBusyBlock.start_at, ExternalBusyBlock.end_at
        ).where(
            ExternalBusyBlock.provider_id.in_(ids),
            ExternalBusyBlock.start_at < end,
            ExternalBusyBlock.end_at > start,
        ),
    )
    found: dict[UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
    for provider_id, opens, closes in await session.execute(statement):
        found[provider_id].append((opens, closes))
    return found


async def booked_starts(
    session: AsyncSession, service_ids: list[UUID], window: tuple[datetime, datetime], now: datetime
) -> dict[UUID, list[datetime]]:
    """Booked starts of the daily-capped services, on any local date the window touches."""
    rows = await session.execute(
        select(Appointment.service_id, Appointment.start_at).where(
            Appointment.service_id.in_(service_ids),
            _in_force(now),
            Appointment.start_at >= window[0] - 2 * _ONE_DAY,
            Appointment.start_at < window[1] + 2 * _ONE_DAY,
        )
    )
    found: dict[UUID, list[datetime]] = defaultdict(list)
    for service_id, start in rows:
        found[service_id].append(start)
    return found
