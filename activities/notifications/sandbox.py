"""The sandbox senders: they send nothing and remember what they were given.

The teller stores every message's text, HTML and invite in the notifications table, which is
what the dev outbox shows; the sandbox only has to say "taken".
"""

from __future__ import annotations

from datetime import datetime

from contract.notifications import Email, Sms


class SandboxEmailSender:
    """EmailSender that sends nothing; `sent` keeps every email, in order."""

    name = "sandbox"

    def __init__(self) -> None:
        self.sent: list[Email] = []

    async def send(self, email: Email) -> str:
        self.sent.append(email)
        return f"sandbox-{email.message_id}"

    async def already_sent(self, email: Email, since: datetime) -> None:
        """Nothing left the machine: None."""
        return None

    async def aclose(self) -> None:
        """Nothing to close."""


class SandboxSmsSender:
    """SmsSender that sends nothing; `sent` keeps every SMS, in order."""

    name = "sandbox"

    def __init__(self) -> None:
        self.sent: list[Sms] = []

    async def send(self, sms: Sms) -> str:
        self.sent.append(sms)
        return f"sandbox-{sms.message_id}"

    async def already_sent(self, sms: Sms, since: datetime) -> None:
        """Nothing left the machine: None."""
        return None

    async def aclose(self) -> None:
        """Nothing to close."""
