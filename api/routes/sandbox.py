"""The sandbox checkout: pay a booking with one curl, through the real webhook path."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request

from activities.payments.sandbox import IntentNotPayable, SandboxPaymentGateway, UnknownIntent
from api.deps import PaymentsDep
from api.errors import APIError, not_found

router = APIRouter(prefix="/sandbox/payments", tags=["sandbox"])


@router.post("/{intent_id}/succeed")
async def pay(intent_id: str, request: Request, payments: PaymentsDep) -> dict[str, object]:
    """Pay the intent as a customer would; the signed event goes to POST /payments/webhook."""
    return await _checkout(intent_id, request, payments, succeed=True)


@router.post("/{intent_id}/fail")
async def decline(intent_id: str, request: Request, payments: PaymentsDep) -> dict[str, object]:
    """Decline the card; the signed failure event goes to POST /payments/webhook."""
    return await _checkout(intent_id, request, payments, succeed=False)


async def _checkout(
    intent_id: str, request: Request, payments: PaymentsDep, *, succeed: bool
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
    return {
        "intent_id": intent_id,
        "paid": succeed,
        "webhook": {"status_code": response.status_code, "body": response.json()},
    }
