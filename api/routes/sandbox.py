"""The sandbox checkout: pay a booking with one curl, through the real webhook path."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

import httpx
from fastapi import APIRouter, Request
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from activities.payments.sandbox import IntentNotPayable, SandboxPaymentGateway, UnknownIntent
from api.deps import PaymentsDep, TemporalDep
from api.errors import APIError, not_found
from workflows.booking import BookingWorkflow
from workflows.client import workflow_id

router = APIRouter(prefix="/sandbox/payments", tags=["sandbox"])

# Like a checkout page that returns once the payment is settled, wait this long at most for the
# booking to act on the webhook, so the next GET already shows the outcome.
SETTLE_WITHIN = timedelta(seconds=5)


@router.post("/{intent_id}/succeed")
async def pay(
    intent_id: str, request: Request, payments: PaymentsDep, temporal: TemporalDep
) -> dict[str, object]:
    """Pay the intent as a customer would; the signed event goes to POST /payments/webhook."""
    return await _checkout(intent_id, request, payments, temporal, succeed=True)


@router.post("/{intent_id}/fail")
async def decline(
    intent_id: str, request: Request, payments: PaymentsDep, temporal: TemporalDep
) -> dict[str, object]:
    """Decline the card; the signed failure event goes to POST /payments/webhook."""
    return await _checkout(intent_id, request, payments, temporal, succeed=False)


async def _checkout(
    intent_id: str, request: Request, payments: PaymentsDep, temporal: Client, *, succeed: bool
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
    # Deliver through the app's own webhook route, exactly as the gateway would over HTTP.
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        response = await client.post(
            "/payments/webhook",
            content=payload,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )
    event = payments.parse_webhook(payload, signature)
    assert event is not None
    return {
        "intent_id": intent_id,
        "paid": succeed,
        "webhook": {"status_code": response.status_code, "body": response.json()},
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
