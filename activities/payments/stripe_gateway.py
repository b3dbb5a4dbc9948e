"""The Stripe adapter: PaymentIntents and refunds through the stripe SDK's async client.

Retries belong to Temporal: outages (network, rate limits, 5xx) propagate so the activity runs
again, while a request Stripe refuses for good becomes a non-retryable ApplicationError. Every
write carries an idempotency key derived from the saga's, so a retried attempt never creates,
cancels or refunds twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

import stripe
from temporalio.exceptions import ApplicationError

from activities.payments import events
from contract.messages import PaymentEvent, PaymentIntent, PaymentIntentRequest, PaymentVoid

T = TypeVar("T")

# Statuses Stripe lets us cancel; a canceled intent can never be paid.
CANCELABLE = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"}
)
# Stripe refuses these when the intent moved on between our read and our write: read again.
STATE_RACES = frozenset({"payment_intent_unexpected_state", "charge_already_refunded"})
REQUEST_TIMEOUT_SECONDS = 10
STRIPE_REFUSED = "StripeRefused"
PAYMENT_NOT_SETTLED = "PaymentNotSettled"


class StripeHTTPClient(stripe.HTTPXClient):
    """The SDK's httpx client, sending the form body as `content=`.

    stripe 16.1 passes the encoded body as httpx's `data=`, which httpx 0.28 deprecates for raw
    bytes; the SDK turns the DeprecationWarning into a connection error wherever warnings are
    errors.
    """

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> Any:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        body = kwargs.pop("data", None)
        if body:
            kwargs["content"] = body
        return args, kwargs


class StripePaymentGateway:
    """PaymentGateway on Stripe; `http_client` lets a test watch or hold the requests."""

    name = "stripe"

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        api_base: str | None = None,
        http_client: StripeHTTPClient | None = None,
    ) -> None:
        self._http = http_client or StripeHTTPClient(timeout=REQUEST_TIMEOUT_SECONDS)
        self._stripe = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=self._http,
            max_network_retries=2,
        )
        self._webhook_secret = webhook_secret

    async def aclose(self) -> None:
        """Close the pooled HTTP connections."""
        await self._http.close_async()  # type: ignore[no-untyped-call]  # untyped in the SDK

    async def create_intent(self, request: PaymentIntentRequest) -> PaymentIntent:
        intent = await _call(
            "create the payment intent",
            self._stripe.v1.payment_intents.create_async(
                {
                    "amount": request.price.amount,
                    "currency": request.price.currency.lower(),
                    "metadata": {"booking_id": str(request.booking_id)},
                    "description": request.description,
                },
                {"idempotency_key": request.idempotency_key},
            ),
        )
        if intent.client_secret is None:
            raise ApplicationError(
                f"Stripe returned payment intent {intent.id} without a client secret",
                type=STRIPE_REFUSED,
                non_retryable=True,
            )
        return PaymentIntent(
            id=intent.id,
            client_secret=intent.client_secret,
            amount=intent.amount,
            currency=intent.currency.upper(),
            status=intent.status,
            gateway=self.name,
        )

    async def retrieve_intent(self, intent_id: str) -> PaymentIntent:
        intent = await _call(
            "read the payment intent", self._stripe.v1.payment_intents.retrieve_async(intent_id)
        )
        return PaymentIntent(
            id=intent.id,
            client_secret=intent.client_secret or "",
            amount=intent.amount,
            currency=intent.currency.upper(),
            status=intent.status,
            gateway=self.name,
        )

    async def cancel_or_refund(self, intent_id: str, idempotency_key: str) -> PaymentVoid:
        intents = self._stripe.v1.payment_intents
        intent = await _call(
            "read the payment intent",
            intents.retrieve_async(intent_id, {"expand": ["latest_charge"]}),
        )
        if intent.status in CANCELABLE:
            await _call(
                "cancel the payment intent",
                intents.cancel_async(
                    intent_id, options={"idempotency_key": f"{idempotency_key}:cancel"}
                ),
            )
            return PaymentVoid(intent_id=intent_id, outcome="canceled")
        if intent.status == "canceled":
            return PaymentVoid(intent_id=intent_id, outcome="already_void")
        if intent.status != "succeeded":
            # `processing` settles into succeeded or requires_payment_method: retry until it does.
            raise ApplicationError(
                f"payment intent {intent_id} is {intent.status}: it can be neither canceled nor "
                "refunded until it settles",
                type=PAYMENT_NOT_SETTLED,
            )
        charge = intent.latest_charge
        if not isinstance(charge, stripe.Charge):
            raise ApplicationError(
                f"payment intent {intent_id} succeeded but Stripe shows no charge to refund",
                type=STRIPE_REFUSED,
                non_retryable=True,
            )
        remaining = charge.amount - charge.amount_refunded
        if remaining <= 0:
            return PaymentVoid(
                intent_id=intent_id, outcome="already_void", refunded_amount=charge.amount_refunded
            )
        # The amount is in the key: a refund someone made meanwhile changes what is left to refund.
        await _call(
            "refund the payment",
            self._stripe.v1.refunds.create_async(
                {"payment_intent": intent_id, "amount": remaining},
                {"idempotency_key": f"{idempotency_key}:refund:{remaining}"},
            ),
        )
        return PaymentVoid(intent_id=intent_id, outcome="refunded", refunded_amount=charge.amount)

    def parse_webhook(self, payload: bytes, signature: str | None) -> PaymentEvent | None:
        return events.parse_payment_event(payload, signature, self._webhook_secret)


async def _call(action: str, request: Awaitable[T]) -> T:
    """Await a Stripe request; a refusal no retry can change becomes non-retryable."""
    try:
        return await request
    except (stripe.InvalidRequestError, stripe.IdempotencyError, stripe.CardError) as err:
        if err.code in STATE_RACES:
            raise
        raise ApplicationError(
            f"Stripe refused to {action}: {err.user_message or err}",
            type=STRIPE_REFUSED,
            non_retryable=True,
        ) from err
