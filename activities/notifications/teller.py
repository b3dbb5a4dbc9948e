"""Tell a booking's people what happened: render, record once, send, and keep what became of it.

A message never fails the booking: a refusal is recorded as failed; a vendor that cannot take
it now makes the activity retry (after its Retry-After), sending only what is still pending.

Each message is claimed in the transaction that records it, and its outcome is recorded after
the sends, in one transaction. A retry that finds a message still claimed knows its attempt
died mid-send, and asks the vendor whether it took the message before sending it again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from temporalio.exceptions import ApplicationError

from activities.notifications.batching import GroupCommit
from activities.notifications.facts import BookingFacts, Person
from activities.notifications.invites import invite
from activities.notifications.port import EmailSender, PermanentRefusal, RetryLater, SmsSender
from activities.notifications.render import Rendered, format_span, render, render_notice
from config import Settings
from contract.messages import Money
from contract.notifications import Channel, Delivery, Email, Kind, ProviderNotice, Sms, Tell
from db import notifications as outbox
from db.engine import Database
from domain.timezones import utc_now

# The kinds whose email carries the invite, and its METHOD.
_INVITES: dict[Kind, Literal["REQUEST", "CANCEL"]] = {
    Kind.CONFIRMED: "REQUEST",
    Kind.APPROVED: "REQUEST",
    Kind.RESCHEDULED: "REQUEST",
    Kind.CANCELLED: "CANCEL",
}
VENDOR_BUSY = "VendorBusy"
NOT_DUE_ANY_MORE = "not sent: the booking was cancelled or moved before this reminder was due"
_CALENDARS = {
    "google": "Google Calendar",
    "microsoft": "Outlook calendar",
    "caldav": "CalDAV calendar",
}
_OWNERS = {"google": "Google", "microsoft": "Microsoft", "caldav": "Your calendar server"}


@dataclass(frozen=True)
class Teller:
    db: Database
    email: EmailSender
    sms: SmsSender
    # Where links in messages point (the API's public address), and the invites' UID domain.
    public_base_url: str
    invite_domain: str
    clock: Callable[[], datetime]
    # The bookings' checks and the messages' outcomes of calls made at one moment (a burst of
    # reminders due at one instant), each made as one query.
    _checks: GroupCommit[tuple[UUID, datetime], bool] = field(init=False, repr=False)
    _outcomes: GroupCommit[list[outbox.Outcome], None] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_checks", GroupCommit(self._still_booked))
        object.__setattr__(self, "_outcomes", GroupCommit(self._record_outcomes))

    async def _still_booked(self, bookings: list[tuple[UUID, datetime]]) -> list[bool]:
        return await outbox.still_booked(self.db, bookings)

    async def _record_outcomes(self, attempts: list[list[outbox.Outcome]]) -> list[None]:
        await outbox.tried(
            self.db, [o for outcomes in attempts for o in outcomes], now=self.clock()
        )
        return [None] * len(attempts)

    async def _tried(self, outcomes: list[outbox.Outcome]) -> None:
        if outcomes:
            await self._outcomes(outcomes)

    async def tell(self, tell: Tell, *, send_in: float | None = None) -> None:
        """`send_in`: a prepared reminder's seconds until its `send_at`, on the clock that set
        it (the workflow's); it is rendered and recorded now, and sent then."""
        began = time.monotonic()
        booking = await outbox.booking_to_tell(self.db, tell.booking_id)
        if booking is None:
            return  # a hold whose row never committed: nobody to tell
        facts = self._facts(booking)
        # A CANCEL only withdraws an invite that was sent: a booking cancelled before it was
        # confirmed never reached anyone's calendar.
        invited = tell.kind != Kind.CANCELLED or bool(
            await outbox.latest_invite(self.db, tell.booking_id)
        )
        messages = self._messages(
            tell, tell.kind, "customer", booking.customer, facts.customer, facts, invited
        )
        if tell.provider_kind is not None:
            messages += self._messages(
                tell, tell.provider_kind, "provider", booking.provider, facts.provider, facts, False
            )
        names = {booking.customer.user_id: booking.customer.name}
        names[booking.provider.user_id] = booking.provider.name
        due = None
        if tell.send_at is not None and send_in is not None:
            due = _Due(began + send_in, tell.send_at + timedelta(minutes=tell.lead_minutes or 0))
        await self._deliver(tell.booking_id, messages, names, due)

    async def notify(self, notice: ProviderNotice) -> None:
        """Tell a provider about their calendars (a connection broken, a clash with a booking)."""
        provider = await outbox.provider_to_tell(self.db, notice.provider_id)
        if provider is None:
            return
        base = self.public_base_url.rstrip("/")
        context: dict[str, object] = {
            "recipient_name": provider.display_name,
            "account": notice.account,
            "calendar": _CALENDARS.get(notice.calendar_kind, "calendar"),
            "calendar_owner": _OWNERS.get(notice.calendar_kind, "The calendar server"),
            "reason": (notice.reason or "").strip(),
            "link": f"{base}/calendar/connections",
        }
        if notice.booking_id is not None:
            booking = await outbox.booking_to_tell(self.db, notice.booking_id)
            if booking is None:
                return
            facts = self._facts(booking)
            zone = provider.timezone
            context |= {
                "service": facts.service_name,
                "customer_name": facts.customer.name,
                "customer_email": facts.customer.email,
                "when": format_span(facts.start, facts.end, zone),
                "when_short": format_span(facts.start, facts.end, zone, short=True),
                "link": facts.link,
            }
        rendered = render_notice(notice.kind, context)
        messages = self._channels(
            f"notice:{notice.key}", notice.kind, provider.reader, rendered, None, None
        )
        await self._deliver(
            notice.booking_id, messages, {provider.reader.user_id: provider.display_name}
        )

    async def _deliver(
        self,
        booking_id: UUID | None,
        messages: list[outbox.Message],
        names: dict[UUID, str],
        due: _Due | None = None,
    ) -> None:
        """Record each message once, send what is pending, and keep what became of it."""
        stored = await outbox.record(self.db, booking_id, messages, now=self.clock())
        if due is not None and booking_id is not None:
            await asyncio.sleep(max(0.0, due.at - time.monotonic()))
            if not await self._checks((booking_id, due.start)):
                await self._tried(_not_due(stored))
                return
        outcomes: list[outbox.Outcome] = []
        busy: list[RetryLater] = []
        for message, row in zip(messages, stored, strict=True):
            if row.status != Delivery.PENDING:
                continue
            try:
                vendor_id = await self._send_once(row, message, names)
            except PermanentRefusal as refused:
                outcomes.append(outbox.Outcome(row.id, Delivery.FAILED, error=str(refused)))
            except RetryLater as later:
                busy.append(later)
                outcomes.append(outbox.Outcome(row.id, Delivery.PENDING, error=str(later)))
            else:
                outcomes.append(outbox.Outcome(row.id, Delivery.SENT, vendor_id=vendor_id))
        await self._tried(outcomes)
        if busy:
            waits = [later.retry_after for later in busy if later.retry_after is not None]
            raise ApplicationError(
                f"{len(busy)} message(s) not taken yet: {busy[0]}",
                type=VENDOR_BUSY,
                next_retry_delay=timedelta(seconds=max(waits)) if waits else None,
            )

    async def _send_once(
        self, row: outbox.Outgoing, message: outbox.Message, names: dict[UUID, str]
    ) -> str | None:
        """Send it, unless an attempt that died mid-send got it to the vendor: then the
        vendor's id for it. A vendor that cannot tell gets it again (at least once)."""
        outgoing = self._outgoing(row.id, message, names)
        if isinstance(outgoing, Sms):
            if row.sending_since is not None:
                taken = await self.sms.already_sent(outgoing, row.sending_since)
                if taken is not None:
                    return taken
            return await self.sms.send(outgoing)
        if row.sending_since is not None:
            taken = await self.email.already_sent(outgoing, row.sending_since)
            if taken is not None:
                return taken
        return await self.email.send(outgoing)

    def _messages(
        self,
        tell: Tell,
        kind: Kind,
        role: str,
        reader: outbox.Reader,
        person: Person,
        facts: BookingFacts,
        with_invite: bool,
    ) -> list[outbox.Message]:
        rendered = render(kind, person, facts, tell)
        method = _INVITES.get(kind) if with_invite else None
        ics = None
        if method is not None and reader.email_ok:
            ics = invite(facts, method=method, sequence=tell.sequence, domain=self.invite_domain)
        key = f"{tell.booking_id}:{tell.key}:{role}"
        return self._channels(key, kind, reader, rendered, ics, tell.sequence)

    def _channels(
        self,
        key: str,
        kind: Kind,
        reader: outbox.Reader,
        rendered: Rendered,
        ics: str | None,
        sequence: int | None,
    ) -> list[outbox.Message]:
        """One message per channel the reader accepts."""
        messages: list[outbox.Message] = []
        if reader.email_ok:
            messages.append(
                outbox.Message(
                    key=f"{key}:{Channel.EMAIL}",
                    user_id=reader.user_id,
                    channel=Channel.EMAIL,
                    kind=kind,
                    recipient=reader.email,
                    subject=rendered.subject,
                    body_text=rendered.text,
                    body_html=rendered.html,
                    ics=ics,
                    ics_sequence=sequence if ics is not None else None,
                )
            )
        if reader.sms_opt_in and reader.phone:
            messages.append(
                outbox.Message(
                    key=f"{key}:{Channel.SMS}",
                    user_id=reader.user_id,
                    channel=Channel.SMS,
                    kind=kind,
                    recipient=reader.phone,
                    subject=None,
                    body_text=rendered.sms,
                    body_html=None,
                    ics=None,
                    ics_sequence=None,
                )
            )
        return messages

    def _outgoing(
        self, message_id: UUID, message: outbox.Message, names: dict[UUID, str]
    ) -> Email | Sms:
        if message.channel == Channel.SMS:
            return Sms(message_id=message_id, to=message.recipient, body=message.body_text)
        return Email(
            message_id=message_id,
            to=message.recipient,
            to_name=names.get(message.user_id, ""),
            subject=message.subject or "",
            text=message.body_text,
            html=message.body_html or "",
            ics=message.ics,
            ics_method=_INVITES.get(Kind(message.kind)) if message.ics else None,
        )

    def _facts(self, booking: outbox.BookingToTell) -> BookingFacts:
        customer, provider = booking.customer, booking.provider
        price = Money(amount=booking.price_amount, currency=booking.currency)
        return BookingFacts(
            booking_id=booking.booking_id,
            service_name=booking.service_name,
            provider_timezone=booking.provider_timezone,
            start=booking.start,
            end=booking.end,
            price=price if price.amount else None,
            customer=Person(
                user_id=customer.user_id,
                name=customer.name,
                email=customer.email,
                timezone=booking.customer_timezone or booking.provider_timezone,
                phone=customer.phone,
            ),
            provider=Person(
                user_id=provider.user_id,
                name=booking.provider_name,
                email=provider.email,
                timezone=booking.provider_timezone,
                phone=provider.phone,
            ),
            link=f"{self.public_base_url.rstrip('/')}/appointments/{booking.booking_id}",
        )


@dataclass(frozen=True)
class _Due:
    """A prepared reminder: sent at `at` (time.monotonic()), if the booking still starts at
    `start`."""

    at: float
    start: datetime


def _not_due(stored: list[outbox.Outgoing]) -> list[outbox.Outcome]:
    return [
        outbox.Outcome(row.id, Delivery.FAILED, error=NOT_DUE_ANY_MORE)
        for row in stored
        if row.status == Delivery.PENDING
    ]


def sandbox_teller(db: Database, clock: Callable[[], datetime]) -> Teller:
    """The embedded default: every message recorded and rendered, none sent; links and invite
    UIDs as Settings' defaults make them."""
    from activities.notifications.sandbox import SandboxEmailSender, SandboxSmsSender

    defaults = Settings.model_fields
    return Teller(
        db,
        SandboxEmailSender(),
        SandboxSmsSender(),
        public_base_url=defaults["public_base_url"].default,
        invite_domain=_invite_domain(defaults["notify_from_email"].default),
        clock=clock,
    )


def teller_from_settings(settings: Settings, db: Database) -> Teller:
    from activities.notifications import email_sender_from_settings, sms_sender_from_settings

    return Teller(
        db,
        email_sender_from_settings(settings),
        sms_sender_from_settings(settings),
        public_base_url=settings.public_base_url,
        invite_domain=_invite_domain(settings.notify_from_email),
        clock=utc_now,
    )


def _invite_domain(sender: str) -> str:
    """Invites' UIDs are named for the sender's domain."""
    return sender.rpartition("@")[2] or "bookings.example.com"
