"""The payment gateway port: what the saga and the webhook need from Stripe or its sandbox."""

from __future__ import annotations

from typing import Protocol

from contract.messages import PaymentEvent, PaymentIntent, PaymentIntentRequest, PaymentVoid


class InvalidWebhook(Exception):
    """A webhook whose signature, timestamp or body does not check out; nothing may change."""


class PaymentGateway(Protocol):
    name: str

    async def create_intent(self, request: PaymentIntentRequest) -> PaymentIntent:
        """Create the intent that collects the price; a repeated idempotency key returns it."""
        ...

    async def cancel_or_refund(self, intent_id: str, idempotency_key: str) -> PaymentVoid:
        """Undo a payment whatever state it reached: cancel it if unpaid, refund it if paid."""
        ...

    async def retrieve_intent(self, intent_id: str) -> PaymentIntent:
        """The intent as the gateway sees it now (its status above all)."""
        ...

    def parse_webhook(self, payload: bytes, signature: str | None) -> PaymentEvent | None:
        """Verify and read a webhook; None for a genuine event the saga does not act on."""
        ...

    async def aclose(self) -> None:
        """Release connections the gateway holds; the process calls it once, on shutdown."""
        ...
