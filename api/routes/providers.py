from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.deps import DatabaseDep
from api.errors import APIError, DocumentedErrorRoute, not_found
from api.limits import limit_search
from api.schemas.common import Page, errors
from api.schemas.providers import (
    NO_NUL,
    Availability,
    CalendarDay,
    ProviderMatch,
    ProviderPublic,
    ServiceMatch,
    availability_json,
)
from db import provider_search, providers, schedule
from domain.availability import Slot, local_day_bounds
from domain.timezones import parse_zone

router = APIRouter(
    prefix="/providers",
    tags=["providers"],
    route_class=DocumentedErrorRoute,
    responses=errors(404, 422, 503),
)

MAX_RANGE_DAYS = 90
DEFAULT_RANGE_DAYS = 7
# Far past any real list; a Python slice would take any int, the bound keeps the contract.
MAX_OFFSET = 10_000_000


def _zone(name: str) -> ZoneInfo:
    try:
        return parse_zone(name)
    except ValueError as err:
        raise APIError(422, "invalid_timezone", f"tz: {err}") from err


@router.get("", dependencies=[Depends(limit_search)])
async def search_providers(
    db: DatabaseDep,
    service: Annotated[
        str | None, Query(max_length=100, pattern=NO_NUL, description="part of a service name")
    ] = None,
    day: Annotated[
        CalendarDay | None,
        Query(alias="date", description="only providers working this day, with its free slots"),
    ] = None,
    tz: Annotated[str, Query(description="IANA zone of `date` and of the times shown")] = "UTC",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page[ProviderMatch]:
    """Providers offering a service, optionally only those working on a date, by name."""
    zone = _zone(tz)
    page = await provider_search.search(
        db,
        service_text=service,
        window=local_day_bounds(day, zone) if day else None,
        now=datetime.now(UTC),
        limit=limit,
        offset=offset,
    )
    return Page(
        data=[
            ProviderMatch(
                id=found.provider.id,
                display_name=found.provider.display_name,
                timezone=found.provider.timezone,
                services=[
                    ServiceMatch.from_free_time(offered, free, zone)
                    for offered, free in found.services
                ],
            )
            for found in page.found
        ],
        count=page.count,
    )


@router.get("/{provider_id}", responses={404: {"description": "no such provider"}})
async def get_provider(provider_id: UUID, db: DatabaseDep) -> ProviderPublic:
    """A provider's public profile and active services."""
    profile = await providers.get_profile(db, provider_id)
    if profile is None:
        raise not_found("provider")
    return ProviderPublic.from_rows(profile, await providers.list_services(db, provider_id))


@router.get(
    "/{provider_id}/availability",
    dependencies=[Depends(limit_search)],
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
