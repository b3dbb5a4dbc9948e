"""Providers manage their profile, services, hours, date overrides and holidays."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import audit
from db.availability_changes import announce
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
        await _audit(session, provider_id, "provider.profile_changed", fields=sorted(changes))
        if "timezone" in changes:
            await announce(await session.connection(), provider_id, None)
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
        await session.flush()
        await _audit(session, provider_id, "provider.service_created", service_id=service.id)
        await announce(await session.connection(), provider_id, None)
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
        await _audit(
            session,
            provider_id,
            "provider.service_changed",
            service_id=service_id,
            fields=sorted(changes),
        )
        await announce(await session.connection(), provider_id, None)
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
        await _audit(session, provider_id, "provider.hours_replaced")
        await announce(await session.connection(), provider_id, None)


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
        await _audit(session, provider_id, "provider.override_set", day=day)
        await announce(await session.connection(), provider_id, [day])


async def clear_override(db: Database, provider_id: UUID, day: date) -> bool:
    async with db.session() as session, session.begin():
        result = await session.execute(
            delete(ScheduleOverride).where(
                ScheduleOverride.provider_id == provider_id, ScheduleOverride.day == day
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        await _audit(session, provider_id, "provider.override_cleared", day=day)
        await announce(await session.connection(), provider_id, [day])
        return True


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
            await session.flush()
            await _audit(session, provider_id, "provider.holiday_added", day=day)
            await announce(await session.connection(), provider_id, [day])
    except IntegrityError as err:
        raise AlreadyExists(day) from err
    return holiday


async def remove_holiday(db: Database, provider_id: UUID, day: date) -> bool:
    async with db.session() as session, session.begin():
        result = await session.execute(
            delete(Holiday).where(Holiday.provider_id == provider_id, Holiday.day == day)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        await _audit(session, provider_id, "provider.holiday_removed", day=day)
        await announce(await session.connection(), provider_id, [day])
        return True


async def _audit(session: AsyncSession, provider_id: UUID, action: str, **detail: Any) -> None:
    """The provider changed their own settings: the entry commits with the change."""
    connection = await session.connection()
    actor = await audit.provider_actor(connection, provider_id)
    await audit.record(
        connection,
        actor,
        action,
        now=datetime.now(UTC),
        account_id=actor.id,
        detail={"provider_id": provider_id, **detail},
    )
