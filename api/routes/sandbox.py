"""The sandbox checkout: pay a booking with one curl, through the webhook's own verification
and delivery."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

from fastapi import APIRouter
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from activities.payments.sandbox import IntentNotPayable, SandboxPaymentGateway, UnknownIntent
from api.deps import PaymentsDep, TemporalDep
from api.errors import APIError, not_found
from api.routes.payments import deliver_payment_event
from workflows.booking import BookingWorkflow
from workflows.client import workflow_id

router = APIRouter(prefix="/sandbox/payments", tags=["sandbox"])

# Like a checkout page that returns once the payment is settled, wait this long at most for the
# booking to act on the webhook, so the next GET already shows the outcome.
SETTLE_WITHIN = timedelta(seconds=5)


@router.post("/{intent_id}/succeed")
async def pay(intent_id: str, payments: PaymentsDep, temporal: TemporalDep) -> dict[str, object]:
    """Pay the intent as a customer would; the signed event is delivered as the webhook does."""
    return await _checkout(intent_id, payments, temporal, succeed=True)


@router.post("/{intent_id}/fail")
async def decline(
    intent_id: str, payments: PaymentsDep, temporal: TemporalDep
) -> dict[str, object]:
    """Decline the card; the signed failure event is delivered as the webhook does."""
    return await _checkout(intent_id, payments, temporal, succeed=False)


async def _checkout(
    intent_id: str, payments: PaymentsDep, temporal: Client, *, succeed: bool
) -> dict[str, object]:
    if not isinstance(payments, SandboxPaymentGateway):
        raise APIError(
            404, "not_found", "the sandbox checkout exists only with the sandbox gateway"
        )
    try:
        payload, signature = await payments.checkout(intent_id, succeed=succeed)
    except UnknownIntent as err:
        raise not_found("payment") from err
    except IntentNotPayable as err:
        raise APIError(409, "payment_not_payable", str(err)) from err
    # Verify and deliver the signed event exactly as POST /payments/webhook does (the same two
    # calls), without an HTTP round trip into this same process.
    event = payments.parse_webhook(payload, signature)
    assert event is not None, "the sandbox only signs events bookings use"
    receipt = await deliver_payment_event(temporal, event)
    return {
        "intent_id": intent_id,
        "paid": succeed,
        "webhook": {"body": receipt.model_dump()},
        "booking": {
            "id": str(event.booking_id),
            "status": await _settled_status(temporal, event.booking_id),
        },
    }


async def _settled_status(temporal: Client, booking_id: UUID) -> str | None:
    """The booking's status once it has moved past awaiting payment (None if it cannot say)."""
    handle = temporal.get_workflow_handle_for(BookingWorkflow.run, workflow_id(booking_id))
    try:
        async with asyncio.timeout(SETTLE_WITHIN.total_seconds()):
            state = await handle.execute_update(BookingWorkflow.wait_until_settled)
    except (
        TimeoutError,
        RPCError,
        WorkflowUpdateFailedError,
        WorkflowUpdateRPCTimeoutOrCancelledError,
    ):
        # Too slow, or the booking closed before it could answer: the caller GETs it instead.
        return None
    return str(state.status)
