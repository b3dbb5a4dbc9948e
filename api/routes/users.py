from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import AfterValidator, AwareDatetime

from api.deps import BookingsDep, CurrentUser, DatabaseDep, ServicesDep
from api.errors import APIError, DocumentedErrorRoute, not_found
from api.schemas.appointments import AppointmentPublic, CustomerPublic
from api.schemas.common import Page, errors
from api.schemas.privacy import AccountDataExport
from api.schemas.providers import FIRST_DAY, LAST_DAY
from api.schemas.users import UserMe, UserUpdateMe, e164
from contract.messages import CancelRequest
from db import account_export, booking_reads, privacy
from db.audit import Actor, record_read, request_id_var
from db.user_preferences import Preferences, change_preferences, get_preferences
from db.users import Account
from domain.booking_state import BookingStatus
from domain.timezones import parse_zone
from workflows.client import BookingClient, BookingClosed, BookingEngineUnavailable, BookingRefused

router = APIRouter(
    prefix="/users",
    tags=["users"],
    route_class=DocumentedErrorRoute,
    responses=errors(400, 401, 404, 413, 422, 503),
)

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
    if user.role == "admin" and user.provider_id is None:
        # Everyone's bookings: one entry for the page read, not one per booking.
        await record_read(
            db, Actor(user.id, "admin"), now=datetime.now(UTC), detail={"read": "appointments"}
        )
    shown = [AppointmentPublic.from_state(s, timezone) for s in states]
    if user.provider_id is not None or user.role == "admin":
        # A provider must know who is coming: the name and address the customer booked with.
        customers = await booking_reads.customers_of(db, [s.booking_id for s in states])
        for appointment in shown:
            if (found := customers.get(appointment.id)) is not None:
                appointment.customer = CustomerPublic(name=found.name, email=found.email)
    return Page(data=shown, count=total)


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

    changed = await change_preferences(
        db, user.id, change, actor=Actor(user.id, user.role), now=datetime.now(UTC)
    )
    if changed is None:
        raise not_found("user")
    return _me(user, changed)


@router.get("/me/export")
async def export_me(user: CurrentUser, db: DatabaseDep, response: Response) -> AccountDataExport:
    """Everything held about me: account, consents, bookings, payments, messages, calendars."""
    now = datetime.now(UTC)
    data = await account_export.export(db, user.id, Actor(user.id, user.role), now=now)
    if data is None:
        raise not_found("user")
    response.headers["Content-Disposition"] = f'attachment; filename="account-{user.id}.json"'
    return AccountDataExport.of(data, now)


@router.delete(
    "/me",
    status_code=204,
    responses={
        409: {"description": "bookings kept being made while it ran (erasure_raced): try again"},
        503: {"description": "the booking engine is down: nothing was erased"},
    },
)
async def erase_me(
    user: CurrentUser, db: DatabaseDep, bookings: BookingsDep, services: ServicesDep
) -> Response:
    """Close my account: my future bookings are cancelled (refunded by the usual policy), then
    my personal data is erased; bookings and payments stay for accounting, without it."""
    for _ in range(ERASE_PASSES):
        now = datetime.now(UTC)
        outcome, seen = await _cancel_future_bookings(db, bookings, user, now)
        try:
            erased = await privacy.erase(
                db, user.id, Actor(user.id, user.role), now=now, detail=outcome, seen=seen
            )
        except privacy.BookedMeanwhile:
            continue  # another pass cancels what was booked meanwhile
        break
    else:
        raise APIError(
            409,
            "erasure_raced",
            "bookings kept being made while the account was being closed; nothing was erased: "
            "try again",
        )
    if erased is None:
        raise not_found("user")
    for connection_id in erased.calendar_connections:
        # With the engine down the sync stops by itself: its next run finds the connection gone.
        with contextlib.suppress(BookingEngineUnavailable):
            await services.calendar_syncs.stop(connection_id)
    return Response(status_code=204)


# Cancellation passes before erasure gives up on an account still booking meanwhile.
ERASE_PASSES = 3
# The canceller's note the other party reads; it names nobody.
ACCOUNT_CLOSED = "account closed"
# A cancelled booking tells its people, then closes: erasing before would race its messages.
CLOSE_WITHIN = timedelta(seconds=15)


async def _cancel_future_bookings(
    db: DatabaseDep, bookings: BookingClient, user: Account, now: datetime
) -> tuple[dict[str, Any], set[UUID]]:
    """Cancel each booking not yet started through its workflow, as the API's cancel does;
    BookingEngineUnavailable (503) before anything is erased. The counts, and every booking
    this pass saw."""
    counts = {"bookings_cancelled": 0, "bookings_still_cancelling": 0, "bookings_not_cancelled": 0}
    cancelled = []
    future = await privacy.future_bookings(db, user.id, user.provider_id, now=now)
    for booking in future:
        request = CancelRequest(
            cancelled_by="customer" if booking.as_customer else "provider",
            reason=ACCOUNT_CLOSED,
            actor_id=user.id,
            request_id=request_id_var.get(),
        )
        try:
            answer = await bookings.cancel(booking.booking_id, request)
        except (BookingRefused, BookingClosed):
            # Already ending (or ended) on its own: it keeps its outcome.
            counts["bookings_not_cancelled"] += 1
            continue
        counts["bookings_cancelled" if answer.finished else "bookings_still_cancelling"] += 1
        cancelled.append(booking.booking_id)
    closed = await asyncio.gather(*(bookings.closed(b, CLOSE_WITHIN) for b in cancelled))
    # Left to the retention workflow, which sweeps what a late message leaves behind.
    counts["bookings_still_open"] = closed.count(False)
    return counts, {booking.booking_id for booking in future}


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
