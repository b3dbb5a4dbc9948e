from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator, AwareDatetime

from api.deps import CurrentUser, DatabaseDep
from api.errors import APIError, not_found
from api.schemas.appointments import AppointmentPublic
from api.schemas.common import Page
from api.schemas.providers import FIRST_DAY, LAST_DAY
from api.schemas.users import UserMe, UserUpdateMe, e164
from db import booking_reads
from db.user_preferences import Preferences, change_preferences, get_preferences
from db.users import Account
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


@router.get("/me")
async def me(user: CurrentUser, db: DatabaseDep) -> UserMe:
    """The signed-in account, with its phone and message preferences."""
    preferences = await get_preferences(db, user.id)
    if preferences is None:
        raise not_found("user")
    return _me(user, preferences)


@router.patch(
    "/me",
    responses={422: {"description": "invalid_phone, or phone_required for an SMS opt-in"}},
)
async def update_me(body: UserUpdateMe, user: CurrentUser, db: DatabaseDep) -> UserMe:
    """Change my name, phone (any international form, stored as E.164) or message preferences."""
    sent = body.model_fields_set
    phone = body.phone
    if phone is not None:
        try:
            phone = e164(phone)
        except ValueError as err:
            raise APIError(422, "invalid_phone", str(err)) from err

    def change(current: Preferences) -> Preferences:
        new_phone = phone if "phone" in sent else current.phone
        # Consent to texts is for one number: a new number, or none, starts opted out.
        opt_in = current.sms_opt_in and new_phone == current.phone
        if body.sms_opt_in is not None:
            opt_in = body.sms_opt_in
        if opt_in and new_phone is None:
            raise APIError(422, "phone_required", "add a phone number to opt in to SMS")
        return Preferences(
            full_name=body.full_name or current.full_name,
            phone=new_phone,
            sms_opt_in=opt_in,
            email_notifications=(
                current.email_notifications
                if body.email_notifications is None
                else body.email_notifications
            ),
        )

    changed = await change_preferences(db, user.id, change)
    if changed is None:
        raise not_found("user")
    return _me(user, changed)


def _me(account: Account, preferences: Preferences) -> UserMe:
    return UserMe(
        id=account.id,
        email=account.email,
        role=account.role,
        provider_id=account.provider_id,
        full_name=preferences.full_name,
        phone=preferences.phone,
        sms_opt_in=preferences.sms_opt_in,
        email_notifications=preferences.email_notifications,
    )
