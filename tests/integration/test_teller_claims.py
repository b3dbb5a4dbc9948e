"""A worker that dies mid-send: the next attempt sends each message once.

Each message is claimed in the transaction that records it; the outcomes are recorded after
the sends. An attempt that dies in between leaves its messages claimed, so the next one asks
the vendor whether it took each of them before sending it again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from activities.notifications.port import RetryLater
from activities.notifications.teller import Teller
from contract.notifications import Delivery, Email, Kind, Sms, Tell
from db.engine import Database
from db.holds import hold_slot
from db.models import Notification, User
from tests.factories import future_local, hold_request, make_customer, make_provider


class Died(BaseException):
    """The worker's process ends here: nothing after it runs (not even an except Exception)."""


@dataclass
class Vendor:
    """A vendor's side of one channel: what it took, and whether it can say so afterwards."""

    prefix: str
    can_tell: bool = True
    # Die right after taking the n-th message (the response never reaches us).
    die_after_taking: int | None = None
    refuse_next: RetryLater | None = None
    taken: list[tuple[str, Email | Sms]] = field(default_factory=list)
    asked: list[tuple[uuid.UUID, datetime]] = field(default_factory=list)

    async def send(self, message: Email | Sms) -> str:
        if self.refuse_next is not None:
            refusal, self.refuse_next = self.refuse_next, None
            raise refusal
        vendor_id = f"{self.prefix}{len(self.taken) + 1}"
        self.taken.append((vendor_id, message))
        if self.die_after_taking == len(self.taken):
            raise Died
        return vendor_id

    async def already_sent(self, message: Email | Sms, since: datetime) -> str | None:
        self.asked.append((message.message_id, since))
        if not self.can_tell:
            return None
        for vendor_id, taken in self.taken:
            if taken.message_id == message.message_id:
                return vendor_id
        return None

    async def aclose(self) -> None:
        """Nothing to close."""


def _teller(db: Database, email: Vendor, sms: Vendor) -> Teller:
    return Teller(
        db,
        email,  # type: ignore[arg-type]  # the ports' shape, with its own message types
        sms,  # type: ignore[arg-type]
        public_base_url="http://127.0.0.1:8000",
        invite_domain="bookings.example.com",
        clock=lambda: datetime.now(UTC),
    )


async def _booking(db: Database) -> uuid.UUID:
    """A held booking whose customer takes email and SMS, and whose provider takes email."""
    provider = await make_provider(db)
    customer = await make_customer(db)
    async with db.transaction() as connection:
        await connection.execute(update(User).where(User.id == customer).values(sms_opt_in=True))
    start = future_local(provider.timezone, days_ahead=3, at=time(10))
    request = hold_request(provider, customer, start)
    await hold_slot(db, request, now=datetime.now(UTC))
    return request.booking_id


def _confirmed(booking_id: uuid.UUID) -> Tell:
    return Tell(
        booking_id=booking_id,
        kind=Kind.CONFIRMED,
        key="confirmed",
        provider_kind=Kind.PROVIDER_NEW_BOOKING,
    )


async def _rows(db: Database, booking_id: uuid.UUID) -> list[Notification]:
    async with db.session() as session:
        found = await session.scalars(
            select(Notification)
            .where(Notification.appointment_id == booking_id)
            .order_by(Notification.channel, Notification.recipient)
        )
        return list(found)


async def test_a_message_the_vendor_took_before_the_worker_died_is_not_sent_again(
    db: Database,
) -> None:
    booking_id = await _booking(db)
    # The first attempt: the customer's email goes out, then the worker dies as Twilio takes the
    # SMS, before its answer arrives. Nothing of the attempt's outcome was recorded.
    email, sms = Vendor("email-"), Vendor("SM", die_after_taking=1)
    before = datetime.now(UTC)
    with pytest.raises(Died):
        await _teller(db, email, sms).tell(_confirmed(booking_id))
    claimed = await _rows(db, booking_id)
    assert [(r.channel, r.status) for r in claimed] == [
        ("email", "pending"),
        ("email", "pending"),
        ("sms", "pending"),
    ]
    assert all(r.sending_since is not None and r.sending_since >= before for r in claimed)
    assert all(r.attempts == 1 for r in claimed)

    # The retry, on a new worker: the vendors say what they took; only the rest is sent.
    sms.die_after_taking = None
    await _teller(db, email, sms).tell(_confirmed(booking_id))

    assert len(sms.taken) == 1, sms.taken
    assert len(email.taken) == 2, email.taken  # the provider's email, sent once, by the retry
    assert sorted(message_id for message_id, _ in email.asked) == sorted(
        r.id for r in claimed if r.channel == "email"
    )
    # Asked since the first attempt's claim, not the retry's.
    assert {since for _, since in sms.asked} == {
        r.sending_since for r in claimed if r.channel == "sms"
    }
    done = await _rows(db, booking_id)
    assert all(r.status == Delivery.SENT and r.sending_since is None for r in done)
    assert {r.external_id for r in done} == {"email-1", "email-2", "SM1"}
    assert all(r.attempts == 2 for r in done)

    # A third run (a replay, a duplicate task) sends nothing and asks nobody.
    await _teller(db, email, sms).tell(_confirmed(booking_id))
    assert (len(email.taken), len(sms.taken), len(sms.asked)) == (2, 1, 1)


async def test_a_vendor_that_cannot_tell_gets_the_message_again(db: Database) -> None:
    """SMTP (and SendGrid without its activity API) cannot say: at least once, then."""
    booking_id = await _booking(db)
    email, sms = Vendor("email-", can_tell=False, die_after_taking=1), Vendor("SM")
    with pytest.raises(Died):
        await _teller(db, email, sms).tell(_confirmed(booking_id))
    email.die_after_taking = None
    await _teller(db, email, sms).tell(_confirmed(booking_id))
    customer_emails = [m for _, m in email.taken if m.to.startswith("customer-")]
    assert len(customer_emails) == 2
    # The same message both times: our id goes with it, so the copies can be told apart.
    assert customer_emails[0].message_id == customer_emails[1].message_id
    assert all(r.status == Delivery.SENT for r in await _rows(db, booking_id))


async def test_a_vendor_that_was_busy_is_not_asked_before_the_next_try(db: Database) -> None:
    booking_id = await _booking(db)
    email, sms = Vendor("email-"), Vendor("SM", refuse_next=RetryLater("429", retry_after=3))
    with pytest.raises(Exception, match="not taken yet") as raised:
        await _teller(db, email, sms).tell(_confirmed(booking_id))
    assert raised.value.next_retry_delay == timedelta(seconds=3)  # type: ignore[attr-defined]
    waiting = [r for r in await _rows(db, booking_id) if r.channel == "sms"]
    assert [(r.status, r.sending_since, r.last_error) for r in waiting] == [
        (Delivery.PENDING, None, "429")
    ]
    await _teller(db, email, sms).tell(_confirmed(booking_id))
    assert sms.asked == []  # it said no: nothing to ask
    assert [vendor_id for vendor_id, _ in sms.taken] == ["SM1"]
    assert len(email.taken) == 2
