"""A provider's scheduling rules and busy time, read from the database into the domain's terms.

The hold (inside its serialized transaction) and the availability endpoint both read through
here, so what a customer is offered and what the booking accepts cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import Database
from db.models import (
    Appointment,
    ExternalBusyBlock,
    Holiday,
    ProviderProfile,
    ScheduleOverride,
    Service,
    WorkingHours,
)
from domain.availability import BookingRules, Busy, Schedule, Slot, WorkingInterval, free_slots
from domain.booking_state import ACTIVE_STATUSES, HOLD_STATUSES

# Local dates a UTC window touches can differ from its UTC dates by up to a day either way.
_DATE_MARGIN = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class BookingContext:
    """Everything that decides whether a start is bookable for one service of one provider."""

    provider: ProviderProfile
    service: Service
    schedule: Schedule
    rules: BookingRules
    busy: list[Busy]
    booked_starts: list[datetime]


async def service_with_provider(
    session: AsyncSession, service_id: UUID
) -> tuple[Service, ProviderProfile] | None:
    row = (
        await session.execute(
            select(Service, ProviderProfile)
            .join(ProviderProfile, Service.provider_id == ProviderProfile.id)
            .where(Service.id == service_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def open_slots(
    db: Database,
    provider_id: UUID,
    service_id: UUID,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
) -> list[Slot] | None:
    """Free slots of an active service starting in the window; None if there is no such service."""
    async with db.session() as session:
        found = await service_with_provider(session, service_id)
        if found is None or not found[0].active or found[1].id != provider_id:
            return None
        context = await load_context(session, found[1], found[0], window_start, window_end, now)
    return free_slots(
        context.schedule,
        context.rules,
        busy=context.busy,
        booked_starts=context.booked_starts,
        window_start=window_start,
        window_end=window_end,
        now=now,
    )


def rules_of(service: Service) -> BookingRules:
    return BookingRules(
        duration=timedelta(minutes=service.duration_minutes),
        buffer_before=timedelta(minutes=service.buffer_before_minutes),
        buffer_after=timedelta(minutes=service.buffer_after_minutes),
        slot_interval=timedelta(minutes=service.slot_interval_minutes),
        min_notice=timedelta(minutes=service.min_notice_minutes),
        horizon=timedelta(days=service.horizon_days),
        max_per_day=service.max_per_day,
    )


async def load_context(
    session: AsyncSession,
    provider: ProviderProfile,
    service: Service,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
) -> BookingContext:
    """Rules and busy time of `provider` relevant to starts in [window_start, window_end)."""
    rules = rules_of(service)
    zone = ZoneInfo(provider.timezone)
    first_day = (window_start.astimezone(zone) - _DATE_MARGIN).date()
    last_day = (window_end.astimezone(zone) + _DATE_MARGIN).date()
    schedule = await _schedule(session, provider, zone, first_day, last_day)
    # A slot's blocked span reaches past the window by its buffers and duration.
    busy_start = window_start - rules.buffer_before - rules.buffer_after
    busy_end = window_end + rules.duration + rules.buffer_before + rules.buffer_after
    busy = await _busy(session, provider.id, busy_start, busy_end, now)
    booked = await _booked_starts(
        session, service.id, window_start - 2 * _DATE_MARGIN, window_end + 2 * _DATE_MARGIN, now
    )
    return BookingContext(provider, service, schedule, rules, busy, booked)


async def _schedule(
    session: AsyncSession, provider: ProviderProfile, zone: ZoneInfo, first: date, last: date
) -> Schedule:
    weekly: dict[int, list[WorkingInterval]] = {}
    for weekday, start, end in await session.execute(
        select(WorkingHours.weekday, WorkingHours.start_time, WorkingHours.end_time).where(
            WorkingHours.provider_id == provider.id
        )
    ):
        weekly.setdefault(weekday, []).append(WorkingInterval(start, end))
    overrides: dict[date, list[WorkingInterval]] = {}
    for day, opens, closes in await session.execute(
        select(ScheduleOverride.day, ScheduleOverride.start_time, ScheduleOverride.end_time).where(
            ScheduleOverride.provider_id == provider.id,
            ScheduleOverride.day.between(first, last),
        )
    ):
        hours = overrides.setdefault(day, [])
        if opens is not None and closes is not None:
            hours.append(WorkingInterval(opens, closes))
    holidays = await session.scalars(
        select(Holiday.day).where(
            Holiday.provider_id == provider.id, Holiday.day.between(first, last)
        )
    )
    return Schedule(zone, weekly, overrides, frozenset(holidays))


def _lapsed_hold(now: datetime) -> ColumnElement[bool]:
    return and_(Appointment.status.in_(HOLD_STATUSES), Appointment.hold_expires_at <= now)


async def _busy(
    session: AsyncSession, provider_id: UUID, start: datetime, end: datetime, now: datetime
) -> list[Busy]:
    appointments = await session.execute(
        select(Appointment.blocked_start, Appointment.blocked_end).where(
            Appointment.provider_id == provider_id,
            Appointment.status.in_(ACTIVE_STATUSES),
            not_(_lapsed_hold(now)),
            Appointment.blocked_start < end,
            Appointment.blocked_end > start,
        )
    )
    external = await session.execute(
        select(ExternalBusyBlock.start_at, ExternalBusyBlock.end_at).where(
            ExternalBusyBlock.provider_id == provider_id,
            ExternalBusyBlock.start_at < end,
            ExternalBusyBlock.end_at > start,
        )
    )
    return [Busy(s, e) for s, e in appointments] + [Busy(s, e) for s, e in external]


async def _booked_starts(
    session: AsyncSession, service_id: UUID, start: datetime, end: datetime, now: datetime
) -> list[datetime]:
    starts = await session.scalars(
        select(Appointment.start_at).where(
            Appointment.service_id == service_id,
            Appointment.status.in_(ACTIVE_STATUSES),
            not_(_lapsed_hold(now)),
            Appointment.start_at >= start,
            Appointment.start_at < end,
        )
    )
    return list(starts)
