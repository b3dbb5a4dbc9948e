from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import DatabaseDep
from api.errors import APIError, not_found
from api.schemas.common import Page
from api.schemas.providers import (
    NO_NUL,
    Availability,
    CalendarDay,
    ProviderMatch,
    ProviderPublic,
    ServiceMatch,
    ServicePublic,
    availability_json,
)
from db import providers, schedule
from domain.availability import Slot, local_day_bounds
from domain.timezones import parse_zone

router = APIRouter(prefix="/providers", tags=["providers"])

MAX_RANGE_DAYS = 90
DEFAULT_RANGE_DAYS = 7
# Far past any real list; a Python slice would take any int, the bound keeps the contract.
MAX_OFFSET = 10_000_000


def _zone(name: str) -> ZoneInfo:
    try:
        return parse_zone(name)
    except ValueError as err:
        raise APIError(422, "invalid_timezone", f"tz: {err}") from err


@router.get("")
async def search_providers(
    db: DatabaseDep,
    service: Annotated[
        str | None, Query(max_length=100, pattern=NO_NUL, description="part of a service name")
    ] = None,
    day: Annotated[
        CalendarDay | None,
        Query(alias="date", description="only providers with free time this day"),
    ] = None,
    tz: Annotated[str, Query(description="IANA zone of `date` and of the times shown")] = "UTC",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page[ProviderMatch]:
    """Providers offering a service, optionally only those with free time on a date."""
    zone = _zone(tz)
    bounds = local_day_bounds(day, zone) if day else None
    now = datetime.now(UTC)
    found: list[ProviderMatch] = []
    for profile, services in await providers.search(db, service_text=service):
        matches = []
        for offered in services:
            free, first = None, None
            if bounds is not None:
                slots = await schedule.open_slots(db, profile.id, offered.id, *bounds, now) or []
                if not slots:
                    continue
                free, first = len(slots), slots[0].start.astimezone(zone)
            public = ServicePublic.from_row(offered).model_dump()
            matches.append(ServiceMatch(**public, free_slots=free, first_free=first))
        if matches:
            found.append(
                ProviderMatch(
                    id=profile.id,
                    display_name=profile.display_name,
                    timezone=profile.timezone,
                    services=matches,
                )
            )
    return Page(data=found[offset : offset + limit], count=len(found))


@router.get("/{provider_id}", responses={404: {"description": "no such provider"}})
async def get_provider(provider_id: UUID, db: DatabaseDep) -> ProviderPublic:
    """A provider's public profile and active services."""
    profile = await providers.get_profile(db, provider_id)
    if profile is None:
        raise not_found("provider")
    return ProviderPublic.from_rows(profile, await providers.list_services(db, provider_id))


@router.get(
    "/{provider_id}/availability",
    response_model=Availability,
    responses={
        404: {"description": "no such provider or service"},
        422: {"description": "bad zone, malformed dates, or a range over 90 days"},
    },
)
async def availability(
    provider_id: UUID,
    service_id: UUID,
    db: DatabaseDep,
    first: Annotated[
        CalendarDay | None, Query(alias="from", description="first local date; default today")
    ] = None,
    last: Annotated[
        CalendarDay | None,
        Query(alias="to", description="last local date, inclusive; default a week"),
    ] = None,
    tz: Annotated[
        str | None, Query(description="IANA zone of the dates and times; default the provider's")
    ] = None,
) -> Response:
    """Free slots of one service between two dates (at most 90 days), in the zone asked for."""
    async with schedule.reading(db) as calendar:

        async def read() -> tuple[ZoneInfo, date, date, list[Slot]]:
            offer = await calendar.offer(provider_id, service_id)
            if offer is None:
                raise not_found("provider")
            zone = _zone(tz or offer.timezone)
            start = first or datetime.now(zone).date()
            end = last or start + timedelta(days=DEFAULT_RANGE_DAYS - 1)
            if end < start:
                raise APIError(422, "invalid_range", f"to ({end}) is before from ({start})")
            if (end - start).days + 1 > MAX_RANGE_DAYS:
                raise APIError(
                    422,
                    "range_too_long",
                    f"from {start} to {end} is {(end - start).days + 1} days; ask for at most "
                    f"{MAX_RANGE_DAYS} days at a time",
                )
            window_start, _ = local_day_bounds(start, zone)
            _, window_end = local_day_bounds(end, zone)
            if offer.rules is None:
                raise not_found("service")
            now = datetime.now(UTC)
            return zone, start, end, await calendar.free_slots(offer, window_start, window_end, now)

        try:
            zone, day_from, day_to, slots = await schedule.consistently(read)
        except schedule.OfferChanged as err:
            raise APIError(
                503,
                "settings_changing",
                "the provider's settings changed during every read of their calendar; try again",
                headers={"Retry-After": "1"},
            ) from err
    return Response(
        availability_json(provider_id, service_id, zone, day_from, day_to, slots),
        media_type="application/json",
    )
