"""What the booking tells people: the kinds of message, and one message as a sender takes it."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime

from contract.messages import Model


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Kind(StrEnum):
    """One kind per thing that happened, per recipient: a template of its own for each."""

    # To the customer.
    CONFIRMED = "confirmed"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    DECLINED = "declined"
    PAYMENT_FAILED = "payment_failed"
    EXPIRED = "expired"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    REMINDER = "reminder"
    # A payment that arrived after the booking had ended, and went back.
    LATE_PAYMENT_REFUNDED = "late_payment_refunded"
    # To the provider.
    PROVIDER_NEW_BOOKING = "provider_new_booking"
    PROVIDER_APPROVAL_REQUESTED = "provider_approval_requested"
    PROVIDER_RESCHEDULED = "provider_rescheduled"
    PROVIDER_CANCELLED = "provider_cancelled"
    # To the provider, about their calendars rather than one booking's change.
    PROVIDER_CALENDAR_BROKEN = "provider_calendar_broken"
    PROVIDER_CALENDAR_CONFLICT = "provider_calendar_conflict"


# Kinds told by a ProviderNotice, not by a booking's Tell.
NOTICE_KINDS = frozenset({Kind.PROVIDER_CALENDAR_BROKEN, Kind.PROVIDER_CALENDAR_CONFLICT})


class Delivery(StrEnum):
    """A message's life: pending until a sender took it, then as its vendor reports it."""

    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


class Email(Model):
    """One email as a sender takes it. `message_id` is ours (the notification row's id): it goes
    to the vendor (SendGrid custom_args, an SMTP header) so its status reports find the row."""

    message_id: UUID
    to: str
    to_name: str
    subject: str
    text: str
    html: str
    # An iCalendar invite (text/calendar), sent as an attachment and an alternative part.
    ics: str | None = None
    ics_method: str | None = None


class Sms(Model):
    message_id: UUID
    to: str  # E.164
    body: str


class Tell(Model):
    """The booking asks to tell its customer about `kind`, and its provider about
    `provider_kind` if set. `key` makes each message once: the same key never sends twice."""

    booking_id: UUID
    kind: Kind
    key: str
    provider_kind: Kind | None = None
    # The invite's SEQUENCE: raised by every move, and once more by a cancel.
    sequence: int = 0
    # A reminder's lead time, in minutes before the start.
    lead_minutes: int | None = None
    # A reminder prepared ahead: recorded now, sent at this instant and not before, and only if
    # the booking is still confirmed for the start it reminds of.
    send_at: AwareDatetime | None = None
    # Who cancelled, whether a refund follows, the reason as the recipient should read it.
    by: str | None = None
    refunded: bool | None = None
    reason: str | None = None
    # The start before a move (a rescheduled message names both).
    previous_start: AwareDatetime | None = None


class ProviderNotice(Model):
    """Something the provider must hear about their calendars: a connection whose grant stopped
    working, or a meeting in their calendar over a booking already confirmed (which is left as
    it is). `key` makes it once: the same key never sends twice."""

    provider_id: UUID
    kind: Kind
    key: str
    account: str
    calendar_kind: str
    reason: str | None = None
    # A conflict: the booking the meeting overlaps.
    booking_id: UUID | None = None
