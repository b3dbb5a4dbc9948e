"""The sandbox senders: the default, sending nothing and remembering what they were given."""

from __future__ import annotations

from datetime import UTC, datetime

from activities.notifications import email_sender_from_settings, sms_sender_from_settings
from activities.notifications.sandbox import SandboxEmailSender, SandboxSmsSender
from tests.integration.notifier_helpers import an_email, an_sms, settings


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


async def test_sandbox_never_sent_anything_anywhere() -> None:
    since = datetime.now(UTC)

    assert await SandboxEmailSender().already_sent(an_email(), since) is None
    assert await SandboxSmsSender().already_sent(an_sms(), since) is None
