"""A payment gateway for the embedded default: Stripe's semantics and wire format, no network.

Intents live in the app database so the API (which takes the sandbox checkout) and the worker
(which creates, cancels and refunds) see the same state, as they would with Stripe.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple, cast
from uuid import UUID

from sqlalchemy import String, Table, bindparam, insert, select, update
from temporalio.exceptions import ApplicationError

from activities.payments import events
from contract.messages import PaymentEvent, PaymentIntent, PaymentIntentRequest, PaymentVoid
from db.engine import Database
from db.models import SandboxPaymentIntent

REQUIRES_PAYMENT = "requires_payment_method"
SUCCEEDED = "succeeded"
CANCELED = "canceled"
UNKNOWN_INTENT = "UnknownPaymentIntent"


_INTENTS = cast(Table, SandboxPaymentIntent.__table__)


class _Intent(NamedTuple):
    """What the gateway reads of an intent."""

    id: str
    amount: int
    currency: str
    status: str
    booking_id: str


_COLUMNS = [_INTENTS.c[name] for name in _Intent._fields]
_BY_KEY = select(*_COLUMNS).where(_INTENTS.c.idempotency_key == bindparam("key", type_=String))
_BY_ID = select(*_COLUMNS).where(_INTENTS.c.id == bindparam("intent", type_=String))
_INSERT = insert(_INTENTS)
_PAID = (
    update(_INTENTS)
    .where(_INTENTS.c.id == bindparam("intent", type_=String))
    .values(status=SUCCEEDED)
)


class UnknownIntent(LookupError):
    pass


class IntentNotPayable(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(f"the payment intent is {status} and can no longer be paid")
        self.status = status


class SandboxPaymentGateway:
    name = "sandbox"

    def __init__(
        self,
        db: Database,
        webhook_secret: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._webhook_secret = webhook_secret
        self._clock = clock

    async def create_intent(self, request: PaymentIntentRequest) -> PaymentIntent:
        # Core statements, not ORM objects: this runs on every booking's hot path.
        async with self._db.serialized_transaction() as connection:
            found = (await connection.execute(_BY_KEY, {"key": request.idempotency_key})).first()
            if found is not None:
                return _public(_Intent(*found))
            intent = _Intent(
                id=f"pi_sandbox_{secrets.token_hex(12)}",
                amount=request.price.amount,
                currency=request.price.currency,
                status=REQUIRES_PAYMENT,
                booking_id=str(request.booking_id),
            )
            await connection.execute(
                _INSERT,
                {
                    **intent._asdict(),
                    "idempotency_key": request.idempotency_key,
                    "amount_refunded": 0,
                    "created_at": self._clock(),
                },
            )
            return _public(intent)

    async def cancel_or_refund(self, intent_id: str, idempotency_key: str) -> PaymentVoid:
        async with self._db.serialized() as session:
            intent = await session.get(SandboxPaymentIntent, intent_id)
            if intent is None:
                # Stripe's resource_missing: no retry can make the intent exist.
                raise ApplicationError(
                    f"no payment intent {intent_id} to cancel or refund",
                    type=UNKNOWN_INTENT,
                    non_retryable=True,
                )
            if intent.status == REQUIRES_PAYMENT:
                intent.status = CANCELED
                return PaymentVoid(intent_id=intent_id, outcome="canceled")
            if intent.status == SUCCEEDED and intent.amount_refunded < intent.amount:
                refund = intent.amount - intent.amount_refunded
                intent.amount_refunded = intent.amount
                return PaymentVoid(intent_id=intent_id, outcome="refunded", refunded_amount=refund)
            return PaymentVoid(
                intent_id=intent_id, outcome="already_void", refunded_amount=intent.amount_refunded
            )

    def parse_webhook(self, payload: bytes, signature: str | None) -> PaymentEvent | None:
        return events.parse_payment_event(payload, signature, self._webhook_secret)

    async def aclose(self) -> None:
        """Nothing to close: the intents live in the app database."""

    async def checkout(self, intent_id: str, *, succeed: bool) -> tuple[bytes, str]:
        """Pay (or fail to pay) as a customer would; returns the signed webhook to deliver.
        Paying a paid intent again returns its success event again."""
        async with self._db.serialized_transaction() as connection:
            found = (await connection.execute(_BY_ID, {"intent": intent_id})).first()
            if found is None:
                raise UnknownIntent(intent_id)
            intent = _Intent(*found)
            if succeed and intent.status == SUCCEEDED:
                # Paid already (the first checkout's answer may have been lost): send its
                # event again, same id, as Stripe redelivers an event not yet taken.
                payload = self._event(intent, succeed=True)
                return payload, events.sign(payload, self._webhook_secret)
            if intent.status != REQUIRES_PAYMENT:
                raise IntentNotPayable(intent.status)
            if succeed:
                intent = intent._replace(status=SUCCEEDED)
                await connection.execute(_PAID, {"intent": intent_id})
            payload = self._event(intent, succeed=succeed)
        return payload, events.sign(payload, self._webhook_secret)

    async def retrieve_intent(self, intent_id: str) -> PaymentIntent:
        async with self._db.reading() as connection:
            found = (await connection.execute(_BY_ID, {"intent": intent_id})).first()
        if found is None:
            raise ApplicationError(
                f"no payment intent {intent_id}", type=UNKNOWN_INTENT, non_retryable=True
            )
        return _public(_Intent(*found))

    async def booking_of(self, intent_id: str) -> UUID | None:
        """The booking an intent pays for, if the intent exists."""
        async with self._db.reading() as connection:
            found = (await connection.execute(_BY_ID, {"intent": intent_id})).first()
        return None if found is None else UUID(_Intent(*found).booking_id)

    def _event(self, intent: _Intent, *, succeed: bool) -> bytes:
        created = int(self._clock().timestamp())
        body = {
            # One success per intent, so its event id is the intent's; each declined attempt
            # is an event of its own.
            "id": f"evt_sandbox_{intent.id}_succeeded"
            if succeed
            else f"evt_sandbox_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": created,
            "livemode": False,
            "type": "payment_intent.succeeded" if succeed else "payment_intent.payment_failed",
            "data": {
                "object": {
                    "id": intent.id,
                    "object": "payment_intent",
                    "amount": intent.amount,
                    "amount_received": intent.amount if succeed else 0,
                    "currency": intent.currency.lower(),
                    "status": intent.status,
                    "metadata": {"booking_id": intent.booking_id},
                    "last_payment_error": None
                    if succeed
                    else {"code": "card_declined", "message": "Your card was declined."},
                }
            },
        }
        return json.dumps(body, separators=(",", ":")).encode()


def _public(intent: _Intent) -> PaymentIntent:
    return PaymentIntent(
        id=intent.id,
        client_secret=f"{intent.id}_secret_sandbox",
        amount=intent.amount,
        currency=intent.currency,
        status=intent.status,
        gateway=SandboxPaymentGateway.name,
    )
