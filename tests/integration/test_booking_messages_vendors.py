"""A booking's messages through the real SDKs: email by SMTP to aiosmtpd, SMS by the Twilio SDK
to a peer that speaks Twilio's wire format. Every message ends sent or failed with a reason,
a busy vendor's message is retried alone, and none of it touches the booking."""

from __future__ import annotations

import email
import uuid
from collections.abc import AsyncIterator, Iterator
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update
from temporalio.worker import Worker

from activities.booking import BookingActivities
from activities.notifications.teller import teller_from_settings
from config import Settings
from db.models import Notification, ProviderProfile, User
from devstack.peers.notify import REFUSED, Inbox, TwilioPeer, twilio_error
from devstack.processes import free_port
from domain.booking_state import BookingStatus
from tests.factories import future_local, make_customer, make_provider
from tests.temporal_fixtures import Saga
from tests.workflows.helpers import booking_input, eventually, start_booking, status_becomes
from workflows.booking import BookingWorkflow

TWILIO_SID = f"AC{'1' * 32}"
TWILIO_TOKEN = "local-peer-token"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioPeer]:
    peer = TwilioPeer(TWILIO_SID, TWILIO_TOKEN)
    await peer.start()
    yield peer
    await peer.close()


async def rows(saga: Saga, booking_id: uuid.UUID) -> list[Notification]:
    async with saga.db.session() as session:
        found = await session.scalars(
            select(Notification).where(Notification.appointment_id == booking_id)
        )
        return list(found)


async def test_confirmation_goes_through_smtp_and_twilio_and_a_refusal_is_recorded(
    saga: Saga, smtp: tuple[Inbox, int], twilio: TwilioPeer
) -> None:
    inbox, port = smtp
    settings = Settings(
        _env_file=None,
        email_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        sms_backend="twilio",
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_from_number="+15005550006",
        twilio_api_base=twilio.url,
    )
    provider = await make_provider(saga.db, price=0)
    customer = await make_customer(saga.db)
    async with saga.db.session() as session, session.begin():
        await session.execute(update(User).where(User.id == customer).values(sms_opt_in=True))
        provider_user = select(ProviderProfile.user_id).where(
            ProviderProfile.id == provider.provider_id
        )
        # The provider's address is one the mail server refuses for good (550).
        await session.execute(
            update(User).where(User.id == provider_user.scalar_subquery()).values(email=REFUSED)
        )
    # Twilio is busy once: only the SMS is sent again, after its Retry-After.
    twilio.answer_next(twilio_error(429, 20429, "Too Many Requests", {"Retry-After": "1"}))

    teller = teller_from_settings(settings, saga.db)
    task_queue = f"vendors-{uuid.uuid4()}"
    watched = Saga(saga.env, saga.client, task_queue, saga.db, saga.payments)
    start = future_local(provider.timezone)
    async with Worker(
        saga.client,
        task_queue=task_queue,
        workflows=[BookingWorkflow],
        activities=BookingActivities(saga.db, saga.payments, teller).all(),
    ):
        booking = booking_input(provider, customer, start)
        handle, _ = await start_booking(watched, booking)
        await status_becomes(handle, BookingStatus.CONFIRMED)
        told = await eventually(
            lambda: rows(saga, booking.booking_id),
            lambda found: len(found) == 3 and all(r.status != "pending" for r in found),
            within=30,
        )
        state = await handle.query(BookingWorkflow.state)
    await teller.email.aclose()
    await teller.sms.aclose()

    by_channel = {(r.kind, r.channel): r for r in told}
    to_customer = by_channel[("confirmed", "email")]
    assert to_customer.status == "sent" and to_customer.attempts == 1
    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == [to_customer.recipient]
    received = email.message_from_bytes(envelope.content, policy=default_policy)  # type: ignore[arg-type]
    assert received["Subject"] == to_customer.subject
    assert received["Message-ID"] == to_customer.external_id
    calendars = [p for p in received.walk() if p.get_content_type() == "text/calendar"]
    assert calendars and "METHOD:REQUEST" in calendars[0].get_content()

    sms = by_channel[("confirmed", "sms")]
    assert (sms.status, sms.attempts, sms.recipient) == ("sent", 2, "+15555550123")
    assert sms.external_id is not None and sms.external_id.startswith("SM")
    assert [r.form()["To"] for r in twilio.requests] == ["+15555550123"] * 2
    assert twilio.requests[-1].form()["Body"] == sms.body_text

    refused = by_channel[("provider_new_booking", "email")]
    assert refused.status == "failed" and refused.attempts == 1
    assert refused.last_error and "550" in refused.last_error
    assert state.status == BookingStatus.CONFIRMED
