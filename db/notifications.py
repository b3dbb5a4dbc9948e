"""The messages a booking sends: who they are for, each recorded once, and what became of it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast
from uuid import UUID, uuid4

from sqlalchemy import String, Table, Uuid, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from contract.notifications import Delivery
from db.engine import Database
from db.models import Appointment, Notification, ProviderProfile, Service, User
from db.types import UTCDateTime
from domain.booking_state import BookingStatus

_notifications = cast(Table, Notification.__table__)
_appointments = cast(Table, Appointment.__table__)
_services = cast(Table, Service.__table__)
_profiles = cast(Table, ProviderProfile.__table__)
_customer = cast(Table, User.__table__).alias("customer")
_provider = cast(Table, User.__table__).alias("provider_user")


class Reader(NamedTuple):
    """A person a booking may write to, with the channels they accept."""

    user_id: UUID
    name: str
    email: str
    phone: str | None
    email_ok: bool
    sms_opt_in: bool


class BookingToTell(NamedTuple):
    booking_id: UUID
    service_name: str
    provider_name: str
    provider_timezone: str
    customer_timezone: str | None
    start: datetime
    end: datetime
    price_amount: int
    currency: str
    customer: Reader
    provider: Reader


class Message(NamedTuple):
    """One message to record: a row is made once per `key`, whatever the retries."""

    key: str
    user_id: UUID
    channel: str
    kind: str
    recipient: str
    subject: str | None
    body_text: str
    body_html: str | None
    ics: str | None
    ics_sequence: int | None


class Outgoing(NamedTuple):
    """A recorded message as the sender sees it: `sending_since` is when an earlier attempt,
    which never recorded its outcome, started sending it (None if none did)."""

    id: UUID
    key: str
    status: str
    sending_since: datetime | None


class Outcome(NamedTuple):
    """What one attempt made of a message: sent (with the vendor's id), failed for good, or
    still pending (with the vendor's reason)."""

    message_id: UUID
    status: Delivery
    vendor_id: str | None = None
    error: str | None = None


def _reader(user: Any) -> list[Any]:
    return [user.c.id, user.c.full_name, user.c.email, user.c.phone]


_BOOKING = (
    select(
        _appointments.c.id,
        _services.c.name,
        _profiles.c.display_name,
        _profiles.c.timezone,
        _appointments.c.customer_timezone,
        _appointments.c.start_at,
        _appointments.c.end_at,
        _appointments.c.price_amount,
        _appointments.c.currency,
        *_reader(_customer),
        _customer.c.email_notifications,
        _customer.c.sms_opt_in,
        *_reader(_provider),
        _provider.c.email_notifications,
        _provider.c.sms_opt_in,
    )
    .join(_services, _services.c.id == _appointments.c.service_id)
    .join(_profiles, _profiles.c.id == _appointments.c.provider_id)
    .join(_customer, _customer.c.id == _appointments.c.customer_id)
    .join(_provider, _provider.c.id == _profiles.c.user_id)
    .where(_appointments.c.id == bindparam("booking_id", type_=Uuid))
)
_OUTGOING = select(
    _notifications.c.id,
    _notifications.c.idempotency_key,
    _notifications.c.status,
    _notifications.c.sending_since,
)
_KEYS = _notifications.c.idempotency_key.in_(bindparam("keys", expanding=True))
_BY_KEYS = _OUTGOING.where(_KEYS)
_CLAIM = (
    update(_notifications)
    .where(_KEYS, _notifications.c.status == Delivery.PENDING.value)
    .values(
        attempts=_notifications.c.attempts + 1,
        # The first attempt that never finished keeps its instant: the vendor is asked since then.
        sending_since=func.coalesce(
            _notifications.c.sending_since, bindparam("now", type_=UTCDateTime)
        ),
        updated_at=bindparam("now", type_=UTCDateTime),
    )
)
_INVITES = (
    select(_notifications.c.ics)
    .where(
        _notifications.c.appointment_id == bindparam("booking_id", type_=Uuid),
        _notifications.c.ics.is_not(None),
    )
    .order_by(_notifications.c.created_at.desc(), _notifications.c.ics_sequence.desc())
    .limit(1)
)
_TRIED = (
    update(_notifications)
    # Only a message still pending: a status webhook may have answered first.
    .where(
        _notifications.c.id == bindparam("message_id", type_=Uuid),
        _notifications.c.status == Delivery.PENDING.value,
    )
    .values(
        status=bindparam("new_status", type_=String),
        external_id=bindparam("vendor_id", type_=String),
        last_error=bindparam("error", type_=String),
        updated_at=bindparam("now", type_=UTCDateTime),
        sent_at=bindparam("sent", type_=UTCDateTime),
        sending_since=None,
    )
)


_BOOKED = select(_appointments.c.id, _appointments.c.start_at).where(
    _appointments.c.id.in_(bindparam("booking_ids", expanding=True)),
    _appointments.c.status == BookingStatus.CONFIRMED.value,
)


async def still_booked(db: Database, bookings: Sequence[tuple[UUID, datetime]]) -> list[bool]:
    """Whether each booking is still confirmed for its start (not cancelled, ended or moved)."""
    if not bookings:
        return []
    async with db.reading() as connection:
        found = await connection.execute(
            _BOOKED, {"booking_ids": list({booking_id for booking_id, _ in bookings})}
        )
        confirmed = {(row.id, row.start_at) for row in found}
    return [booking in confirmed for booking in bookings]


async def booking_to_tell(db: Database, booking_id: UUID) -> BookingToTell | None:
    async with db.reading() as connection:
        row = (await connection.execute(_BOOKING, {"booking_id": booking_id})).first()
    if row is None:
        return None
    values = tuple(row)
    return BookingToTell._make([*values[:9], Reader(*values[9:15]), Reader(*values[15:21])])


async def record(
    db: Database, booking_id: UUID | None, messages: Sequence[Message], *, now: datetime
) -> list[Outgoing]:
    """Record each message once (insert on conflict do nothing) and claim those still pending
    for this attempt; all of them as they were stored before the claim."""
    if not messages:
        return []
    insert_new = sqlite_insert if db.dialect == "sqlite" else postgresql_insert
    rows = [
        {
            "id": uuid4(),
            "appointment_id": booking_id,
            "user_id": message.user_id,
            "channel": message.channel,
            "kind": message.kind,
            "recipient": message.recipient,
            "status": Delivery.PENDING,
            "idempotency_key": message.key,
            "subject": message.subject,
            "body_text": message.body_text,
            "body_html": message.body_html,
            "ics": message.ics,
            "ics_sequence": message.ics_sequence,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for message in messages
    ]
    async with db.transaction() as connection:
        await connection.execute(
            insert_new(_notifications).on_conflict_do_nothing(
                index_elements=[_notifications.c.idempotency_key]
            ),
            rows,
        )
        keys = [message.key for message in messages]
        found = await connection.execute(_BY_KEYS, {"keys": keys})
        stored = {row.idempotency_key: Outgoing(*row) for row in found}
        # Claimed in the same transaction: from now on a crash leaves them marked as sending.
        await connection.execute(_CLAIM, {"keys": keys, "now": now})
    return [stored[message.key] for message in messages]


async def tried(db: Database, outcomes: Sequence[Outcome], *, now: datetime) -> None:
    """Record what one attempt made of its messages, all in one transaction."""
    if not outcomes:
        return
    async with db.transaction() as connection:
        await connection.execute(
            _TRIED,
            [
                {
                    "message_id": outcome.message_id,
                    "new_status": outcome.status,
                    "vendor_id": outcome.vendor_id,
                    "error": outcome.error,
                    "now": now,
                    "sent": now if outcome.status == Delivery.SENT else None,
                }
                for outcome in outcomes
            ],
        )


async def latest_invite(db: Database, booking_id: UUID) -> str | None:
    """The last invite the booking sent (REQUEST after a confirm or move, CANCEL after a cancel)."""
    async with db.reading() as connection:
        found: str | None = await connection.scalar(_INVITES, {"booking_id": booking_id})
    return found


class ProviderToTell(NamedTuple):
    reader: Reader
    display_name: str
    timezone: str


_PROVIDER = (
    select(
        *_reader(_provider),
        _provider.c.email_notifications,
        _provider.c.sms_opt_in,
        _profiles.c.display_name,
        _profiles.c.timezone,
    )
    .join(_provider, _provider.c.id == _profiles.c.user_id)
    .where(_profiles.c.id == bindparam("provider_id", type_=Uuid))
)


async def provider_to_tell(db: Database, provider_id: UUID) -> ProviderToTell | None:
    """A provider as a notice about their calendars reaches them."""
    async with db.reading() as connection:
        row = (await connection.execute(_PROVIDER, {"provider_id": provider_id})).first()
    if row is None:
        return None
    values = tuple(row)
    return ProviderToTell(Reader(*values[:6]), values[6], values[7])
