"""The Stripe adapter against localstripe: a stateful Stripe peer on loopback that signs webhooks.

localstripe runs as a child process on 127.0.0.1, in memory, with two gaps to Stripe's API
filled (see `tests.stripe_peer`). Its webhooks go to a small receiver on 127.0.0.1 in this
process; the tests verify and read them with the adapter, as the API's webhook route does.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx
import pytest
import stripe
from pydantic import SecretStr
from sqlalchemy import select
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.booking import BookingActivities
from activities.payments import gateway_from_settings
from activities.payments.port import InvalidWebhook
from activities.payments.stripe_gateway import StripeHTTPClient, StripePaymentGateway
from config import Settings
from contract.messages import (
    BookingInput,
    BookingState,
    CancelRequest,
    Money,
    PaymentIntent,
    PaymentIntentRequest,
)
from db.engine import Database
from db.models import Appointment, PaymentTransaction
from devstack.processes import free_port
from domain.booking_state import BookingStatus
from tests.factories import future_local, make_customer, make_provider
from tests.stripe_peer import running_localstripe
from tests.workflows.helpers import BookingHandle, booking_input, eventually, status_becomes
from workflows import search_attributes
from workflows.booking import BookingWorkflow
from workflows.client import workflow_id

API_KEY = "sk_test_localstripe"
WEBHOOK_SECRET = "whsec_localstripe_test"
PAYMENT_EVENTS = ["payment_intent.succeeded", "payment_intent.payment_failed"]
VISA = "pm_card_visa"
DECLINED_VISA = "pm_card_chargeCustomerFail"  # attaches, then the charge is declined


# ---------------------------------------------------------------------- the peer


@pytest.fixture(scope="module")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """localstripe's base URL; it must start, there is no skipping."""
    with running_localstripe(tmp_path_factory.mktemp("localstripe") / "localstripe.log") as url:
        yield url


class WebhookInbox:
    """An HTTP endpoint on 127.0.0.1 that keeps every webhook delivered to it."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[bytes, str | None]] = []

    async def receive(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.deliveries.append((body, headers.get("stripe-signature")))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()

    async def delivery_for(self, intent_id: str, within: float = 15) -> tuple[bytes, str | None]:
        """The first webhook about `intent_id`, waiting for localstripe to send it."""

        async def find() -> tuple[bytes, str | None] | None:
            return next(
                (d for d in self.deliveries if _intent_id_of(d[0]) == intent_id),
                None,
            )

        delivery = await eventually(find, lambda found: found is not None, within=within)
        assert delivery is not None, f"no webhook about {intent_id} within {within}s"
        return delivery


def _intent_id_of(payload: bytes) -> str | None:
    try:
        return str(json.loads(payload)["data"]["object"]["id"])
    except (ValueError, KeyError, TypeError):
        return None


@pytest.fixture(scope="module")
async def inbox(localstripe: str) -> AsyncIterator[WebhookInbox]:
    """A webhook receiver that localstripe delivers payment intent events to, signed."""
    inbox = WebhookInbox()
    server = await asyncio.start_server(inbox.receive, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{localstripe}/_config/webhooks/booking-tests",
            json={
                "url": f"http://127.0.0.1:{port}/payments/webhook",
                "secret": WEBHOOK_SECRET,
                "events": PAYMENT_EVENTS,
            },
        )
        response.raise_for_status()
    try:
        yield inbox
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def gateway(localstripe: str) -> AsyncIterator[StripePaymentGateway]:
    gateway = StripePaymentGateway(
        api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, api_base=localstripe
    )
    yield gateway
    await gateway.aclose()


@pytest.fixture
async def customer(localstripe: str) -> AsyncIterator[stripe.StripeClient]:
    """The other side of the payment: what Stripe.js and the dashboard do, through the SDK."""
    http = StripeHTTPClient()
    yield stripe.StripeClient(API_KEY, base_addresses={"api": localstripe}, http_client=http)
    await http.close_async()


async def pay(customer: stripe.StripeClient, intent_id: str, card: str = VISA) -> None:
    """Pay with a test card, as Stripe.js does with the client secret.

    localstripe answers 500 to `confirm` with a payment_method, so it is attached first.
    """
    await customer.v1.payment_intents.update_async(intent_id, {"payment_method": card})
    await customer.v1.payment_intents.confirm_async(intent_id)


async def charge_of(customer: stripe.StripeClient, intent_id: str) -> stripe.Charge:
    intent = await customer.v1.payment_intents.retrieve_async(
        intent_id, {"expand": ["latest_charge"]}
    )
    assert isinstance(intent.latest_charge, stripe.Charge)
    return intent.latest_charge


async def refunds_of(customer: stripe.StripeClient, intent_id: str) -> list[int]:
    refunds = await customer.v1.refunds.list_async({"payment_intent": intent_id})
    return sorted(refund.amount for refund in refunds.data)


def intent_request(amount: int = 4250, currency: str = "EUR") -> PaymentIntentRequest:
    booking_id = uuid.uuid4()
    return PaymentIntentRequest(
        booking_id=booking_id,
        price=Money(amount=amount, currency=currency),
        idempotency_key=f"{workflow_id(booking_id)}:payment-intent",
        description=f"Booking {booking_id}",
    )


def void_key(request: PaymentIntentRequest) -> str:
    return f"{workflow_id(request.booking_id)}:void-payment"


async def paid_intent(
    gateway: StripePaymentGateway, customer: stripe.StripeClient
) -> tuple[PaymentIntentRequest, PaymentIntent]:
    request = intent_request()
    intent = await gateway.create_intent(request)
    await pay(customer, intent.id)
    assert (await customer.v1.payment_intents.retrieve_async(intent.id)).status == "succeeded"
    return request, intent


# ---------------------------------------------------------------------- the adapter


async def test_create_intent_makes_the_intent_at_stripe_and_a_repeated_key_returns_it(
    gateway: StripePaymentGateway, customer: stripe.StripeClient
) -> None:
    request = intent_request(amount=4250, currency="EUR")

    intent = await gateway.create_intent(request)

    assert intent.id.startswith("pi_")
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert (intent.amount, intent.currency, intent.status, intent.gateway) == (
        4250,
        "EUR",
        "requires_payment_method",
        "stripe",
    )
    at_stripe = await customer.v1.payment_intents.retrieve_async(intent.id)
    assert (at_stripe.amount, at_stripe.currency) == (4250, "eur")
    assert at_stripe.metadata.to_dict() == {"booking_id": str(request.booking_id)}
    assert at_stripe.description == request.description

    assert await gateway.create_intent(request) == intent
    other = request.model_copy(update={"idempotency_key": f"{request.idempotency_key}-other"})
    assert (await gateway.create_intent(other)).id != intent.id


async def test_a_paid_intent_is_refunded_once(
    gateway: StripePaymentGateway, customer: stripe.StripeClient
) -> None:
    request, intent = await paid_intent(gateway, customer)

    void = await gateway.cancel_or_refund(intent.id, void_key(request))

    assert (void.outcome, void.refunded_amount) == ("refunded", 4250)
    charge = await charge_of(customer, intent.id)
    assert (charge.refunded, charge.amount_refunded) == (True, 4250)
    again = await gateway.cancel_or_refund(intent.id, void_key(request))
    assert (again.outcome, again.refunded_amount) == ("already_void", 4250)
    assert await refunds_of(customer, intent.id) == [4250]


class RefundsMeet(StripeHTTPClient):
    """Holds each refund request until `parties` of them are in flight, then lets all go."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self._barrier = asyncio.Barrier(parties)

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> Any:
        if method == "post" and url.endswith("/v1/refunds"):
            await asyncio.wait_for(self._barrier.wait(), timeout=10)
        return await super().request_async(method, url, headers, post_data)


async def test_attempts_racing_each_other_refund_once(
    localstripe: str, customer: stripe.StripeClient
) -> None:
    """A retry that starts while a timed-out attempt still runs: both see the money unrefunded."""
    racing = StripePaymentGateway(
        api_key=API_KEY,
        webhook_secret=WEBHOOK_SECRET,
        api_base=localstripe,
        http_client=RefundsMeet(parties=2),
    )
    try:
        request, intent = await paid_intent(racing, customer)

        voids = await asyncio.gather(
            racing.cancel_or_refund(intent.id, void_key(request)),
            racing.cancel_or_refund(intent.id, void_key(request)),
        )
    finally:
        await racing.aclose()

    assert [(v.outcome, v.refunded_amount) for v in voids] == [("refunded", 4250)] * 2
    assert await refunds_of(customer, intent.id) == [4250]


async def test_a_partly_refunded_payment_has_the_rest_refunded(
    gateway: StripePaymentGateway, customer: stripe.StripeClient
) -> None:
    request, intent = await paid_intent(gateway, customer)
    await customer.v1.refunds.create_async({"payment_intent": intent.id, "amount": 1000})

    void = await gateway.cancel_or_refund(intent.id, void_key(request))

    assert (void.outcome, void.refunded_amount) == ("refunded", 4250)
    assert await refunds_of(customer, intent.id) == [1000, 3250]


async def test_an_unpaid_intent_is_canceled_and_then_already_void(
    gateway: StripePaymentGateway, customer: stripe.StripeClient
) -> None:
    request = intent_request()
    intent = await gateway.create_intent(request)

    void = await gateway.cancel_or_refund(intent.id, void_key(request))

    assert (void.outcome, void.refunded_amount) == ("canceled", 0)
    assert (await customer.v1.payment_intents.retrieve_async(intent.id)).status == "canceled"
    again = await gateway.cancel_or_refund(intent.id, void_key(request))
    assert (again.outcome, again.refunded_amount) == ("already_void", 0)
    with pytest.raises(stripe.InvalidRequestError):  # a late payment cannot be taken
        await pay(customer, intent.id)


async def test_requests_stripe_refuses_are_not_retried(gateway: StripePaymentGateway) -> None:
    with pytest.raises(ApplicationError) as unknown:
        await gateway.cancel_or_refund("pi_does_not_exist", "booking-x:void-payment")
    request = intent_request(amount=4250)
    await gateway.create_intent(request)
    with pytest.raises(ApplicationError) as reused:
        await gateway.create_intent(request.model_copy(update={"description": "another"}))

    assert (unknown.value.non_retryable, unknown.value.type) == (True, "StripeRefused")
    assert "Stripe refused to read the payment intent" in unknown.value.message
    assert (reused.value.non_retryable, reused.value.type) == (True, "StripeRefused")
    assert "same parameters" in reused.value.message


async def test_an_unreachable_stripe_raises_a_retryable_error() -> None:
    nobody = StripePaymentGateway(
        api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, api_base=f"http://127.0.0.1:{free_port()}"
    )
    try:
        with pytest.raises(stripe.APIConnectionError):
            await nobody.create_intent(intent_request())
    finally:
        await nobody.aclose()


async def test_settings_build_the_stripe_gateway_and_refuse_it_without_a_key(
    settings: Settings, db: Database, localstripe: str
) -> None:
    stripe_settings = settings.model_copy(
        update={"payment_gateway": "stripe", "stripe_api_key": None, "stripe_api_base": localstripe}
    )
    with pytest.raises(ValueError, match="STRIPE_API_KEY"):
        gateway_from_settings(stripe_settings, db)

    keyed = stripe_settings.model_copy(update={"stripe_api_key": SecretStr(API_KEY)})
    gateway = gateway_from_settings(keyed, db)
    assert isinstance(gateway, StripePaymentGateway)
    try:
        assert (await gateway.create_intent(intent_request())).gateway == "stripe"
    finally:
        await gateway.aclose()


# ---------------------------------------------------------------------- webhooks


async def test_a_payment_at_stripe_sends_a_signed_webhook_the_gateway_reads(
    gateway: StripePaymentGateway, customer: stripe.StripeClient, inbox: WebhookInbox
) -> None:
    request, intent = await paid_intent(gateway, customer)

    payload, signature = await inbox.delivery_for(intent.id)
    event = gateway.parse_webhook(payload, signature)

    assert event is not None
    assert (event.intent_id, event.booking_id, event.succeeded) == (
        intent.id,
        request.booking_id,
        True,
    )
    assert (event.amount, event.currency, event.failure_message) == (4250, "EUR", None)
    tampered = payload.replace(b'"amount": 4250', b'"amount": 1', 1)
    assert tampered != payload
    with pytest.raises(InvalidWebhook):
        gateway.parse_webhook(tampered, signature)


async def test_a_declined_card_sends_a_failure_webhook(
    gateway: StripePaymentGateway, customer: stripe.StripeClient, inbox: WebhookInbox
) -> None:
    request = intent_request()
    intent = await gateway.create_intent(request)
    with pytest.raises(stripe.CardError):
        await pay(customer, intent.id, card=DECLINED_VISA)

    payload, signature = await inbox.delivery_for(intent.id)
    event = gateway.parse_webhook(payload, signature)

    assert event is not None
    assert (event.booking_id, event.succeeded) == (request.booking_id, False)
    assert event.failure_message == "Your card was declined."


# ---------------------------------------------------------------------- the saga


@pytest.fixture
async def stripe_worker(
    time_skipping_env: WorkflowEnvironment, db: Database, gateway: StripePaymentGateway
) -> AsyncIterator[str]:
    """A worker running the booking saga with the Stripe adapter; yields its task queue."""
    task_queue = f"bookings-stripe-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[BookingWorkflow],
        activities=BookingActivities(db, gateway).all(),
    ):
        yield task_queue


async def start_booking(
    client: Client, task_queue: str, booking: BookingInput
) -> tuple[BookingHandle, BookingState]:
    handle = await client.start_workflow(
        BookingWorkflow.run,
        booking,
        id=workflow_id(booking.booking_id),
        task_queue=task_queue,
        search_attributes=search_attributes.initial(
            status="requested",
            provider_id=booking.provider_id,
            service_id=booking.service_id,
            start=booking.start,
        ),
    )
    return handle, await handle.execute_update(BookingWorkflow.wait_until_held)


async def transaction_of(db: Database, intent_id: str) -> tuple[str, int] | None:
    async with db.session() as session:
        row = await session.scalar(
            select(PaymentTransaction).where(PaymentTransaction.intent_id == intent_id)
        )
    return None if row is None else (row.status, row.refunded_amount)


async def appointment_status(db: Database, booking_id: uuid.UUID) -> str | None:
    async with db.session() as session:
        row = await session.get(Appointment, booking_id)
    return None if row is None else row.status


async def test_the_saga_confirms_a_booking_paid_at_stripe_and_refunds_it_on_cancel(
    time_skipping_env: WorkflowEnvironment,
    stripe_worker: str,
    db: Database,
    gateway: StripePaymentGateway,
    customer: stripe.StripeClient,
    inbox: WebhookInbox,
) -> None:
    provider = await make_provider(db, price=6500, currency="USD")
    booking = booking_input(provider, await make_customer(db), future_local(provider.timezone))
    handle, held = await start_booking(time_skipping_env.client, stripe_worker, booking)
    assert held.status == BookingStatus.AWAITING_PAYMENT
    assert held.payment is not None and held.payment.gateway == "stripe"
    at_stripe = await customer.v1.payment_intents.retrieve_async(held.payment.id)
    assert (at_stripe.amount, at_stripe.currency) == (6500, "usd")
    assert at_stripe.metadata.to_dict() == {"booking_id": str(booking.booking_id)}

    await pay(customer, held.payment.id)
    payload, signature = await inbox.delivery_for(held.payment.id)
    event = gateway.parse_webhook(payload, signature)
    assert event is not None and event.succeeded
    await handle.signal(BookingWorkflow.payment_succeeded, event)

    await status_becomes(handle, BookingStatus.CONFIRMED)
    assert await appointment_status(db, booking.booking_id) == BookingStatus.CONFIRMED
    assert await transaction_of(db, held.payment.id) == ("succeeded", 0)

    state = await handle.execute_update(
        BookingWorkflow.cancel, CancelRequest(cancelled_by="provider", reason="ill")
    )
    assert state.status == BookingStatus.CANCELLED
    assert state.payment is not None and state.payment.status == "refunded"
    assert await refunds_of(customer, held.payment.id) == [6500]
    assert await transaction_of(db, held.payment.id) == ("refunded", 6500)
    assert (await handle.result()).status == BookingStatus.CANCELLED


async def test_an_unpaid_booking_that_expires_leaves_the_intent_canceled_at_stripe(
    time_skipping_env: WorkflowEnvironment,
    stripe_worker: str,
    db: Database,
    customer: stripe.StripeClient,
) -> None:
    provider = await make_provider(db)
    booking = booking_input(provider, await make_customer(db), future_local(provider.timezone))
    handle, held = await start_booking(time_skipping_env.client, stripe_worker, booking)
    assert held.payment is not None

    outcome = await handle.result()  # the 15-minute payment timer fires in skipped time

    assert outcome.status == BookingStatus.EXPIRED
    assert (await customer.v1.payment_intents.retrieve_async(held.payment.id)).status == "canceled"
    assert await transaction_of(db, held.payment.id) == ("canceled", 0)
    assert await appointment_status(db, booking.booking_id) == BookingStatus.EXPIRED
