from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator, AwareDatetime

from api.deps import CurrentUser, DatabaseDep
from api.errors import APIError
from api.schemas.appointments import AppointmentPublic
from api.schemas.common import Page
from api.schemas.providers import FIRST_DAY, LAST_DAY
from db import booking_reads
from domain.booking_state import BookingStatus
from domain.timezones import parse_zone

router = APIRouter(prefix="/users", tags=["users"])

# Far past any real list, and well inside the database's 64-bit OFFSET.
MAX_OFFSET = 10_000_000


def _in_calendar(instant: datetime) -> datetime:
    if not FIRST_DAY <= instant.date() <= LAST_DAY:
        raise ValueError(f"a time from {FIRST_DAY} to {LAST_DAY}")
    return instant


Instant = Annotated[AwareDatetime, AfterValidator(_in_calendar)]


@router.get("/me/appointments")
async def my_appointments(
    user: CurrentUser,
    db: DatabaseDep,
    status: Annotated[
        list[BookingStatus] | None, Query(description="repeat to ask for several")
    ] = None,
    start_from: Annotated[Instant | None, Query(alias="from")] = None,
    start_to: Annotated[Instant | None, Query(alias="to")] = None,
    timezone: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page[AppointmentPublic]:
    """My bookings by start time: a customer's own, or those made with a provider."""
    if start_from and start_to and start_to < start_from:
        raise APIError(422, "invalid_range", f"to ({start_to}) is before from ({start_from})")
    if timezone is not None:
        try:
            parse_zone(timezone)
        except ValueError as err:
            raise APIError(422, "invalid_timezone", str(err)) from err
    states, total = await booking_reads.list_bookings(
        db,
        customer_id=user.id if user.provider_id is None and user.role != "admin" else None,
        provider_id=user.provider_id,
        statuses=status or (),
        start_from=start_from,
        start_to=start_to,
        limit=limit,
        offset=offset,
    )
    return Page(data=[AppointmentPublic.from_state(s, timezone) for s in states], count=total)
