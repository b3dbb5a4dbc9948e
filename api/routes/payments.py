from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Header, Request

from activities.payments.port import InvalidWebhook
from api.deps import BookingsDep, DatabaseDep, PaymentsDep, SettingsDep
from api.errors import APIError, DocumentedErrorRoute
from api.schemas.common import errors
from api.schemas.payments import PaymentConfigPublic, WebhookReceipt
from contract.messages import PaymentEvent
from db import payments as ledger
from db.engine import Database
from workflows.client import BookingClient, Delivery

log = logging.getLogger("booking.api")
router = APIRouter(
    prefix="/payments",
    tags=["payments"],
    route_class=DocumentedErrorRoute,
)


@router.get("/config")
async def payment_config(settings: SettingsDep) -> PaymentConfigPublic:
    """The gateway the checkout pays through, and Stripe's publishable key for Stripe.js."""
    stripe = settings.payment_gateway == "stripe"
    return PaymentConfigPublic(
        gateway=settings.payment_gateway,
        publishable_key=settings.stripe_publishable_key if stripe else None,
    )


@router.post(
    "/webhook",
    responses={
        **errors(413),
        400: {"description": "a bad signature or an unreadable body"},
        503: {"description": "not taken now: the gateway delivers it again"},
    },
)
async def payment_webhook(
    request: Request,
    gateway: PaymentsDep,
    db: DatabaseDep,
    booking_client: BookingsDep,
    stripe_signature: str | None = Header(default=None),
) -> WebhookReceipt:
    """Receive a signed payment event and pass it to its booking, once per event id."""
    try:
        event = gateway.parse_webhook(await request.body(), stripe_signature)
    except InvalidWebhook as err:
        raise APIError(400, "invalid_webhook", str(err)) from err
    return await deliver_payment_event(db, booking_client, event)


async def deliver_payment_event(
    db: Database, booking_client: BookingClient, event: PaymentEvent | None
) -> WebhookReceipt:
    """Act on a verified payment event once (the sandbox checkout delivers here too).

    The event is kept in the ledger first; a repeat of one already acted on changes nothing.
    A success for a booking whose workflow has closed is refunded, unless the booking was
    confirmed with that very payment. Until the event has been acted on, a repeat tries again.
    """
    if event is None:
        return WebhookReceipt(handled=False, detail="not a booking's payment event")
    now = datetime.now(UTC)
    kind = "payment_intent.succeeded" if event.succeeded else "payment_intent.payment_failed"
    receipt = await ledger.receive(db, event, kind, now=now)
    if receipt.outcome is not None:
        return WebhookReceipt(
            handled=True, duplicate=True, detail=f"already received: {receipt.outcome}"
        )
    delivery = await booking_client.deliver(event)
    outcome: str = delivery
    if delivery == Delivery.CLOSED and event.succeeded:
        if await ledger.kept_with_intent(db, event.booking_id, event.intent_id):
            outcome = "booking_confirmed"
        else:
            await booking_client.refund_late_payment(event)
            outcome = "refunding_late_payment"
            log.info("payment %s came after booking %s ended", event.intent_id, event.booking_id)
    await ledger.mark_handled(db, event.event_id, outcome, now=now)
    detail = {
        Delivery.DELIVERED: f"delivered to booking {event.booking_id}",
        "booking_confirmed": "the booking was confirmed with this payment",
        "refunding_late_payment": "the booking had ended: the payment is being refunded",
    }.get(outcome, "the booking had ended")
    return WebhookReceipt(handled=True, detail=detail)
