from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4, uuid5

from fastapi import APIRouter, Header
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import QueryRejectCondition, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import CurrentUser, DatabaseDep, SettingsDep, SlotGateDep, TemporalDep
from api.errors import APIError, not_found
from api.schemas.appointments import (
    AppointmentCreate,
    AppointmentPublic,
    CancelBody,
    DecisionBody,
    RescheduleBody,
)
from contract.errors import (
    NOT_AWAITING_APPROVAL,
    NOT_CANCELLABLE,
    NOT_RESCHEDULABLE,
    SLOT_NOT_BOOKABLE,
    SLOT_UNAVAILABLE,
)
from contract.messages import (
    BookingInput,
    BookingState,
    CancelRequest,
    Decision,
    RescheduleRequest,
)
from db import bookings
from db.catalog import get_service
from db.engine import Database
from db.users import Account
from domain.availability import SlotTaken
from workflows import search_attributes
from workflows.booking import BookingWorkflow
from workflows.client import workflow_id

log = logging.getLogger("booking.api")
router = APIRouter(prefix="/appointments", tags=["appointments"])

EARLY_RETURN_TIMEOUT = timedelta(seconds=20)
QUERY_TIMEOUT = timedelta(seconds=5)
UPDATE_TIMEOUT = timedelta(seconds=30)
SLOT_TAKEN = SlotTaken().detail
UNAVAILABLE = APIError(503, "booking_engine_unavailable", "bookings are unavailable; try again")


@router.post(
    "",
    status_code=201,
    responses={
        409: {"description": "the slot is taken (code slot_unavailable)"},
        422: {"description": "the request breaks a scheduling rule"},
        503: {"description": "the booking engine is unreachable"},
    },
)
async def create_appointment(
    body: AppointmentCreate,
    user: CurrentUser,
    db: DatabaseDep,
    temporal: TemporalDep,
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
        made = await bookings.get_booking(db, booking_id)
        if made is not None:
            # The key's booking holds (or held) its slot: answer with it as it is now.
            return _repeated(await _live_state(temporal, booking_id) or made, body)
    booking = BookingInput(
        booking_id=booking_id,
        provider_id=service.provider_id,
        service_id=service.id,
        customer_id=user.id,
        start=body.start,
        customer_timezone=body.timezone,
        payment_timeout=timedelta(seconds=settings.payment_timeout_seconds),
        approval_timeout=timedelta(hours=settings.approval_timeout_hours),
    )
    start_booking = WithStartWorkflowOperation(
        BookingWorkflow.run,
        booking,
        id=workflow_id(booking.booking_id),
        task_queue=settings.temporal_task_queue,
        # A repeated key joins the booking its first request started, if that is still deciding.
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL
        if idempotency_key is None
        else WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=search_attributes.initial(
            status="requested",
            provider_id=service.provider_id,
            service_id=service.id,
            start=body.start,
        ),
        static_summary=f"{service.name} at {body.start.isoformat()}",
    )
    start_utc = body.start.astimezone(UTC)
    end_utc = start_utc + timedelta(minutes=service.duration_minutes)
    try:
        # Requests for one slot take turns in this process; see api/slot_gate.py.
        async with slot_gate.admit((service.provider_id, start_utc)) as turn:
            # Taken by another booking: 409 at once. Taken by this one (a repeated key whose
            # first request is still deciding): go on, and join it.
            taker = turn.taken_by or await bookings.slot_taken_by(
                db, service.provider_id, start_utc, end_utc, now=datetime.now(UTC)
            )
            if taker is not None and taker != booking_id:
                raise APIError(409, "slot_unavailable", SLOT_TAKEN)
            state = await temporal.execute_update_with_start_workflow(
                BookingWorkflow.wait_until_held,
                start_workflow_operation=start_booking,
                rpc_timeout=EARLY_RETURN_TIMEOUT,
            )
            turn.mark_taken(booking_id)
    except WorkflowUpdateFailedError as err:
        raise _refusal(err) from err
    except WorkflowUpdateRPCTimeoutOrCancelledError as err:
        raise APIError(
            503,
            "booking_pending",
            "the booking engine did not answer in time; send the request again, with the same "
            "Idempotency-Key if it had one, to get the booking if it was made",
        ) from err
    except RPCError as err:
        log.warning("update-with-start failed: %s", err)
        raise UNAVAILABLE from err
    if idempotency_key is not None:
        return _repeated(state, body)
    return AppointmentPublic.from_state(state, body.timezone)


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


def _repeated(state: BookingState, body: AppointmentCreate) -> AppointmentPublic:
    """The booking a key made, if this request asks for the same service and start."""
    if state.service_id != body.service_id or state.start != body.start:
        raise APIError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used for another booking request; use a new key",
        )
    return AppointmentPublic.from_state(state, body.timezone)


@router.get("/{appointment_id}", responses={404: {"description": "no such booking of yours"}})
async def get_appointment(
    appointment_id: UUID,
    user: CurrentUser,
    db: DatabaseDep,
    temporal: TemporalDep,
    timezone: str | None = None,
) -> AppointmentPublic:
    """The booking as it is now: live from its workflow, or from the database once it has closed."""
    return _public(await _visible_state(temporal, db, user, appointment_id), timezone)


@router.put(
    "/{appointment_id}/cancel",
    responses={
        404: {"description": "no such booking of yours"},
        409: {"description": "the booking can no longer be cancelled"},
    },
)
async def cancel_appointment(
    appointment_id: UUID,
    user: CurrentUser,
    db: DatabaseDep,
    temporal: TemporalDep,
    body: CancelBody | None = None,
    timezone: str | None = None,
) -> AppointmentPublic:
    """Cancel a booking. A customer cancelling a confirmed booking under 24 hours ahead is not
    refunded; every other cancellation is refunded in full."""
    state = await _visible_state(temporal, db, user, appointment_id)
    request = CancelRequest(
        cancelled_by=_acting_as(user, state), reason=body.reason if body else ""
    )
    result = await _update(temporal, state, BookingWorkflow.cancel, request, CANCEL_REFUSED)
    return _public(result, timezone)


@router.post(
    "/{appointment_id}/reschedule",
    responses={
        404: {"description": "no such booking of yours"},
        409: {"description": "the new time is taken, or the booking is not confirmed"},
        422: {"description": "the new time breaks a scheduling rule"},
    },
)
async def reschedule_appointment(
    appointment_id: UUID,
    body: RescheduleBody,
    user: CurrentUser,
    db: DatabaseDep,
    temporal: TemporalDep,
) -> AppointmentPublic:
    """Move a confirmed booking to another free start of its service: by its customer, its
    provider or an admin, under the same rules as a new booking. The old time is free again."""
    state = await _visible_state(temporal, db, user, appointment_id)
    request = RescheduleRequest(start=body.start, requested_by=_acting_as(user, state))
    result = await _update(temporal, state, BookingWorkflow.reschedule, request, RESCHEDULE_REFUSED)
    return _public(result, body.timezone)


@router.post("/{appointment_id}/approve", responses={409: {"description": "not awaiting approval"}})
async def approve_appointment(
    appointment_id: UUID,
    user: CurrentUser,
    db: DatabaseDep,
    temporal: TemporalDep,
    body: DecisionBody | None = None,
) -> AppointmentPublic:
    """The provider confirms a booking that waits for their approval."""
    state = await _provider_state(temporal, db, user, appointment_id)
    decision = Decision(reason=body.reason if body else "")
    return _public(
        await _update(temporal, state, BookingWorkflow.approve, decision, DECISION_REFUSED)
    )


@router.post("/{appointment_id}/decline", responses={409: {"description": "not awaiting approval"}})
async def decline_appointment(
    appointment_id: UUID,
    user: CurrentUser,
    db: DatabaseDep,
    temporal: TemporalDep,
    body: DecisionBody | None = None,
) -> AppointmentPublic:
    """The provider turns down a booking that waits for their approval; it is refunded."""
    state = await _provider_state(temporal, db, user, appointment_id)
    decision = Decision(reason=body.reason if body else "")
    return _public(
        await _update(temporal, state, BookingWorkflow.decline, decision, DECISION_REFUSED)
    )


async def _visible_state(
    temporal: Client, db: Database, user: Account, appointment_id: UUID
) -> BookingState:
    """The booking's state if `user` may see it; 404 otherwise, whether it exists or not."""
    state = await _live_state(temporal, appointment_id) or await bookings.get_booking(
        db, appointment_id
    )
    if state is None or not _may_see(user, state):
        raise not_found("appointment")
    return state


async def _provider_state(
    temporal: Client, db: Database, user: Account, appointment_id: UUID
) -> BookingState:
    state = await _visible_state(temporal, db, user, appointment_id)
    if user.role != "admin" and state.provider_id != user.provider_id:
        raise APIError(403, "provider_only", "only the provider of this booking can decide on it")
    return state


async def _live_state(temporal: Client, appointment_id: UUID) -> BookingState | None:
    handle = temporal.get_workflow_handle(workflow_id(appointment_id))
    try:
        state: BookingState = await handle.query(
            BookingWorkflow.state,
            reject_condition=QueryRejectCondition.NOT_OPEN,
            rpc_timeout=QUERY_TIMEOUT,
        )
    except WorkflowQueryRejectedError:
        return None
    except RPCError as err:
        # Not found, or no worker to answer in time: the database has the last committed state.
        log.debug("state query for %s fell back to the database: %s", appointment_id, err)
        return None
    if state.status == "rejected":
        return None
    return state


# A workflow validator's refusal type, and the 409 code the client sees for it.
CANCEL_REFUSED = (NOT_CANCELLABLE, "not_cancellable")
RESCHEDULE_REFUSED = (NOT_RESCHEDULABLE, "not_reschedulable")
DECISION_REFUSED = (NOT_AWAITING_APPROVAL, "not_awaiting_approval")


async def _update(
    temporal: Client,
    state: BookingState,
    update: Any,
    argument: object,
    refused: tuple[str, str],
) -> BookingState:
    """Send an update to the booking's workflow; its validator's refusal becomes a 409."""
    refused_type, conflict_code = refused
    handle = temporal.get_workflow_handle(workflow_id(state.booking_id))
    try:
        result: BookingState = await handle.execute_update(
            update, argument, rpc_timeout=UPDATE_TIMEOUT
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == refused_type:
            raise APIError(409, conflict_code, cause.message) from err
        if isinstance(cause, ApplicationError) and cause.type in (
            SLOT_UNAVAILABLE,
            SLOT_NOT_BOOKABLE,
        ):
            raise _refusal(err) from err
        raise UNAVAILABLE from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise APIError(
                409, conflict_code, f"the booking is {state.status.replace('_', ' ')}"
            ) from err
        raise UNAVAILABLE from err
    return result


def _acting_as(user: Account, state: BookingState) -> Literal["customer", "provider", "admin"]:
    if state.customer_id == user.id:
        return "customer"
    return "admin" if user.role == "admin" else "provider"


def _may_see(user: Account, state: BookingState) -> bool:
    return (
        user.role == "admin"
        or state.customer_id == user.id
        or (user.provider_id is not None and state.provider_id == user.provider_id)
    )


def _public(state: BookingState, timezone: str | None = None) -> AppointmentPublic:
    try:
        return AppointmentPublic.from_state(state, timezone)
    except ValueError as err:
        raise APIError(422, "invalid_timezone", str(err)) from err


def _refusal(err: WorkflowUpdateFailedError) -> APIError:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        if cause.type == SLOT_UNAVAILABLE:
            return APIError(409, "slot_unavailable", cause.message)
        if cause.type == SLOT_NOT_BOOKABLE:
            code = str(cause.details[0]) if cause.details else "slot_not_bookable"
            return APIError(422, code, cause.message)
    log.warning("booking refused: %s", cause)
    return APIError(503, "booking_failed", "the slot could not be held right now; try again")
