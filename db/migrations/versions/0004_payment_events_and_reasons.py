"""Payment events kept once per event id; cancel reasons as text, the canceller's note apart.

A gateway delivers a webhook at least once: `payment_events` records each event id once, so a
repeat signals nothing (and each booking's history stays bounded). The system's reason for an
ending ("cancelled by the customer ...") had a 500-character column that a 500-character note
of the customer's overflowed on PostgreSQL; both are TEXT now, in columns of their own.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_events",
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("intent_id", sa.String(255)),
        sa.Column("booking_id", sa.Uuid()),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        # When the booking's workflow took it (or the late payment was refunded): until then a
        # repeat of the event is delivered again.
        sa.Column("handled_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(32)),
    )
    op.create_index("ix_payment_events_intent", "payment_events", ["intent_id"])
    # SQLite keeps any length in a VARCHAR; only PostgreSQL needs the wider type.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("appointments", "cancel_reason", type_=sa.Text())
    op.add_column("appointments", sa.Column("cancel_note", sa.Text()))


def downgrade() -> None:
    op.drop_column("appointments", "cancel_note")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("appointments", "cancel_reason", type_=sa.String(500))
    op.drop_index("ix_payment_events_intent", table_name="payment_events")
    op.drop_table("payment_events")
