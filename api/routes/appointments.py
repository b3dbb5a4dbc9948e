from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4, uuid5

from fastapi import APIRouter, Depends, Header, Response

from api.deps import BookingsDep, CurrentUser, DatabaseDep, SettingsDep, SlotGateDep
from api.errors import APIError, DocumentedErrorRoute, not_found
from api.limits import limit_booking
from api.schemas.appointments import (
    AppointmentCreate,
    AppointmentPublic,
    CancelBody,
    DecisionBody,
    RescheduleBody,
)
from api.schemas.common import errors
from contract.messages import BookingInput, BookingState, CancelRequest, Decision, RescheduleRequest
from db import audit, booking_reads, notifications
from db.catalog import get_service
from db.users import Account
from domain.availability import SlotTaken
from domain.booking_state import BookingStatus
from domain.reminders import leads_from_text
from workflows.client import Answer, BookingClient, BookingClosed, BookingRefused

router = APIRouter(
    prefix="/appointments",
    tags=["appointments"],
    route_class=DocumentedErrorRoute,
    responses=errors(400, 401, 404, 413, 422, 503),
)

SLOT_TAKEN = SlotTaken().detail
# How soon a client should look again at a request still being worked on.
STILL_WORKING_RETRY_AFTER = "2"
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "taken, still being worked on: the state so far; look again"}
}


@router.post(
    "",
    status_code=201,
    dependencies=[Depends(limit_booking)],
    responses={
        409: {
            "description": "the slot is taken (slot_unavailable), or the customer has too many "
            "unpaid holds (too_many_holds)"
        },
        429: {"description": "too many booking requests from this customer (rate_limited)"},
        422: {"description": "the request breaks a scheduling rule"},
        503: {"description": "the booking engine or the database is unreachable"},
    },
)
async def create_appointment(
    body: AppointmentCreate,
    user: CurrentUser,
    db: DatabaseDep,
    booking_client: BookingsDep,
    settings: SettingsDep,
    slot_gate: SlotGateDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Any unique text (a UUID, say), up to 255 characters: sending the same "
            "request again with the same key returns the booking it made, never a second one."
        ),
    ] = None,
) -> AppointmentPublic:
    """Book a slot: the slot is held and the answer says how to pay before the hold expires."""
    service = await get_service(db, body.service_id)
    if service is None:
        raise not_found("service")
    if idempotency_key is None:
        booking_id = uuid4()
    else:
        booking_id = _keyed_booking_id(user.id, idempotency_key)
        made = await booking_reads.get_booking(db, booking_id)
        if made is not None:
            # The key's booking holds (or held) its slot: answer with it as it is now.
            return _repeated(await booking_client.state(booking_id) or made, body, user)
    booking = BookingInput(
        booking_id=booking_id,
        provider_id=service.provider_id,
        service_id=service.id,
        customer_id=user.id,
        start=body.start,
        customer_timezone=body.timezone,
        payment_timeout=timedelta(seconds=settings.payment_timeout_seconds),
        approval_timeout=timedelta(hours=settings.approval_timeout_hours),
        max_reschedules=settings.max_reschedules,
        reminder_leads_minutes=leads_from_text(service.reminder_offsets),
        reminder_prepare_seconds=settings.reminder_prepare_seconds,
        request_id=audit.request_id_var.get(),
    )
    start_utc = body.start.astimezone(UTC)
    end_utc = start_utc + timedelta(minutes=service.duration_minutes)
    # Requests for one slot take turns in this process; see api/slot_gate.py.
    async with slot_gate.admit((service.provider_id, start_utc)) as turn:
        # Taken by another booking: 409 at once. Taken by this one (a repeated key whose first
        # request is still deciding): go on, and join it.
        taker = turn.taken_by or await booking_reads.slot_taken_by(
            db, service.provider_id, start_utc, end_utc, now=datetime.now(UTC)
        )
        if taker is not None and taker != booking_id:
            raise APIError(409, "slot_unavailable", SLOT_TAKEN)
        state = await booking_client.book(
            booking,
            join=idempotency_key is not None,
            summary=f"{service.name} at {body.start.isoformat()}",
        )
        turn.mark_taken(booking_id)
    if idempotency_key is not None:
        return _repeated(state, body, user)
    return _public(state, user, body.timezone)


# Keys are the customer's own: the same key from two customers names two bookings.
_IDEMPOTENCY_KEYS = UUID("6f3c1f52-5b0e-4d47-9a51-1f0c4b8e2a7d")


def _keyed_booking_id(customer_id: UUID, key: str) -> UUID:
    if not 1 <= len(key) <= 255 or not key.isprintable() or not key.isascii():
        raise APIError(
            422,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
        )
    return uuid5(_IDEMPOTENCY_KEYS, f"{customer_id}/{key}")


def _repeated(state: BookingState, body: AppointmentCreate, user: Account) -> AppointmentPublic:
    """The booking a key made, if this request asks for the same service and start."""
    if state.service_id != body.service_id or state.start != body.start:
        raise APIError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used for another booking request; use a new key",
        )
    return _public(state, user, body.timezone)


@router.get("/{appointment_id}", responses={404: {"description": "no such booking of yours"}})
async def get_appointment(
    appointment_id: UUID,
    user: CurrentUser,
    db: DatabaseDep,
    booking_client: BookingsDep,
    timezone: str | None = None,
) -> AppointmentPublic:
    """The booking as it is now: live from its workflow, or from the database once it has
    closed or while the booking engine cannot answer."""
    state = await _visible_state(booking_client, db, user, appointment_id, to_change=False)
    await _audit_admin_read(db, user, state, "appointment")
    return _public(state, user, timezone)


@router.get(
    "/{appointment_id}/calendar.ics",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}, "description": "the booking's current invite"},
        404: {"description": "no such booking of yours, or no invite yet (not confirmed)"},
    },
)
async def get_invite(
    appointment_id: UUID, user: CurrentUser, db: DatabaseDep, booking_client: BookingsDep
) -> Response:
    """The booking's current calendar invite: the last one sent (a cancel's withdraws it)."""
    state = await _visible_state(booking_client, db, user, appointment_id, to_change=False)
    await _audit_admin_read(db, user, state, "invite")
    ics = await notifications.latest_invite(db, appointment_id)
    if ics is None:
        raise APIError(404, "no_invite", "this booking has sent no invite yet: it is not confirmed")
    return Response(
        ics,
        media_type="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="booking-{appointment_id}.ics"'},
    )


@router.put(
    "/{appointment_id}/cancel",
    responses={
        **ACCEPTED,
        404: {"description": "no such booking of yours"},
        409: {"description": "the booking can no longer be cancelled"},
    },
)
async def cancel_appointment(
    appointment_id: UUID,
    user: CurrentUser,
    db: DatabaseDep,
    booking_client: BookingsDep,
    response: Response,
    body: CancelBody | None = None,
    timezone: str | None = None,
) -> AppointmentPublic:
    """Cancel a booking. A customer cancelling a confirmed booking under 24 hours ahead is not
    refunded; every other cancellation is refunded in full. Cancelling again is harmless."""
    state = await _visible_state(booking_client, db, user, appointment_id)
    if state.status in (BookingStatus.CANCELLED, BookingStatus.CANCELLING):
        return _answered(Answer(state, state.status == BookingStatus.CANCELLED), response, user)
    request = CancelRequest(
        cancelled_by=_acting_as(user, state),
        reason=body.reason if body else "",
        actor_id=user.id,
        request_id=audit.request_id_var.get(),
    )
    answer = await _closed_means_conflict(
        booking_client.cancel(appointment_id, request), state, "not_cancellable"
    )
    return _answered(answer, response, user, timezone)


@router.post(
    "/{appointment_id}/reschedule",
    responses={
        **ACCEPTED,
        404: {"description": "no such booking of yours"},
        409: {"description": "the new time is taken, or the booking can no longer move"},
        422: {"description": "the new time breaks a scheduling rule"},
    },
)
async def reschedule_appointment(
    appointment_id: UUID,
    body: RescheduleBody,
    user: CurrentUser,
    db: DatabaseDep,
    booking_client: BookingsDep,
    response: Response,
) -> AppointmentPublic:
    """Move a confirmed booking to another free start of its service, before it starts: by its
    customer, its provider or an admin, under the same rules as a new booking."""
    state = await _visible_state(booking_client, db, user, appointment_id)
    request = RescheduleRequest(
        start=body.start,
        requested_by=_acting_as(user, state),
        actor_id=user.id,
        request_id=audit.request_id_var.get(),
    )
    answer = await _closed_means_conflict(
        booking_client.reschedule(appointment_id, request), state, "not_reschedulable"
    )
    return _answered(answer, response, user, body.timezone)


@router.post(
    "/{appointment_id}/approve",
    responses={
        **ACCEPTED,
        **errors(403),
        409: {"description": "not awaiting approval"},
    },
)
async def approve_appointment(
    appointment_id: UUID,
    user: CurrentUser,
    db: DatabaseDep,
    booking_client: BookingsDep,
    response: Response,
    body: DecisionBody | None = None,
) -> AppointmentPublic:
    """The provider confirms a booking that waits for their approval. Approving again is
    harmless: the answer is the booking as the first approval left it."""
    return await _decide(booking_client, db, user, appointment_id, response, body, approve=True)


@router.post(
    "/{appointment_id}/decline",
    responses={
        **ACCEPTED,
        **errors(403),
        409: {"description": "not awaiting approval"},
    },
)
async def decline_appointment(
    appointment_id: UUID,
    user: CurrentUser,
    db: DatabaseDep,
    booking_client: BookingsDep,
    response: Response,
    body: DecisionBody | None = None,
) -> AppointmentPublic:
    """The provider turns down a booking that waits for their approval; it is refunded.
    Declining again is harmless."""
    return await _decide(booking_client, db, user, appointment_id, response, body, approve=False)


async def _decide(
    booking_client: BookingClient,
    db: DatabaseDep,
    user: Account,
    appointment_id: UUID,
    response: Response,
    body: DecisionBody | None,
    *,
    approve: bool,
) -> AppointmentPublic:
    """Send the provider's decision once: a repeat (its first answer lost to a timeout or a
    503) answers with the booking as that decision left it, never a 409."""
    state = await _provider_state(booking_client, db, user, appointment_id)
    if not _already_decided(state, approve):
        send = booking_client.approve if approve else booking_client.decline
        try:
            answer = await _closed_means_conflict(
                send(appointment_id, _decision(user, state, body)),
                state,
                "not_awaiting_approval",
            )
        except BookingRefused as refused:
            # The first try may have been taken between our read and this request.
            state = await booking_client.state(appointment_id) or state
            if refused.code != "not_awaiting_approval" or not _already_decided(state, approve):
                raise
        else:
            return _answered(answer, response, user)
    finished = state.status != BookingStatus.AWAITING_APPROVAL
    return _answered(Answer(state, finished), response, user)


def _decision(user: Account, state: BookingState, body: DecisionBody | None) -> Decision:
    admin = user.role == "admin" and state.provider_id != user.provider_id
    return Decision(
        reason=body.reason if body else "",
        actor_id=user.id,
        decided_by="admin" if admin else "provider",
        request_id=audit.request_id_var.get(),
    )


def _already_decided(state: BookingState, approve: bool) -> bool:
    """Whether this same decision was taken already (and may still be being carried out)."""
    if approve:
        return state.decision == "approved" and state.status in (
            BookingStatus.AWAITING_APPROVAL,
            BookingStatus.CONFIRMED,
        )
    return state.status == BookingStatus.DECLINED or (
        state.decision == "declined" and state.status == BookingStatus.AWAITING_APPROVAL
    )


async def _visible_state(
    booking_client: BookingClient,
    db: DatabaseDep,
    user: Account,
    appointment_id: UUID,
    *,
    to_change: bool = True,
) -> BookingState:
    """The booking's state if `user` may see it; 404 otherwise, whether it exists or not.

    A read falls back to the database when the booking engine cannot answer; a request
    `to_change` the booking hears 503 at once then, as the change itself would fail too."""
    live = booking_client.live_state if to_change else booking_client.state
    state = await live(appointment_id) or await booking_reads.get_booking(db, appointment_id)
    if state is None or not _may_see(user, state):
        raise not_found("appointment")
    return state


async def _provider_state(
    booking_client: BookingClient, db: DatabaseDep, user: Account, appointment_id: UUID
) -> BookingState:
    state = await _visible_state(booking_client, db, user, appointment_id)
    if user.role != "admin" and state.provider_id != user.provider_id:
        raise APIError(403, "provider_only", "only the provider of this booking can decide on it")
    return state


async def _closed_means_conflict(
    request: Awaitable[Answer], state: BookingState, code: str
) -> Answer:
    """The update's answer; a booking whose workflow has closed can no longer be changed."""
    try:
        answer = await request
    except BookingClosed as err:
        raise APIError(409, code, f"the booking is {state.status.replace('_', ' ')}") from err
    return answer


def _answered(
    answer: Answer, response: Response, user: Account, timezone: str | None = None
) -> AppointmentPublic:
    if not answer.finished:
        response.status_code = 202
        response.headers["Retry-After"] = STILL_WORKING_RETRY_AFTER
    return _public(answer.state, user, timezone)


def _acting_as(user: Account, state: BookingState) -> Literal["customer", "provider", "admin"]:
    if state.customer_id == user.id:
        return "customer"
    return "admin" if user.role == "admin" else "provider"


async def _audit_admin_read(db: DatabaseDep, user: Account, state: BookingState, what: str) -> None:
    """An admin reading someone else's booking leaves an entry in the audit log."""
    if user.role == "admin" and user.id != state.customer_id:
        await audit.record_read(
            db,
            audit.Actor(user.id, "admin"),
            now=datetime.now(UTC),
            booking_id=state.booking_id,
            detail={"read": what},
        )


def _may_see(user: Account, state: BookingState) -> bool:
    return (
        user.role == "admin"
        or state.customer_id == user.id
        or (user.provider_id is not None and state.provider_id == user.provider_id)
    )


def _public(state: BookingState, user: Account, timezone: str | None = None) -> AppointmentPublic:
    try:
        return AppointmentPublic.from_state(state, timezone, viewer_id=user.id)
    except ValueError as err:
        raise APIError(422, "invalid_timezone", str(err)) from err
