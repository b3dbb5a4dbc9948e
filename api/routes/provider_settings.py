"""A provider manages their own profile, services, hours, date overrides and holidays."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from api.deps import CurrentProvider, DatabaseDep
from api.errors import APIError, DocumentedErrorRoute, not_found
from api.schemas.common import errors
from api.schemas.providers import (
    CalendarDay,
    HolidayCreate,
    HolidayPublic,
    Interval,
    OverrideBody,
    OverridePublic,
    ProfileUpdate,
    ProviderPublic,
    ServiceCreate,
    ServicePublic,
    ServiceUpdate,
    WeeklyHours,
)
from db import providers

router = APIRouter(
    prefix="/providers/me",
    tags=["provider settings"],
    route_class=DocumentedErrorRoute,
    responses=errors(400, 401, 403, 404, 409, 413, 422, 503),
)


def _provider_id(provider: CurrentProvider) -> UUID:
    assert provider.provider_id is not None
    return provider.provider_id


@router.get("")
async def my_profile(provider: CurrentProvider, db: DatabaseDep) -> ProviderPublic:
    """My provider profile with all my services, inactive ones too."""
    provider_id = _provider_id(provider)
    profile = await providers.get_profile(db, provider_id)
    assert profile is not None
    services = await providers.list_services(db, provider_id, include_inactive=True)
    return ProviderPublic.from_rows(profile, services)


@router.patch("")
async def update_my_profile(
    body: ProfileUpdate, provider: CurrentProvider, db: DatabaseDep
) -> ProviderPublic:
    """Change my display name, time zone or whether bookings confirm without my approval."""
    provider_id = _provider_id(provider)
    changes = body.model_dump(exclude_unset=True)
    if None in changes.values():
        raise APIError(422, "validation_error", "profile fields cannot be set to null")
    profile = await providers.update_profile(db, provider_id, changes)
    services = await providers.list_services(db, provider_id, include_inactive=True)
    return ProviderPublic.from_rows(profile, services)


@router.post("/services", status_code=201)
async def create_service(
    body: ServiceCreate, provider: CurrentProvider, db: DatabaseDep
) -> ServicePublic:
    """Offer a new service."""
    return ServicePublic.from_row(
        await providers.create_service(db, _provider_id(provider), body.columns())
    )


@router.patch("/services/{service_id}", responses={404: {"description": "not my service"}})
async def update_service(
    service_id: UUID, body: ServiceUpdate, provider: CurrentProvider, db: DatabaseDep
) -> ServicePublic:
    """Change a service; bookings already made keep the terms they were made on."""
    service = await providers.update_service(db, _provider_id(provider), service_id, body.columns())
    if service is None:
        raise not_found("service")
    return ServicePublic.from_row(service)


@router.delete(
    "/services/{service_id}", status_code=204, responses={404: {"description": "not my service"}}
)
async def retire_service(service_id: UUID, provider: CurrentProvider, db: DatabaseDep) -> Response:
    """Stop offering a service; existing bookings of it stay."""
    if await providers.update_service(db, _provider_id(provider), service_id, {"active": False}):
        return Response(status_code=204)
    raise not_found("service")


@router.get("/working-hours")
async def my_working_hours(provider: CurrentProvider, db: DatabaseDep) -> WeeklyHours:
    """My weekly hours, in my time zone."""
    return WeeklyHours.from_rows(await providers.weekly_hours(db, _provider_id(provider)))


@router.put("/working-hours")
async def set_working_hours(
    body: WeeklyHours, provider: CurrentProvider, db: DatabaseDep
) -> WeeklyHours:
    """Replace my whole week: a weekday left out is closed. Answers the week as stored."""
    provider_id = _provider_id(provider)
    await providers.replace_weekly_hours(db, provider_id, body.rows())
    return WeeklyHours.from_rows(await providers.weekly_hours(db, provider_id))


@router.get("/overrides")
async def my_overrides(
    provider: CurrentProvider,
    db: DatabaseDep,
    first: Annotated[CalendarDay, Query(alias="from")],
    last: Annotated[CalendarDay, Query(alias="to")],
) -> list[OverridePublic]:
    """Dates with other hours than their weekday's (closed dates included)."""
    if last < first:
        raise APIError(422, "invalid_range", f"to ({last}) is before from ({first})")
    if last - first > timedelta(days=366):
        raise APIError(422, "range_too_long", "ask for at most a year of overrides at a time")
    found = await providers.overrides(db, _provider_id(provider), first, last)
    return [
        OverridePublic(
            day=day,
            closed=not hours,
            intervals=[Interval(start=opens, end=closes) for opens, closes in hours],
        )
        for day, hours in sorted(found.items())
    ]


@router.put("/overrides/{day}")
async def set_override(
    day: CalendarDay, body: OverrideBody, provider: CurrentProvider, db: DatabaseDep
) -> OverridePublic:
    """Give one date other hours than its weekday's; no intervals closes it."""
    hours = [(interval.start, interval.end) for interval in body.intervals]
    await providers.set_override(db, _provider_id(provider), day, hours)
    return OverridePublic(day=day, closed=not hours, intervals=body.intervals)


@router.delete("/overrides/{day}", status_code=204, responses={404: {"description": "none"}})
async def clear_override(day: date, provider: CurrentProvider, db: DatabaseDep) -> Response:
    """Give a date back its weekday's hours."""
    if await providers.clear_override(db, _provider_id(provider), day):
        return Response(status_code=204)
    raise not_found("override")


@router.get("/holidays")
async def my_holidays(provider: CurrentProvider, db: DatabaseDep) -> list[HolidayPublic]:
    """My holidays: dates closed whatever the hours say."""
    found = await providers.holidays(db, _provider_id(provider))
    return [HolidayPublic(day=h.day, name=h.name) for h in found]


@router.post("/holidays", status_code=201, responses={409: {"description": "already a holiday"}})
async def add_holiday(
    body: HolidayCreate, provider: CurrentProvider, db: DatabaseDep
) -> HolidayPublic:
    """Close a date."""
    try:
        await providers.add_holiday(db, _provider_id(provider), body.day, body.name)
    except providers.AlreadyExists as err:
        raise APIError(409, "holiday_exists", f"{body.day} is already a holiday") from err
    return HolidayPublic(day=body.day, name=body.name)


@router.delete("/holidays/{day}", status_code=204, responses={404: {"description": "none"}})
async def remove_holiday(day: date, provider: CurrentProvider, db: DatabaseDep) -> Response:
    """Open a date again."""
    if await providers.remove_holiday(db, _provider_id(provider), day):
        return Response(status_code=204)
    raise not_found("holiday")
