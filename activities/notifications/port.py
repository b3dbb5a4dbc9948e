"""The notifier ports: what the booking needs from an email or SMS vendor, or their sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from contract.notifications import Email, Sms

# How far the vendor's clock may be behind ours when an adapter compares its timestamps.
CLOCK_SKEW = timedelta(seconds=60)


class PermanentRefusal(Exception):
    """The vendor refused the message for good (a bad address or number): recorded as failed
    and never sent again."""


class RetryLater(Exception):
    """The vendor could not take the message now (429, 5xx, a connection error, our credentials
    refused); send it again after `retry_after` seconds if the vendor said, else after the
    activity's backoff."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EmailSender(Protocol):
    name: str

    async def send(self, email: Email) -> str | None:
        """Hand the email to the vendor; its message id if it gives one. Raises
        PermanentRefusal or RetryLater."""
        ...

    async def already_sent(self, email: Email, since: datetime) -> str | None:
        """After an attempt whose outcome we never heard (the worker died mid-send, the attempt
        having started at `since`): the vendor's id for this email if the vendor took it, None
        if it did not or cannot tell. Raises RetryLater when it cannot decide now."""
        ...

    async def aclose(self) -> None: ...


class SmsSender(Protocol):
    name: str

    async def send(self, sms: Sms) -> str | None:
        """Hand the SMS to the vendor; its message id (Twilio's SID). Raises PermanentRefusal
        or RetryLater."""
        ...

    async def already_sent(self, sms: Sms, since: datetime) -> str | None:
        """After an attempt whose outcome we never heard (the worker died mid-send, the attempt
        having started at `since`): the vendor's id for this SMS if the vendor took it, None if
        it did not or cannot tell. Raises RetryLater when it cannot decide now."""
        ...

    async def aclose(self) -> None: ...


def stable_message_id(message_id: UUID, from_email: str) -> str:
    """The email's Message-ID header, from our row id: a resend after a crash is the same
    message to clients that drop duplicates by Message-ID."""
    return f"<{message_id}@{from_email.rpartition('@')[2]}>"
