"""SQLAlchemy models of the booking system. The schema itself is owned by the Alembic migrations."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from db.types import UTCDateTime


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    full_name: Mapped[str] = mapped_column(String(200))
    # E.164; SMS goes to it only with the opt-in (Twilio's STOP turns it off).
    phone: Mapped[str | None] = mapped_column(String(32))
    email_notifications: Mapped[bool] = mapped_column(Boolean, default=True)
    sms_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Failed logins in a row, and when the account may try again (backoff, then a lock).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    login_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the account's personal data was erased on request; the row stays, pseudonymized.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("role IN ('customer', 'provider', 'admin')", name="ck_users_role"),
    )


class ProviderProfile(Base):
    __tablename__ = "provider_profiles"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    auto_confirm: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Service(Base):
    __tablename__ = "services"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_profiles.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    price_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    slot_interval_minutes: Mapped[int] = mapped_column(Integer)
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=0)
    horizon_days: Mapped[int] = mapped_column(Integer, default=90)
    max_per_day: Mapped[int | None] = mapped_column(Integer)
    # Reminder lead times in minutes before the start, comma-separated ("1440,60").
    reminder_offsets: Mapped[str] = mapped_column(String(200), default="1440,60")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("duration_minutes > 0", name="ck_services_duration"),
        CheckConstraint("price_amount >= 0", name="ck_services_price"),
        CheckConstraint(
            "buffer_before_minutes >= 0 AND buffer_after_minutes >= 0", name="ck_services_buffers"
        ),
        CheckConstraint("slot_interval_minutes > 0", name="ck_services_interval"),
        CheckConstraint("min_notice_minutes >= 0", name="ck_services_notice"),
        CheckConstraint("horizon_days > 0", name="ck_services_horizon"),
        CheckConstraint("max_per_day IS NULL OR max_per_day > 0", name="ck_services_max_per_day"),
    )


class WorkingHours(Base):
    """One working interval of a weekday, in the provider's local wall-clock time."""

    __tablename__ = "working_hours"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_profiles.id"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[time] = mapped_column(Time)
    # 00:00 as an end means midnight at the end of the day.
    end_time: Mapped[time] = mapped_column(Time)

    __table_args__ = (CheckConstraint("weekday BETWEEN 0 AND 6", name="ck_working_hours_weekday"),)


class Appointment(Base):
    """A booking: its id is the booking id, and `booking-<id>` is its workflow id."""

    __tablename__ = "appointments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_profiles.id"))
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The span the booking keeps the provider busy: its time widened by the service's buffers.
    blocked_start: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_end: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(24))
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    price_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    customer_timezone: Mapped[str | None] = mapped_column(String(64))
    # Why the booking ended, in the system's words; the canceller's own words are the note.
    # TEXT; SQLite keeps the column migration 0001 made (it enforces no length, and cannot
    # change a column's type in place).
    cancel_reason: Mapped[str | None] = mapped_column(Text().with_variant(String(500), "sqlite"))
    cancel_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Covers the calendar read: every column it filters on or returns (migration 0003).
        Index(
            "ix_appointments_provider_busy",
            "provider_id",
            "blocked_start",
            "blocked_end",
            "status",
            "hold_expires_at",
        ),
        Index("ix_appointments_customer_start", "customer_id", "start_at"),
        CheckConstraint("end_at > start_at", name="ck_appointments_order"),
        CheckConstraint(
            "blocked_start <= start_at AND blocked_end >= end_at", name="ck_appointments_blocked"
        ),
    )


class PaymentTransaction(Base):
    __tablename__ = "payment_transactions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    appointment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appointments.id"), index=True)
    gateway: Mapped[str] = mapped_column(String(16))
    intent_id: Mapped[str] = mapped_column(String(255), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(24))
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentEvent(Base):
    """A gateway's webhook event, once per event id (migration 0004)."""

    __tablename__ = "payment_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    intent_id: Mapped[str | None] = mapped_column(String(255))
    booking_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_payment_events_intent", "intent_id"),)


class Notification(Base):
    """One message to one person on one channel, and what became of it (migrations 0005-0006)."""

    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # None for a notice about the provider's calendars that concerns no booking (0007).
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(320))
    # pending -> sent -> delivered, or failed (contract.notifications.Delivery).
    status: Mapped[str] = mapped_column(String(16))
    # Unique per booking, event, person and channel, so a retried activity never sends twice.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # The vendor's message id (SendGrid's, Twilio's SID): its status reports name it.
    external_id: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str | None] = mapped_column(String(300))
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    ics: Mapped[str | None] = mapped_column(Text)
    ics_sequence: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while an attempt is sending it (migration 0006): still set on a pending message, the
    # attempt died mid-send, and the vendor may have taken it.
    sending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_external_id", "external_id"),
    )


class SandboxPaymentIntent(Base):
    """State of the sandbox payment gateway, which stands in for Stripe in the embedded default."""

    __tablename__ = "sandbox_payment_intents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(32))
    booking_id: Mapped[str] = mapped_column(String(64))
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ScheduleOverride(Base):
    """Other hours on one local date: rows with times replace that weekday's hours; a row
    without times closes the date."""

    __tablename__ = "schedule_overrides"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_profiles.id"))
    day: Mapped[date] = mapped_column(Date)
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)

    __table_args__ = (
        Index("ix_schedule_overrides_provider_day", "provider_id", "day"),
        CheckConstraint(
            "(start_time IS NULL) = (end_time IS NULL)", name="ck_schedule_overrides_times"
        ),
    )


class Holiday(Base):
    __tablename__ = "holidays"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_profiles.id"))
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("provider_id", "day", name="uq_holidays_provider_day"),)


class ExternalBusyBlock(Base):
    """Time the provider's own calendars (Google, Outlook) say is busy; calendar sync fills it."""

    __tablename__ = "external_busy_blocks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_profiles.id"))
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(255))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Where calendar sync found it (migration 0007); None for blocks put there otherwise.
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(
            "calendar_connections.id",
            ondelete="CASCADE",
            name="fk_external_busy_blocks_connection",
        )
    )
    calendar_id: Mapped[str | None] = mapped_column(String(1024))
    # The event, or the recurring series, the block is an occurrence of.
    resource: Mapped[str | None] = mapped_column(String(1024))

    __table_args__ = (
        Index("ix_external_busy_blocks_provider_span", "provider_id", "start_at", "end_at"),
        Index("ix_external_busy_blocks_connection", "connection_id", "calendar_id", "resource"),
        UniqueConstraint(
            "provider_id", "source", "external_id", name="uq_external_busy_blocks_event"
        ),
        CheckConstraint("end_at > start_at", name="ck_external_busy_blocks_order"),
    )


class CalendarConnection(Base):
    """One calendar account of a provider (migration 0007): a Google or Microsoft grant or a
    CalDAV login, sealed in `secret`; which calendars block time, where bookings are written,
    and how far each calendar has been read."""

    __tablename__ = "calendar_connections"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_profiles.id"))
    kind: Mapped[str] = mapped_column(String(16))  # contract.calendars.CalendarKind
    status: Mapped[str] = mapped_column(String(16))  # contract.calendars.ConnectionStatus
    account: Mapped[str] = mapped_column(String(320))
    server_url: Mapped[str | None] = mapped_column(String(1024))
    secret: Mapped[str] = mapped_column(Text)
    blocking_calendars: Mapped[str] = mapped_column(Text, server_default="[]")  # JSON list
    destination_calendar: Mapped[str | None] = mapped_column(String(1024))
    sync_state: Mapped[str] = mapped_column(Text, server_default="{}")  # JSON: calendar -> state
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last full listing: an incremental sync reports only what changed, not the
    # occurrences the moving horizon brings in, so a full one runs daily.
    full_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    broken_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("provider_id", "kind", "account", name="uq_calendar_connections_account"),
        Index("ix_calendar_connections_provider", "provider_id"),
    )


class CalendarEventLink(Base):
    """Where a booking was written in a connected calendar, and the times written (migration
    0007): a move rewrites it, a cancel deletes it, an unchanged booking leaves it alone."""

    __tablename__ = "calendar_event_links"

    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appointments.id"), primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("calendar_connections.id", ondelete="CASCADE"), primary_key=True
    )
    calendar_id: Mapped[str] = mapped_column(String(1024))
    event_id: Mapped[str] = mapped_column(String(1024))
    etag: Mapped[str | None] = mapped_column(String(255))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarAuthorization(Base):
    """An OAuth flow in progress (migration 0007): its `state` is bound to the user, used once,
    and expires; `secret` seals the PKCE verifier (or MSAL's flow)."""

    __tablename__ = "calendar_authorizations"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("provider_profiles.id"))
    kind: Mapped[str] = mapped_column(String(16))
    secret: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


__all__ = [
    "Appointment",
    "Base",
    "CalendarAuthorization",
    "CalendarConnection",
    "CalendarEventLink",
    "ExternalBusyBlock",
    "Holiday",
    "Notification",
    "PaymentEvent",
    "PaymentTransaction",
    "ProviderProfile",
    "SandboxPaymentIntent",
    "ScheduleOverride",
    "Service",
    "User",
    "WorkingHours",
]


class AuditEntry(Base):
    """Append-only: who did what to which booking or account (triggers refuse UPDATE, DELETE)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # customer, provider, admin, or system (the worker, a schedule) / anonymous (no sign-in).
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    booking_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # JSON; ids and outcomes only, never personal data.
    detail: Mapped[str] = mapped_column(Text, default="{}")
    request_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor", "actor_id", "at"),
        Index("ix_audit_log_booking", "booking_id", "at"),
        Index("ix_audit_log_account", "account_id", "at"),
    )


class AvailabilityChange(Base):
    """SQLite's feed of availability changes (migration 0009; db/availability_changes.py): one
    row per write that changed a provider's free time, read by every API process by id."""

    __tablename__ = "availability_changes"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    provider_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # JSON: the provider-local ISO dates that changed, or null for every date.
    dates: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # AUTOINCREMENT: an id is never reused once pruned, so a reader's "after id N" stays true.
    __table_args__ = (
        Index("ix_availability_changes_created_at", "created_at"),
        {"sqlite_autoincrement": True},
    )
