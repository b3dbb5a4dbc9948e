from __future__ import annotations

import logging

from fastapi import APIRouter, Header, Request
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.payments.port import InvalidWebhook
from api.deps import PaymentsDep, TemporalDep
from api.errors import APIError
from api.schemas.payments import WebhookReceipt
from contract.messages import PaymentEvent
from workflows.booking import BookingWorkflow
from workflows.client import workflow_id

log = logging.getLogger("booking.api")
router = APIRouter(prefix="/payments", tags=["payments"])


@router.post("/webhook", responses={400: {"description": "forged or malformed event"}})
async def payment_webhook(
    request: Request,
    payments: PaymentsDep,
    temporal: TemporalDep,
    stripe_signature: str | None = Header(default=None),
) -> WebhookReceipt:
    """Receive a signed payment event and pass it to its booking."""
    try:
        event = payments.parse_webhook(await request.body(), stripe_signature)
    except InvalidWebhook as err:
        raise APIError(400, "invalid_webhook", str(err)) from err
    return await deliver_payment_event(temporal, event)


async def deliver_payment_event(temporal: Client, event: PaymentEvent | None) -> WebhookReceipt:
    """Pass a verified payment event to its booking (the sandbox checkout delivers here too)."""
    if event is None:
        return WebhookReceipt(handled=False, detail="event type not used by bookings")
    signal = (
        BookingWorkflow.payment_succeeded if event.succeeded else BookingWorkflow.payment_failed
    )
    handle = temporal.get_workflow_handle(workflow_id(event.booking_id))
    try:
        await handle.signal(signal, event)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            # The booking already ended; its undo step cancelled or refunded this intent.
            log.info("payment event %s for closed booking %s", event.event_id, event.booking_id)
            return WebhookReceipt(handled=False, detail="booking already ended")
        # Anything else: answer non-2xx so the gateway delivers the event again.
        raise APIError(503, "booking_engine_unavailable", "try again later") from err
    return WebhookReceipt(handled=True, detail=f"delivered to booking {event.booking_id}")
