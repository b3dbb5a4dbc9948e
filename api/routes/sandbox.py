"""The sandbox checkout: the booking's customer pays with one curl, through the webhook's own
verification and delivery. Development only (Settings refuses the sandbox elsewhere)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from activities.payments.sandbox import IntentNotPayable, SandboxPaymentGateway, UnknownIntent
from api.deps import BookingsDep, CurrentUser, DatabaseDep, PaymentsDep
from api.errors import APIError, DocumentedErrorRoute, not_found
from api.routes.payments import deliver_payment_event
from api.schemas.common import errors
from db import booking_reads

router = APIRouter(
    prefix="/sandbox/payments",
    tags=["sandbox"],
    route_class=DocumentedErrorRoute,
    responses=errors(401, 404, 409, 503),
)

# Like a checkout page that returns once the payment is settled, wait this long at most for the
# booking to act on the webhook, so the next GET already shows the outcome.
SETTLE_WITHIN = timedelta(seconds=5)


@router.post("/{intent_id}/succeed", responses={404: {"description": "no such payment of yours"}})
async def pay(
    intent_id: str,
    user: CurrentUser,
    gateway: PaymentsDep,
    db: DatabaseDep,
    booking_client: BookingsDep,
) -> dict[str, object]:
    """Pay the intent as its customer would; the signed event is delivered as the webhook does."""
    return await _checkout(intent_id, user.id, gateway, db, booking_client, succeed=True)


@router.post("/{intent_id}/fail", responses={404: {"description": "no such payment of yours"}})
async def decline(
    intent_id: str,
    user: CurrentUser,
    gateway: PaymentsDep,
    db: DatabaseDep,
    booking_client: BookingsDep,
) -> dict[str, object]:
    """Decline the card; the booking keeps waiting for another attempt until its hold expires."""
    return await _checkout(intent_id, user.id, gateway, db, booking_client, succeed=False)


async def _checkout(
    intent_id: str,
    customer_id: object,
    gateway: PaymentsDep,
    db: DatabaseDep,
    booking_client: BookingsDep,
    *,
    succeed: bool,
) -> dict[str, object]:
    if not isinstance(gateway, SandboxPaymentGateway):
        raise APIError(
            404, "not_found", "the sandbox checkout exists only with the sandbox gateway"
        )
    # Only the booking's own customer pays it; anyone else sees no such payment.
    booking_id = await gateway.booking_of(intent_id)
    state = None if booking_id is None else await booking_reads.get_booking(db, booking_id)
    if state is None or state.customer_id != customer_id:
        raise not_found("payment")
    try:
        payload, signature = await gateway.checkout(intent_id, succeed=succeed)
    except IntentNotPayable as err:
        raise APIError(409, "payment_not_payable", str(err)) from err
    except UnknownIntent as err:
        raise not_found("payment") from err
    # Verify and deliver the signed event exactly as POST /payments/webhook does (the same
    # calls), without an HTTP round trip into this same process.
    event = gateway.parse_webhook(payload, signature)
    assert event is not None, "the sandbox only signs events bookings use"
    receipt = await deliver_payment_event(db, booking_client, event)
    acted = await booking_client.acted_on(event, SETTLE_WITHIN)
    return {
        "intent_id": intent_id,
        "paid": succeed,
        "webhook": {"body": receipt.model_dump()},
        "booking": {
            "id": str(event.booking_id),
            "status": None if acted is None else str(acted.status),
            "payment_failure": None if acted is None else acted.payment_failure,
        },
    }
