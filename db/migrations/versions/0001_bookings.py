"""Users, providers, services, working hours, appointments, payments, notifications.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the application's lists: a migration must not change when the code does.
STORED_STATUSES = (
    "awaiting_payment", "awaiting_approval", "confirmed", "completed", "no_show",
    "cancelled", "expired", "payment_failed", "declined",
)  # fmt: skip
ACTIVE_STATUSES = ("awaiting_payment", "awaiting_approval", "confirmed")


def _in(values: Sequence[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _timestamps() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(32)),
        sa.Column("role", sa.String(16), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("role IN ('customer', 'provider', 'admin')", name="ck_users_role"),
    )
    op.create_table(
        "provider_profiles",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("auto_confirm", sa.Boolean(), nullable=False),
        *_timestamps(),
    )
    op.create_table(
        "services",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("provider_id", sa.Uuid(), sa.ForeignKey("provider_profiles.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("price_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("buffer_before_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_after_minutes", sa.Integer(), nullable=False),
        sa.Column("slot_interval_minutes", sa.Integer(), nullable=False),
        sa.Column("min_notice_minutes", sa.Integer(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("max_per_day", sa.Integer()),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("duration_minutes > 0", name="ck_services_duration"),
        sa.CheckConstraint("price_amount >= 0", name="ck_services_price"),
        sa.CheckConstraint(
            "buffer_before_minutes >= 0 AND buffer_after_minutes >= 0", name="ck_services_buffers"
        ),
        sa.CheckConstraint("slot_interval_minutes > 0", name="ck_services_interval"),
        sa.CheckConstraint("min_notice_minutes >= 0", name="ck_services_notice"),
        sa.CheckConstraint("horizon_days > 0", name="ck_services_horizon"),
        sa.CheckConstraint(
            "max_per_day IS NULL OR max_per_day > 0", name="ck_services_max_per_day"
        ),
    )
    op.create_index("ix_services_provider_id", "services", ["provider_id"])
    op.create_table(
        "working_hours",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("provider_id", sa.Uuid(), sa.ForeignKey("provider_profiles.id"), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="ck_working_hours_weekday"),
    )
    op.create_index("ix_working_hours_provider_id", "working_hours", ["provider_id"])
    op.create_table(
        "appointments",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("provider_id", sa.Uuid(), sa.ForeignKey("provider_profiles.id"), nullable=False),
        sa.Column("service_id", sa.Uuid(), sa.ForeignKey("services.id"), nullable=False),
        sa.Column("customer_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("hold_expires_at", sa.DateTime(timezone=True)),
        sa.Column("price_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("customer_timezone", sa.String(64)),
        sa.Column("cancel_reason", sa.String(500)),
        *_timestamps(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("end_at > start_at", name="ck_appointments_order"),
        sa.CheckConstraint(
            "blocked_start <= start_at AND blocked_end >= end_at", name="ck_appointments_blocked"
        ),
        sa.CheckConstraint(f"status IN {_in(STORED_STATUSES)}", name="ck_appointments_status"),
    )
    op.create_index(
        "ix_appointments_provider_blocked", "appointments", ["provider_id", "blocked_start"]
    )
    op.create_index("ix_appointments_customer_start", "appointments", ["customer_id", "start_at"])
    # The last word on double booking: no two active bookings of one provider overlap,
    # buffers included. Expired holds still count here until the next hold sweeps them.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE appointments ADD CONSTRAINT ex_appointments_no_overlap "
            "EXCLUDE USING gist (provider_id WITH =, "
            "tstzrange(blocked_start, blocked_end, '[)') WITH &&) "
            f"WHERE (status IN {_in(ACTIVE_STATUSES)})"
        )
    else:
        # SQLite has no exclusion constraints; triggers refuse the same rows. Instants are
        # stored as fixed-width UTC text, so text order is time order.
        for event in ("INSERT", "UPDATE"):
            op.execute(
                f"CREATE TRIGGER tr_appointments_no_overlap_{event.lower()} "
                f"BEFORE {event} ON appointments "
                f"WHEN NEW.status IN {_in(ACTIVE_STATUSES)} "
                "BEGIN SELECT RAISE(ABORT, 'ex_appointments_no_overlap') WHERE EXISTS ("
                "SELECT 1 FROM appointments AS a WHERE a.provider_id = NEW.provider_id "
                f"AND a.id != NEW.id AND a.status IN {_in(ACTIVE_STATUSES)} "
                "AND a.blocked_start < NEW.blocked_end AND a.blocked_end > NEW.blocked_start); "
                "END"
            )
    op.create_table(
        "payment_transactions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("appointment_id", sa.Uuid(), sa.ForeignKey("appointments.id"), nullable=False),
        sa.Column("gateway", sa.String(16), nullable=False),
        sa.Column("intent_id", sa.String(255), nullable=False, unique=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        *_timestamps(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_payment_transactions_appointment_id", "payment_transactions", ["appointment_id"]
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("appointment_id", sa.Uuid(), sa.ForeignKey("appointments.id"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("external_id", sa.String(255)),
        *_timestamps(),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_notifications_appointment_id", "notifications", ["appointment_id"])
    op.create_table(
        "sandbox_payment_intents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("booking_id", sa.String(64), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
        *_timestamps(),
    )


def downgrade() -> None:
    for table in (
        "sandbox_payment_intents",
        "notifications",
        "payment_transactions",
        "appointments",
        "working_hours",
        "services",
        "provider_profiles",
        "users",
    ):
        op.drop_table(table)
