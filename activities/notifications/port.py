"""The notifier ports: what the booking needs from an email or SMS vendor, or their sandbox."""

from __future__ import annotations

from typing import Protocol

from contract.notifications import Email, Sms


class PermanentRefusal(Exception):
    """The vendor refused the message for good (a bad address or number, a 4xx other than
    429): recorded as failed and never sent again."""


class RetryLater(Exception):
    """The vendor could not take the message now (429, 5xx, a connection error); send it again
    after `retry_after` seconds if the vendor said, else after the activity's backoff."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EmailSender(Protocol):
    name: str

    async def send(self, email: Email) -> str | None:
        """Hand the email to the vendor; its message id if it gives one. Raises
        PermanentRefusal or RetryLater."""
        ...

    async def aclose(self) -> None: ...


class SmsSender(Protocol):
    name: str

    async def send(self, sms: Sms) -> str | None:
        """Hand the SMS to the vendor; its message id (Twilio's SID). Raises PermanentRefusal
        or RetryLater."""
        ...

    async def aclose(self) -> None: ...
