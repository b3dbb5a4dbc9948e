"""Purging what is no longer needed: the text of old messages (and of any message about an erased
account that a booking recorded after the erasure), the payment events ledger's old rows, lapsed
calendar authorizations. Each purge takes one batch in its own transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, delete, exists, or_, select, update

from contract.notifications import Delivery
from contract.retention import Purged, RetentionPeriods
from db.engine import Database
from db.models import (
    Appointment,
    CalendarAuthorization,
    Notification,
    PaymentEvent,
    ProviderProfile,
    User,
)
from db.privacy import MESSAGE_CONTENT, REDACTED_RECIPIENT
from domain.booking_state import TERMINAL_STATUSES

_notifications = cast(Table, Notification.__table__)
_appointments = cast(Table, Appointment.__table__)
_events = cast(Table, PaymentEvent.__table__)
_authorizations = cast(Table, CalendarAuthorization.__table__)
_users = cast(Table, User.__table__)
_profiles = cast(Table, ProviderProfile.__table__)


async def purge(
    db: Database, periods: RetentionPeriods, *, batch_size: int, now: datetime
) -> Purged:
    """One batch of each kind past its period; run again until it purges fewer than a batch."""
    messages = await _purge_messages(db, now - timedelta(days=periods.message_days), batch_size)
    return Purged(
        messages=messages + await _sweep_erased(db, batch_size),
        payment_events=await _purge_payment_events(
            db, now - timedelta(days=periods.payment_event_days), batch_size
        ),
        calendar_authorizations=await _purge_authorizations(
            db, now - timedelta(days=periods.calendar_authorization_days), batch_size
        ),
    )


async def _purge_messages(db: Database, cutoff: datetime, batch_size: int) -> int:
    """Messages older than `cutoff`, no longer waiting to be sent, of a booking closed or ended
    before `cutoff` (or of none), keep kind, channel, status and times; text, invite and
    address go."""
    over = exists().where(
        _appointments.c.id == _notifications.c.appointment_id,
        or_(_appointments.c.status.in_(TERMINAL_STATUSES), _appointments.c.end_at < cutoff),
    )
    still_held = _still_held()
    batch = (
        select(_notifications.c.id)
        .where(
            _notifications.c.created_at < cutoff,
            _notifications.c.status != Delivery.PENDING.value,
            or_(_notifications.c.appointment_id.is_(None), over),
            still_held,
        )
        .limit(batch_size)
    )
    async with db.transaction() as connection:
        ids = list(await connection.scalars(batch))
        if ids:
            await connection.execute(
                update(_notifications)
                .where(_notifications.c.id.in_(ids))
                .values(recipient=REDACTED_RECIPIENT, **MESSAGE_CONTENT)
            )
    return len(ids)


def _still_held() -> Any:
    return or_(
        _notifications.c.recipient != REDACTED_RECIPIENT,
        *(_notifications.c[name].is_not(None) for name in MESSAGE_CONTENT),
    )


async def _sweep_erased(db: Database, batch_size: int) -> int:
    """Messages to or about an erased account still holding text or an address: a booking's
    message rendered before the erasure and recorded after it."""
    erased = select(_users.c.id).where(_users.c.erased_at.is_not(None))
    erased_providers = select(_profiles.c.id).where(_profiles.c.user_id.in_(erased))
    about_erased = select(_appointments.c.id).where(
        or_(
            _appointments.c.customer_id.in_(erased),
            _appointments.c.provider_id.in_(erased_providers),
        )
    )
    to_erased = select(_notifications.c.id).where(
        _notifications.c.user_id.in_(erased), _still_held()
    )
    mentioning = select(_notifications.c.id).where(
        _notifications.c.appointment_id.in_(about_erased),
        or_(*(_notifications.c[name].is_not(None) for name in MESSAGE_CONTENT)),
    )
    async with db.transaction() as connection:
        to_ids = list(await connection.scalars(to_erased.limit(batch_size)))
        if to_ids:
            await connection.execute(
                update(_notifications)
                .where(_notifications.c.id.in_(to_ids))
                .values(recipient=REDACTED_RECIPIENT, **MESSAGE_CONTENT)
            )
        about_ids = list(await connection.scalars(mentioning.limit(batch_size)))
        if about_ids:
            await connection.execute(
                update(_notifications)
                .where(_notifications.c.id.in_(about_ids))
                .values(**MESSAGE_CONTENT)
            )
    return len(set(to_ids) | set(about_ids))


async def _purge_payment_events(db: Database, cutoff: datetime, batch_size: int) -> int:
    """Handled webhook events past the period: no gateway retries them any more. The payments
    themselves stay (payment_transactions), as accounting needs them."""
    batch = (
        select(_events.c.event_id)
        .where(_events.c.handled_at.is_not(None), _events.c.handled_at < cutoff)
        .limit(batch_size)
    )
    async with db.transaction() as connection:
        ids = list(await connection.scalars(batch))
        if ids:
            await connection.execute(delete(_events).where(_events.c.event_id.in_(ids)))
    return len(ids)


async def _purge_authorizations(db: Database, cutoff: datetime, batch_size: int) -> int:
    """OAuth flows that expired or were used before `cutoff`, with their sealed verifiers."""
    batch = (
        select(_authorizations.c.state)
        .where(
            or_(
                _authorizations.c.expires_at < cutoff,
                and_(_authorizations.c.used_at.is_not(None), _authorizations.c.used_at < cutoff),
            )
        )
        .limit(batch_size)
    )
    async with db.transaction() as connection:
        states = list(await connection.scalars(batch))
        if states:
            await connection.execute(
                delete(_authorizations).where(_authorizations.c.state.in_(states))
            )
    return len(states)
