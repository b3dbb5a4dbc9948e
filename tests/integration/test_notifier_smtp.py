"""The SMTP adapter against aiosmtpd: the MIME message, a stable Message-ID, login, and which
replies refuse a message for good."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from activities.notifications import email_sender_from_settings
from activities.notifications.port import EmailSender, PermanentRefusal, RetryLater
from devstack.peers.notify import DEFERRED, REFUSED, Inbox, Login
from devstack.processes import free_port
from tests.integration.notifier_helpers import (
    FROM_EMAIL,
    FROM_NAME,
    ICS,
    an_email,
    message_id_header,
    settings,
)

SMTP_USER, SMTP_PASSWORD = "bookings", "relay-password"
# aiosmtpd warns on every connection of a relay that takes AUTH without TLS: ours is loopback.
AUTH_WITHOUT_TLS = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


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


@pytest.fixture
def smtp_inbox_with_login() -> Iterator[tuple[Inbox, int]]:
    """A relay that takes mail only after AUTH with SMTP_USER and SMTP_PASSWORD."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=Login(SMTP_USER, SMTP_PASSWORD),
        auth_required=True,
        auth_require_tls=False,  # loopback only
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def smtp_sender(port: int, **login: Any) -> EmailSender:
    return email_sender_from_settings(
        settings(email_backend="smtp", smtp_host="127.0.0.1", smtp_port=port, **login)
    )


def received(content: Any) -> EmailMessage:
    assert isinstance(content, bytes)
    message = email.message_from_bytes(content, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


async def test_smtp_sends_text_html_and_the_invite_twice(smtp_inbox: tuple[Inbox, int]) -> None:
    inbox, port = smtp_inbox
    mail = an_email()

    message_id = await smtp_sender(port).send(mail)

    [envelope] = inbox.envelopes
    assert envelope.mail_from == FROM_EMAIL
    assert envelope.rcpt_tos == [mail.to]
    message = received(envelope.content)
    assert message["From"] == f"{FROM_NAME} <{FROM_EMAIL}>"
    assert message["To"] == f"{mail.to_name} <{mail.to}>"
    assert message["Subject"] == mail.subject
    assert message["X-Booking-Message-Id"] == str(mail.message_id)
    assert message["Message-ID"] == message_id == message_id_header(mail)
    assert message.get_content_type() == "multipart/mixed"

    [alternative, attachment] = message.iter_parts()
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

    message = received(inbox.envelopes[0].content)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


async def test_smtp_cannot_tell_what_it_sent_so_a_resend_is_the_same_message(
    smtp_inbox: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_inbox
    sender, mail = smtp_sender(port), an_email()
    since = datetime.now(UTC)
    await sender.send(mail)

    assert await sender.already_sent(mail, since) is None
    await sender.send(mail)

    first, second = (received(envelope.content) for envelope in inbox.envelopes)
    assert first["Message-ID"] == second["Message-ID"] == message_id_header(mail)


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


@AUTH_WITHOUT_TLS
async def test_smtp_login_refused_or_missing_is_not_the_messages_fault(
    smtp_inbox_with_login: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_inbox_with_login
    mail = an_email()

    with pytest.raises(RetryLater) as wrong_password:
        await smtp_sender(port, smtp_username=SMTP_USER, smtp_password="stale").send(mail)
    with pytest.raises(RetryLater) as no_login:
        await smtp_sender(port).send(mail)
    assert inbox.envelopes == []
    await smtp_sender(port, smtp_username=SMTP_USER, smtp_password=SMTP_PASSWORD).send(mail)

    assert str(wrong_password.value).startswith("the SMTP relay refused our login (535)")
    assert str(no_login.value).startswith("the SMTP relay refused our login (530)")
    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == [mail.to]


async def test_smtp_relay_unreachable_means_retry_later() -> None:
    with pytest.raises(RetryLater):
        await smtp_sender(free_port()).send(an_email())
