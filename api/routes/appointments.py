from __future__ import annotations

import logging
from datetime import timedelta
from uuid import UUID, uuid4

from fastapi import APIRouter
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import QueryRejectCondition, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api.deps import CurrentUser, DatabaseDep, SettingsDep, TemporalDep
from api.errors import APIError, not_found
from api.schemas import AppointmentCreate, AppointmentPublic
from db import bookings
from db.catalog import get_service
from db.users import Account
from workflows import search_attributes
from workflows.booking import BookingWorkflow
from workflows.client import workflow_id
from workflows.errors import SLOT_NOT_BOOKABLE, SLOT_UNAVAILABLE
from workflows.models import BookingInput, BookingState

log = logging.getLogger("booking.api")
router = APIRouter(prefix="/appointments", tags=["appointments"])

EARLY_RETURN_TIMEOUT = timedelta(seconds=20)
QUERY_TIMEOUT = timedelta(seconds=5)


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
) -> AppointmentPublic:
    """Book a slot: the slot is held and the answer says how to pay before the hold expires."""
    service = await get_service(db, body.service_id)
    if service is None:
        raise not_found("service")
    booking = BookingInput(
        booking_id=uuid4(),
        provider_id=service.provider_id,
        service_id=service.id,
        customer_id=user.id,
        start=body.start,
        customer_timezone=body.timezone,
        payment_timeout=timedelta(seconds=settings.payment_timeout_seconds),
    )
    start_booking = WithStartWorkflowOperation(
        BookingWorkflow.run,
        booking,
        id=workflow_id(booking.booking_id),
        task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        search_attributes=search_attributes.initial(
            status="requested",
            provider_id=service.provider_id,
            service_id=service.id,
            start=body.start,
        ),
        static_summary=f"{service.name} at {body.start.isoformat()}",
    )
    try:
        state = await temporal.execute_update_with_start_workflow(
            BookingWorkflow.wait_until_held,
            start_workflow_operation=start_booking,
            rpc_timeout=EARLY_RETURN_TIMEOUT,
        )
    except WorkflowUpdateFailedError as err:
        raise _refusal(err) from err
    except WorkflowUpdateRPCTimeoutOrCancelledError as err:
        raise APIError(
            503, "booking_pending", "the booking engine did not answer in time; try again"
        ) from err
    except RPCError as err:
        log.warning("update-with-start failed: %s", err)
        raise APIError(
            503, "booking_engine_unavailable", "bookings are unavailable; try again"
        ) from err
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
    state = await _live_state(temporal, appointment_id) or await bookings.get_booking(
        db, appointment_id
    )
    if state is None or not _may_see(user, state):
        raise not_found("appointment")
    try:
        return AppointmentPublic.from_state(state, timezone)
    except ValueError as err:
        raise APIError(422, "invalid_timezone", str(err)) from err


async def _live_state(temporal: TemporalDep, appointment_id: UUID) -> BookingState | None:
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


def _may_see(user: Account, state: BookingState) -> bool:
    return (
        user.role == "admin"
        or state.customer_id == user.id
        or (user.provider_id is not None and state.provider_id == user.provider_id)
    )


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
