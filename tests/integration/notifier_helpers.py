"""What the adapter tests share: Settings as the worker reads them, and an email and an SMS.

SendGrid and Twilio are HTTP peers on 127.0.0.1 (devstack/peers/notify.py); SMTP is
an aiosmtpd server. The senders are built from Settings, as the worker builds them.
"""

from __future__ import annotations

import uuid
from typing import Any

from config import Settings
from contract.notifications import Email, Sms
from devstack.processes import free_port

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


def an_sms(to: str = "+447700900123", body: str = "Booking confirmed: 2 Jan 09:00.") -> Sms:
    return Sms(message_id=uuid.uuid4(), to=to, body=body)


def message_id_header(message: Email) -> str:
    """The Message-ID header both email adapters send: our id at the From address's domain."""
    return f"<{message.message_id}@clinic.example.com>"


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"
