"""Everything held about one account, as its owner may read it (GET /users/me/export)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db import audit
from db.engine import Database
from db.models import (
    Appointment,
    AuditEntry,
    CalendarConnection,
    Holiday,
    Notification,
    PaymentTransaction,
    ProviderProfile,
    ScheduleOverride,
    Service,
    User,
    WorkingHours,
)

_users = cast(Table, User.__table__)
_profiles = cast(Table, ProviderProfile.__table__)
_services = cast(Table, Service.__table__)
_hours = cast(Table, WorkingHours.__table__)
_overrides = cast(Table, ScheduleOverride.__table__)
_holidays = cast(Table, Holiday.__table__)
_appointments = cast(Table, Appointment.__table__)
_payments = cast(Table, PaymentTransaction.__table__)
_notifications = cast(Table, Notification.__table__)
_connections = cast(Table, CalendarConnection.__table__)
_audit = cast(Table, AuditEntry.__table__)

Rows = list[dict[str, Any]]


def _rows(result: Any) -> Rows:
    return [dict(row._mapping) for row in result]


async def _all(connection: AsyncConnection, query: Any) -> Rows:
    return _rows(await connection.execute(query))


async def export(
    db: Database, user_id: UUID, actor: audit.Actor, *, now: datetime
) -> dict[str, Any] | None:
    """Everything held about the account, read in the transaction that audits the export;
    None if there is no such (unerased) account. Serialized: in SQLite a read transaction
    that then writes fails at once if another writer came first."""
    async with db.serialized_transaction() as connection:
        account = (
            await connection.execute(
                select(
                    _users.c.id,
                    _users.c.email,
                    _users.c.full_name,
                    _users.c.phone,
                    _users.c.role,
                    _users.c.created_at,
                    _users.c.email_notifications,
                    _users.c.sms_opt_in,
                ).where(_users.c.id == user_id, _users.c.erased_at.is_(None))
            )
        ).first()
        if account is None:
            return None
        profile = (
            await connection.execute(
                select(
                    _profiles.c.id,
                    _profiles.c.display_name,
                    _profiles.c.timezone,
                    _profiles.c.auto_confirm,
                    _profiles.c.created_at,
                ).where(_profiles.c.user_id == user_id)
            )
        ).first()
        provider_id = profile.id if profile else None
        data: dict[str, Any] = {
            "account": dict(account._mapping),
            "provider": None if profile is None else await _provider(connection, profile),
            "bookings": await _all(connection, _bookings().where(_as_customer(user_id))),
            "bookings_with_me": []
            if provider_id is None
            else await _all(connection, _provider_bookings(provider_id)),
            "payments": await _all(connection, _payments_of(user_id, provider_id)),
            "messages": await _all(connection, _messages(user_id)),
            "calendar_connections": []
            if provider_id is None
            else await _all(connection, _calendar_connections(provider_id)),
            "audit": await _all(connection, _audit_about(user_id)),
        }
        await audit.record(connection, actor, "account.exported", now=now, account_id=user_id)
    return data


async def _provider(connection: AsyncConnection, profile: Any) -> dict[str, Any]:
    provider_id = profile.id
    services = select(
        _services.c.id,
        _services.c.name,
        _services.c.duration_minutes,
        _services.c.price_amount,
        _services.c.currency,
        _services.c.active,
        _services.c.created_at,
    ).where(_services.c.provider_id == provider_id)
    hours = select(_hours.c.weekday, _hours.c.start_time, _hours.c.end_time).where(
        _hours.c.provider_id == provider_id
    )
    overrides = select(_overrides.c.day, _overrides.c.start_time, _overrides.c.end_time).where(
        _overrides.c.provider_id == provider_id
    )
    holidays = select(_holidays.c.day, _holidays.c.name).where(
        _holidays.c.provider_id == provider_id
    )
    return dict(profile._mapping) | {
        "services": await _all(connection, services.order_by(_services.c.created_at)),
        "working_hours": await _all(connection, hours.order_by(_hours.c.weekday)),
        "schedule_overrides": await _all(connection, overrides.order_by(_overrides.c.day)),
        "holidays": await _all(connection, holidays.order_by(_holidays.c.day)),
    }


def _as_customer(user_id: UUID) -> Any:
    return _appointments.c.customer_id == user_id


def _bookings() -> Any:
    return (
        select(
            _appointments.c.id,
            _appointments.c.status,
            _appointments.c.provider_id,
            _profiles.c.display_name.label("provider_name"),
            _appointments.c.service_id,
            _services.c.name.label("service_name"),
            _appointments.c.start_at,
            _appointments.c.end_at,
            _appointments.c.price_amount,
            _appointments.c.currency,
            _appointments.c.customer_timezone,
            _appointments.c.cancel_reason,
            _appointments.c.cancel_note,
            _appointments.c.created_at,
            _appointments.c.updated_at,
        )
        .join(_profiles, _profiles.c.id == _appointments.c.provider_id)
        .join(_services, _services.c.id == _appointments.c.service_id)
        .order_by(_appointments.c.start_at, _appointments.c.id)
    )


def _provider_bookings(provider_id: UUID) -> Any:
    """Bookings with the provider, with only what the provider sees of them through the API."""
    return (
        select(
            _appointments.c.id,
            _appointments.c.status,
            _appointments.c.customer_id,
            _appointments.c.service_id,
            _services.c.name.label("service_name"),
            _appointments.c.start_at,
            _appointments.c.end_at,
            _appointments.c.price_amount,
            _appointments.c.currency,
            _appointments.c.cancel_reason,
            _appointments.c.cancel_note,
            _appointments.c.created_at,
        )
        .join(_services, _services.c.id == _appointments.c.service_id)
        .where(_appointments.c.provider_id == provider_id)
        .order_by(_appointments.c.start_at, _appointments.c.id)
    )


def _payments_of(user_id: UUID, provider_id: UUID | None) -> Any:
    mine = [_as_customer(user_id)]
    if provider_id is not None:
        mine.append(_appointments.c.provider_id == provider_id)
    return (
        select(
            _payments.c.appointment_id,
            _payments.c.gateway,
            _payments.c.intent_id,
            _payments.c.amount,
            _payments.c.currency,
            _payments.c.status,
            _payments.c.refunded_amount,
            _payments.c.created_at,
            _payments.c.updated_at,
        )
        .join(_appointments, _appointments.c.id == _payments.c.appointment_id)
        .where(or_(*mine))
        .order_by(_payments.c.created_at, _payments.c.id)
    )


def _messages(user_id: UUID) -> Any:
    return (
        select(
            _notifications.c.id,
            _notifications.c.appointment_id,
            _notifications.c.kind,
            _notifications.c.channel,
            _notifications.c.recipient,
            _notifications.c.status,
            _notifications.c.subject,
            _notifications.c.body_text,
            _notifications.c.created_at,
            _notifications.c.sent_at,
            _notifications.c.delivered_at,
        )
        .where(_notifications.c.user_id == user_id)
        .order_by(_notifications.c.created_at, _notifications.c.id)
    )


def _calendar_connections(provider_id: UUID) -> Any:
    """The connections without their sealed secrets or sync bookkeeping."""
    return (
        select(
            _connections.c.id,
            _connections.c.kind,
            _connections.c.status,
            _connections.c.account,
            _connections.c.server_url,
            _connections.c.blocking_calendars,
            _connections.c.destination_calendar,
            _connections.c.last_synced_at,
            _connections.c.created_at,
        )
        .where(_connections.c.provider_id == provider_id)
        .order_by(_connections.c.created_at)
    )


def _audit_about(user_id: UUID) -> Any:
    return (
        select(
            _audit.c.at,
            _audit.c.actor_id,
            _audit.c.actor_role,
            _audit.c.action,
            _audit.c.booking_id,
            _audit.c.account_id,
            _audit.c.detail,
        )
        .where(or_(_audit.c.account_id == user_id, _audit.c.actor_id == user_id))
        .order_by(_audit.c.at, _audit.c.id)
    )
