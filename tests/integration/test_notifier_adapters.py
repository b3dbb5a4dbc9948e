"""The email and SMS adapters against local peers: what goes on the wire, and what comes back.

SendGrid and Twilio are HTTP peers on 127.0.0.1 (tests/integration/notify_peers.py); SMTP is
an aiosmtpd server. The senders are built from Settings, as the worker builds them.
"""

from __future__ import annotations

import base64
import email
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from activities.notifications import email_sender_from_settings, sms_sender_from_settings
from activities.notifications.port import EmailSender, PermanentRefusal, RetryLater, SmsSender
from activities.notifications.sandbox import SandboxEmailSender, SandboxSmsSender
from config import Settings
from contract.notifications import Email, Sms
from devstack.processes import free_port
from tests.integration.notify_peers import (
    DEFERRED,
    REFUSED,
    Inbox,
    SendGridPeer,
    TwilioPeer,
    sendgrid_error,
    twilio_error,
)

SENDGRID_KEY = "SG.local-peer-key"
TWILIO_SID = f"AC{'0' * 32}"
TWILIO_TOKEN = "local-peer-token"
TWILIO_NUMBER = "+15005550006"
PUBLIC_BASE_URL = "https://bookings.example.com"
FROM_EMAIL = "bookings@clinic.example.com"
FROM_NAME = "Clinic Bookings"
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Bookings//EN\r\nMETHOD:REQUEST\r\n"
    "BEGIN:VEVENT\r\nUID:booking-1@bookings.example.com\r\nSEQUENCE:0\r\n"
    "DTSTART:20300102T090000Z\r\nDTEND:20300102T093000Z\r\nSUMMARY:Haircut\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def settings(**overrides: Any) -> Settings:
    return Settings(
        _env_file=None,
        notify_from_email=FROM_EMAIL,
        notify_from_name=FROM_NAME,
        public_base_url=PUBLIC_BASE_URL,
        **overrides,
    )


def an_email(to: str = "ana@example.com", ics: str | None = ICS) -> Email:
    return Email(
        message_id=uuid.uuid4(),
        to=to,
        to_name="Ana Núñez",
        subject="Your booking is confirmed",
        text="See you on 2 January at 09:00.",
        html="<p>See you on <b>2 January</b> at 09:00.</p>",
        ics=ics,
        ics_method="REQUEST" if ics else None,
    )


def an_sms(to: str = "+447700900123") -> Sms:
    return Sms(message_id=uuid.uuid4(), to=to, body="Booking confirmed: 2 Jan 09:00.")


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


# ---------------------------------------------------------------------- SendGrid


@pytest.fixture
async def sendgrid_peer() -> AsyncIterator[SendGridPeer]:
    peer = SendGridPeer(SENDGRID_KEY)
    await peer.start()
    yield peer
    await peer.close()


@pytest.fixture
async def sendgrid(sendgrid_peer: SendGridPeer) -> AsyncIterator[EmailSender]:
    sender = email_sender_from_settings(
        settings(
            email_backend="sendgrid",
            sendgrid_api_key=SENDGRID_KEY,
            sendgrid_api_base=sendgrid_peer.url,
        )
    )
    yield sender
    await sender.aclose()


async def test_sendgrid_posts_v3_mail_send_and_returns_its_message_id(
    sendgrid: EmailSender, sendgrid_peer: SendGridPeer
) -> None:
    mail = an_email()

    vendor_id = await sendgrid.send(mail)

    [request] = sendgrid_peer.requests
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.headers["Authorization"] == f"Bearer {SENDGRID_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    body = request.json()
    assert body["personalizations"][0]["to"] == [{"email": mail.to, "name": mail.to_name}]
    assert body["from"] == {"email": FROM_EMAIL, "name": FROM_NAME}
    assert body["subject"] == mail.subject
    assert body["content"] == [
        {"type": "text/plain", "value": mail.text},
        {"type": "text/html", "value": mail.html},
    ]
    [attachment] = body["attachments"]
    assert base64.b64decode(attachment["content"]).decode() == ICS
    assert attachment["type"] == "text/calendar; method=REQUEST"
    assert attachment["filename"] == "invite.ics"
    assert attachment["disposition"] == "attachment"
    assert body["custom_args"] == {"message_id": str(mail.message_id)}
    assert vendor_id == sendgrid_peer.message_ids[0]


async def test_sendgrid_email_without_invite_has_no_attachment(
    sendgrid: EmailSender, sendgrid_peer: SendGridPeer
) -> None:
    await sendgrid.send(an_email(ics=None))

    assert "attachments" not in sendgrid_peer.requests[0].json()


async def test_sendgrid_busy_or_down_means_retry_later_then_the_same_sender_sends(
    sendgrid: EmailSender, sendgrid_peer: SendGridPeer
) -> None:
    sendgrid_peer.answer_next(
        sendgrid_error(429, "too many requests", headers={"Retry-After": "7"}),
        sendgrid_error(500, "internal error"),
    )
    mail = an_email()

    with pytest.raises(RetryLater) as limited:
        await sendgrid.send(mail)
    with pytest.raises(RetryLater) as down:
        await sendgrid.send(mail)
    vendor_id = await sendgrid.send(mail)

    assert limited.value.retry_after == 7
    assert "too many requests" in str(limited.value)
    assert down.value.retry_after is None
    assert vendor_id == sendgrid_peer.message_ids[0]
    assert len(sendgrid_peer.requests) == 3


async def test_sendgrid_429_without_retry_after_waits_until_the_rate_limit_resets(
    sendgrid: EmailSender, sendgrid_peer: SendGridPeer
) -> None:
    reset = int(time.time()) + 30
    sendgrid_peer.answer_next(
        sendgrid_error(429, "too many requests", headers={"X-RateLimit-Reset": str(reset)})
    )

    with pytest.raises(RetryLater) as limited:
        await sendgrid.send(an_email())

    assert limited.value.retry_after is not None
    assert 25 <= limited.value.retry_after <= 30


async def test_sendgrid_refusing_the_address_is_permanent(
    sendgrid: EmailSender, sendgrid_peer: SendGridPeer
) -> None:
    with pytest.raises(PermanentRefusal) as refused:
        await sendgrid.send(an_email(to="ana.example.com"))

    assert "Does not contain a valid address." in str(refused.value)
    assert "personalizations.0.to.0.email" in str(refused.value)


async def test_sendgrid_unreachable_means_retry_later() -> None:
    sender = email_sender_from_settings(
        settings(
            email_backend="sendgrid",
            sendgrid_api_key=SENDGRID_KEY,
            sendgrid_api_base=closed_port_url(),
        )
    )

    with pytest.raises(RetryLater):
        await sender.send(an_email())


# ---------------------------------------------------------------------- Twilio


@pytest.fixture
async def twilio_peer() -> AsyncIterator[TwilioPeer]:
    peer = TwilioPeer(TWILIO_SID, TWILIO_TOKEN)
    await peer.start()
    yield peer
    await peer.close()


def twilio_settings(api_base: str) -> Settings:
    return settings(
        sms_backend="twilio",
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_from_number=TWILIO_NUMBER,
        twilio_api_base=api_base,
    )


@pytest.fixture
async def twilio(twilio_peer: TwilioPeer) -> AsyncIterator[SmsSender]:
    sender = sms_sender_from_settings(twilio_settings(twilio_peer.url))
    yield sender
    await sender.aclose()


async def test_twilio_posts_the_message_form_and_returns_its_sid(
    twilio: SmsSender, twilio_peer: TwilioPeer
) -> None:
    sms = an_sms()

    sid = await twilio.send(sms)

    [request] = twilio_peer.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    basic = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {basic}"
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert request.form() == {
        "To": sms.to,
        "From": TWILIO_NUMBER,
        "Body": sms.body,
        "StatusCallback": f"{PUBLIC_BASE_URL}/notifications/twilio/status",
    }
    assert sid == twilio_peer.sids[0]
    assert sid.startswith("SM")


async def test_twilio_busy_or_down_means_retry_later_then_the_same_sender_sends(
    twilio: SmsSender, twilio_peer: TwilioPeer
) -> None:
    twilio_peer.answer_next(
        twilio_error(429, 20429, "Too Many Requests", headers={"Retry-After": "7"}),
        twilio_error(503, 20503, "Service unavailable"),
    )
    sms = an_sms()

    with pytest.raises(RetryLater) as limited:
        await twilio.send(sms)
    with pytest.raises(RetryLater) as down:
        await twilio.send(sms)
    sid = await twilio.send(sms)

    assert limited.value.retry_after == 7
    assert "Too Many Requests" in str(limited.value)
    assert down.value.retry_after is None
    assert sid == twilio_peer.sids[0]
    assert len(twilio_peer.requests) == 3


async def test_twilio_refusing_the_number_is_permanent(
    twilio: SmsSender, twilio_peer: TwilioPeer
) -> None:
    with pytest.raises(PermanentRefusal) as refused:
        await twilio.send(an_sms(to="07700 900123"))

    assert "21211" in str(refused.value)
    assert "Invalid 'To' Phone Number" in str(refused.value)


async def test_twilio_unreachable_means_retry_later() -> None:
    sender = sms_sender_from_settings(twilio_settings(closed_port_url()))
    try:
        with pytest.raises(RetryLater):
            await sender.send(an_sms())
    finally:
        await sender.aclose()


# ---------------------------------------------------------------------- SMTP


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def smtp_sender(port: int) -> EmailSender:
    return email_sender_from_settings(
        settings(email_backend="smtp", smtp_host="127.0.0.1", smtp_port=port)
    )


async def test_smtp_sends_text_html_and_the_invite_twice(smtp_inbox: tuple[Inbox, int]) -> None:
    inbox, port = smtp_inbox
    mail = an_email()

    message_id = await smtp_sender(port).send(mail)

    [envelope] = inbox.envelopes
    assert envelope.mail_from == FROM_EMAIL
    assert envelope.rcpt_tos == [mail.to]
    assert isinstance(envelope.content, bytes)
    received = email.message_from_bytes(envelope.content, policy=default_policy)
    assert isinstance(received, EmailMessage)
    assert received["From"] == f"{FROM_NAME} <{FROM_EMAIL}>"
    assert received["To"] == f"{mail.to_name} <{mail.to}>"
    assert received["Subject"] == mail.subject
    assert received["X-Booking-Message-Id"] == str(mail.message_id)
    assert received["Message-ID"] == message_id
    assert received.get_content_type() == "multipart/mixed"

    [alternative, attachment] = received.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, html, calendar = alternative.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert text.get_content().strip() == mail.text
    assert html.get_content_type() == "text/html"
    assert html.get_content().strip() == mail.html
    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_content().replace("\r\n", "\n") == ICS.replace("\r\n", "\n")

    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_payload(decode=True) == ICS.encode()


async def test_smtp_email_without_invite_is_text_and_html_only(
    smtp_inbox: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_inbox

    await smtp_sender(port).send(an_email(ics=None))

    content = inbox.envelopes[0].content
    assert isinstance(content, bytes)
    received = email.message_from_bytes(content, policy=default_policy)
    assert received.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in received.iter_parts()] == ["text/plain", "text/html"]


async def test_smtp_recipient_refused_with_550_is_permanent(
    smtp_inbox: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_inbox

    with pytest.raises(PermanentRefusal) as refused:
        await smtp_sender(port).send(an_email(to=REFUSED))

    assert "550" in str(refused.value)
    assert inbox.envelopes == []


async def test_smtp_address_that_is_no_address_is_refused_before_sending(
    smtp_inbox: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_inbox

    with pytest.raises(PermanentRefusal):
        await smtp_sender(port).send(an_email(to="ana@example.com\r\nBcc: eve@example.com"))

    assert inbox.envelopes == []


async def test_smtp_recipient_deferred_with_450_means_retry_later(
    smtp_inbox: tuple[Inbox, int],
) -> None:
    _, port = smtp_inbox

    with pytest.raises(RetryLater) as deferred:
        await smtp_sender(port).send(an_email(to=DEFERRED))

    assert "450" in str(deferred.value)


async def test_smtp_relay_unreachable_means_retry_later() -> None:
    with pytest.raises(RetryLater):
        await smtp_sender(free_port()).send(an_email())


# ---------------------------------------------------------------------- sandbox


async def test_sandbox_is_the_default_and_remembers_what_it_was_given() -> None:
    email_sender = email_sender_from_settings(settings())
    sms_sender = sms_sender_from_settings(settings())
    mail, sms = an_email(), an_sms()

    assert isinstance(email_sender, SandboxEmailSender)
    assert isinstance(sms_sender, SandboxSmsSender)
    assert await email_sender.send(mail) == f"sandbox-{mail.message_id}"
    assert await sms_sender.send(sms) == f"sandbox-{sms.message_id}"
    assert email_sender.sent == [mail]
    assert sms_sender.sent == [sms]
