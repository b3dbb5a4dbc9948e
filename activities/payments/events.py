"""Stripe's webhook format: signed `Stripe-Signature` header, `payment_intent.*` events.

The sandbox speaks it too, so verification is one code path, the Stripe SDK's own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any
from uuid import UUID

import stripe

from activities.payments.port import InvalidWebhook
from contract.messages import PaymentEvent

log = logging.getLogger("booking.payments")
SIGNATURE_TOLERANCE_SECONDS = 300
HANDLED_EVENTS = {"payment_intent.succeeded": True, "payment_intent.payment_failed": False}


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value for `payload`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def parse_payment_event(payload: bytes, signature: str | None, secret: str) -> PaymentEvent | None:
    """Verify the signature, then read a payment intent event of a booking's.

    InvalidWebhook for a bad signature or a body that is no event: nothing may change. None for
    a genuine event that is not a booking's payment (another type, or an intent without our
    metadata): acknowledged, so the gateway does not retry it for days."""
    if not signature:
        raise InvalidWebhook("missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, secret, SIGNATURE_TOLERANCE_SECONDS
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as err:
        raise InvalidWebhook(f"signature verification failed: {err}") from err
    try:
        event = json.loads(payload)
    except json.JSONDecodeError as err:
        raise InvalidWebhook("body is not JSON") from err
    if not isinstance(event, dict) or event.get("object") != "event":
        raise InvalidWebhook("body is not a Stripe event")
    succeeded = HANDLED_EVENTS.get(event.get("type", ""))
    if succeeded is None:
        return None
    return _payment_event(event, succeeded=succeeded)


def _payment_event(event: dict[str, Any], *, succeeded: bool) -> PaymentEvent | None:
    try:
        intent = event["data"]["object"]
        booking_id = UUID(intent["metadata"]["booking_id"])
        error = intent.get("last_payment_error") or {}
        return PaymentEvent(
            event_id=event["id"],
            intent_id=intent["id"],
            booking_id=booking_id,
            succeeded=succeeded,
            amount=intent["amount"],
            currency=str(intent["currency"]).upper(),
            failure_message=None if succeeded else error.get("message", "payment failed"),
        )
    except (KeyError, TypeError, ValueError) as err:
        log.info("verified event %s is not a booking's payment: %r", event.get("id"), err)
        return None
