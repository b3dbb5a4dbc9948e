"""The SendGrid adapter against a local peer: v3 mail send, the Email Activity look-up, and
which answers refuse a message for good."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from activities.notifications import email_sender_from_settings
from activities.notifications.port import EmailSender, PermanentRefusal, RetryLater
from devstack.peers.notify import SendGridPeer, sendgrid_error
from tests.integration.notifier_helpers import (
    FROM_EMAIL,
    FROM_NAME,
    ICS,
    an_email,
    closed_port_url,
    message_id_header,
    settings,
)

SENDGRID_KEY = "SG.local-peer-key"


def sendgrid_sender(api_base: str, api_key: str = SENDGRID_KEY) -> EmailSender:
    return email_sender_from_settings(
        settings(email_backend="sendgrid", sendgrid_api_key=api_key, sendgrid_api_base=api_base)
    )


@pytest.fixture
async def sendgrid_peer() -> AsyncIterator[SendGridPeer]:
    peer = SendGridPeer(SENDGRID_KEY)
    await peer.start()
    yield peer
    await peer.close()


@pytest.fixture
async def sendgrid(sendgrid_peer: SendGridPeer) -> AsyncIterator[EmailSender]:
    sender = sendgrid_sender(sendgrid_peer.url)
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
    # The same on every attempt: a resend is the same message to clients that dedupe by it.
    assert body["headers"] == {"Message-ID": message_id_header(mail)}
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


async def test_sendgrid_refusing_our_api_key_is_not_the_messages_fault(
    sendgrid_peer: SendGridPeer,
) -> None:
    wrong_key = sendgrid_sender(sendgrid_peer.url, api_key="SG.revoked")
    with pytest.raises(RetryLater) as revoked:
        await wrong_key.send(an_email())
    sendgrid_peer.answer_next(
        sendgrid_error(403, "The from address does not match a verified Sender Identity.", "from")
    )
    with pytest.raises(RetryLater) as forbidden:
        await sendgrid_sender(sendgrid_peer.url).send(an_email())

    assert str(revoked.value).startswith("SendGrid refused our API key (401): ")
    assert "authorization grant is invalid" in str(revoked.value)
    assert str(forbidden.value).startswith("SendGrid refused our API key (403): ")
    assert "verified Sender Identity" in str(forbidden.value)
    assert sendgrid_peer.message_ids == []


async def test_sendgrid_unreachable_means_retry_later() -> None:
    with pytest.raises(RetryLater):
        await sendgrid_sender(closed_port_url()).send(an_email())


# ---------------------------------------------------------------------- already_sent


async def test_sendgrid_already_sent_finds_the_message_by_our_id_in_email_activity(
    sendgrid: EmailSender, sendgrid_peer: SendGridPeer
) -> None:
    since = datetime.now(UTC)
    mail = an_email()
    vendor_id = await sendgrid.send(mail)
    await sendgrid.send(an_email())

    found = await sendgrid.already_sent(mail, since)

    # The X-Message-Id the send answered: msg_id up to its first dot.
    assert found == vendor_id
    request = sendgrid_peer.requests[-1]
    assert (request.method, request.path) == ("GET", "/v3/messages")
    assert request.headers["Authorization"] == f"Bearer {SENDGRID_KEY}"
    assert dict(request.query) == {
        "limit": "1",
        "query": f"unique_args['message_id']=\"{mail.message_id}\"",
    }
    assert request.body == b""


async def test_sendgrid_already_sent_is_none_for_a_message_it_never_took(
    sendgrid: EmailSender, sendgrid_peer: SendGridPeer
) -> None:
    await sendgrid.send(an_email())

    assert await sendgrid.already_sent(an_email(), datetime.now(UTC)) is None


async def test_sendgrid_already_sent_cannot_tell_without_the_email_activity_add_on(
    sendgrid: EmailSender, sendgrid_peer: SendGridPeer
) -> None:
    mail = an_email()
    await sendgrid.send(mail)
    sendgrid_peer.email_activity = False

    assert await sendgrid.already_sent(mail, datetime.now(UTC)) is None
    sendgrid_peer.answer_next(sendgrid_error(404, "resource not found"))
    assert await sendgrid.already_sent(mail, datetime.now(UTC)) is None


async def test_sendgrid_already_sent_busy_or_down_means_retry_later(
    sendgrid: EmailSender, sendgrid_peer: SendGridPeer
) -> None:
    sendgrid_peer.answer_next(
        sendgrid_error(429, "too many requests", headers={"Retry-After": "60"}),
        sendgrid_error(503, "service unavailable"),
    )
    mail = an_email()

    with pytest.raises(RetryLater) as limited:
        await sendgrid.already_sent(mail, datetime.now(UTC))
    with pytest.raises(RetryLater) as down:
        await sendgrid.already_sent(mail, datetime.now(UTC))
    with pytest.raises(RetryLater):
        await sendgrid_sender(closed_port_url()).already_sent(mail, datetime.now(UTC))

    assert limited.value.retry_after == 60
    assert "503" in str(down.value)
