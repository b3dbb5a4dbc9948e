"""The SMTP adapter: one MIME message per email, handed to a relay with aiosmtplib.

With an invite, the calendar goes twice: as a `text/calendar; method=...` alternative (what
Gmail and Outlook turn into an invitation) and as an `invite.ics` attachment (what other
clients offer to import).

At least once: a relay offers no way to ask whether it took a message, so an attempt that died
mid-send is sent again. The resend carries the same Message-ID, which some clients dedupe by.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from activities.notifications.port import PermanentRefusal, RetryLater, stable_message_id
from contract.notifications import Email

REQUEST_TIMEOUT_SECONDS = 30
PERMANENT = 500  # SMTP reply codes from here up refuse for good; 4xx mean "try again later"
# Our login refused or missing (RFC 4954): 530 required, 534 too weak, 535 invalid, 538 needs TLS.
LOGIN_REFUSED = frozenset({530, 534, 535, 538})


class SmtpEmailSender:
    """EmailSender on an SMTP relay, with optional login and STARTTLS."""

    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        from_email: str,
        from_name: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
    ) -> None:
        self._host = host
        self._port = port
        self._from = Address(from_name, addr_spec=from_email)
        self._username = username
        self._password = password
        self._starttls = starttls

    async def send(self, email: Email) -> str:
        message = self.message(email)
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password if self._username else None,
                start_tls=self._starttls,
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = [refused.code for refused in err.recipients]
            detail = "; ".join(f"{r.code} {r.message}" for r in err.recipients)
            if all(code >= PERMANENT for code in codes):
                raise PermanentRefusal(f"the SMTP relay refused {email.to}: {detail}") from err
            raise RetryLater(f"the SMTP relay deferred {email.to}: {detail}") from err
        except aiosmtplib.SMTPResponseException as err:
            if err.code in LOGIN_REFUSED:
                raise RetryLater(
                    f"the SMTP relay refused our login ({err.code}): {err.message}"
                ) from err
            detail = f"the SMTP relay answered {err.code} {err.message}"
            if err.code >= PERMANENT:
                raise PermanentRefusal(detail) from err
            raise RetryLater(detail) from err
        except (aiosmtplib.SMTPException, OSError) as err:
            raise RetryLater(f"the SMTP relay could not be reached: {err}") from err
        return str(message["Message-ID"])

    async def already_sent(self, email: Email, since: datetime) -> None:
        """A relay cannot tell: always None, so the email goes again (at least once)."""
        return None

    async def aclose(self) -> None:
        """Nothing to close: each send opens and closes its own connection."""

    def message(self, email: Email) -> EmailMessage:
        """The MIME message `send` hands to the relay."""
        try:
            to = Address(email.to_name, addr_spec=email.to)
        except ValueError as err:
            raise PermanentRefusal(f"{email.to!r} is not an email address: {err}") from err
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = to
        message["Subject"] = email.subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = stable_message_id(email.message_id, self._from.addr_spec)
        message["X-Booking-Message-Id"] = str(email.message_id)
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        if email.ics is not None:
            params = {"method": email.ics_method} if email.ics_method else {}
            message.add_alternative(email.ics, subtype="calendar", params=params)
            # Bytes in base64: the invite's CRLF lines arrive exactly as rendered.
            message.add_attachment(
                email.ics.encode(),
                maintype="text",
                subtype="calendar",
                filename="invite.ics",
                params=params,
            )
        return message
