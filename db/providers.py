"""Providers manage their profile, services, hours, date overrides and holidays."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from db.engine import Database
from db.models import Holiday, ProviderProfile, ScheduleOverride, Service, WorkingHours


class AlreadyExists(Exception):
    pass


async def get_profile(db: Database, provider_id: UUID) -> ProviderProfile | None:
    async with db.session() as session:
        return await session.get(ProviderProfile, provider_id)


async def update_profile(
    db: Database, provider_id: UUID, changes: Mapping[str, Any]
) -> ProviderProfile:
    async with db.session() as session, session.begin():
        profile = await session.get(ProviderProfile, provider_id)
        assert profile is not None, "the signed-in provider has a profile"
        for name, value in changes.items():
            setattr(profile, name, value)
        return profile


async def list_services(
    db: Database, provider_id: UUID, *, include_inactive: bool = False
) -> list[Service]:
    query = select(Service).where(Service.provider_id == provider_id).order_by(Service.name)
    if not include_inactive:
        query = query.where(Service.active.is_(True))
    async with db.session() as session:
        return list(await session.scalars(query))


async def create_service(db: Database, provider_id: UUID, fields: Mapping[str, Any]) -> Service:
    service = Service(provider_id=provider_id, active=True, created_at=datetime.now(UTC), **fields)
    async with db.session() as session, session.begin():
        session.add(service)
    return service


async def update_service(
    db: Database, provider_id: UUID, service_id: UUID, changes: Mapping[str, Any]
) -> Service | None:
    async with db.session() as session, session.begin():
        service = await session.get(Service, service_id)
        if service is None or service.provider_id != provider_id:
            return None
        for name, value in changes.items():
            setattr(service, name, value)
        return service


async def weekly_hours(db: Database, provider_id: UUID) -> list[tuple[int, time, time]]:
    async with db.session() as session:
        rows = await session.execute(
            select(WorkingHours.weekday, WorkingHours.start_time, WorkingHours.end_time)
            .where(WorkingHours.provider_id == provider_id)
            .order_by(WorkingHours.weekday, WorkingHours.start_time)
        )
        return [(weekday, start, end) for weekday, start, end in rows]


async def replace_weekly_hours(
    db: Database, provider_id: UUID, hours: Sequence[tuple[int, time, time]]
) -> None:
    """Replace the whole weekly schedule in one transaction: readers see old or new, never half."""
    async with db.session() as session, session.begin():
        await session.execute(delete(WorkingHours).where(WorkingHours.provider_id == provider_id))
        session.add_all(
            WorkingHours(provider_id=provider_id, weekday=weekday, start_time=start, end_time=end)
            for weekday, start, end in hours
        )


async def overrides(
    db: Database, provider_id: UUID, first: date, last: date
) -> dict[date, list[tuple[time, time]]]:
    """Override hours per date in [first, last]; an empty list is a closed date."""
    async with db.session() as session:
        rows = await session.execute(
            select(ScheduleOverride.day, ScheduleOverride.start_time, ScheduleOverride.end_time)
            .where(
                ScheduleOverride.provider_id == provider_id,
                ScheduleOverride.day.between(first, last),
            )
            .order_by(ScheduleOverride.day, ScheduleOverride.start_time)
        )
        result: dict[date, list[tuple[time, time]]] = {}
        for day, opens, closes in rows:
            hours = result.setdefault(day, [])
            if opens is not None and closes is not None:
                hours.append((opens, closes))
        return result


async def set_override(
    db: Database, provider_id: UUID, day: date, hours: Sequence[tuple[time, time]]
) -> None:
    """Give `day` these hours instead of its weekday's; no hours closes it."""
    rows: list[tuple[time | None, time | None]] = list(hours) or [(None, None)]
    async with db.session() as session, session.begin():
        await session.execute(
            delete(ScheduleOverride).where(
                ScheduleOverride.provider_id == provider_id, ScheduleOverride.day == day
            )
        )
        session.add_all(
            ScheduleOverride(provider_id=provider_id, day=day, start_time=opens, end_time=closes)
            for opens, closes in rows
        )


async def clear_override(db: Database, provider_id: UUID, day: date) -> bool:
    async with db.session() as session, session.begin():
        result = await session.execute(
            delete(ScheduleOverride).where(
                ScheduleOverride.provider_id == provider_id, ScheduleOverride.day == day
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def holidays(db: Database, provider_id: UUID) -> list[Holiday]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(Holiday).where(Holiday.provider_id == provider_id).order_by(Holiday.day)
            )
        )


async def add_holiday(db: Database, provider_id: UUID, day: date, name: str) -> Holiday:
    holiday = Holiday(provider_id=provider_id, day=day, name=name)
    try:
        async with db.session() as session, session.begin():
            session.add(holiday)
    except IntegrityError as err:
        raise AlreadyExists(day) from err
    return holiday


async def remove_holiday(db: Database, provider_id: UUID, day: date) -> bool:
    async with db.session() as session, session.begin():
        result = await session.execute(
            delete(Holiday).where(Holiday.provider_id == provider_id, Holiday.day == day)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def search(
    db: Database, *, service_text: str | None
) -> list[tuple[ProviderProfile, list[Service]]]:
    """Providers with their active services whose name contains `service_text` (all, if None)."""
    query = (
        select(ProviderProfile, Service)
        .join(Service, Service.provider_id == ProviderProfile.id)
        .where(Service.active.is_(True))
        .order_by(ProviderProfile.display_name, ProviderProfile.id, Service.name)
    )
    if service_text:
        query = query.where(
            func.lower(Service.name).contains(service_text.lower(), autoescape=True)
        )
    found: dict[UUID, tuple[ProviderProfile, list[Service]]] = {}
    async with db.session() as session:
        for profile, service in await session.execute(query):
            found.setdefault(profile.id, (profile, []))[1].append(service)
    return list(found.values())
