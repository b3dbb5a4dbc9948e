"""Busy-time indexes that cover the calendar read.

The availability read asks, per provider, for the spans overlapping a window: with only
(provider, start) indexed, each of a busy provider's rows was fetched from the table for its
end, status and hold expiry. These indexes hold every column the read looks at.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPOINTMENTS_BUSY = ["provider_id", "blocked_start", "blocked_end", "status", "hold_expires_at"]


def upgrade() -> None:
    op.create_index("ix_appointments_provider_busy", "appointments", APPOINTMENTS_BUSY)
    op.drop_index("ix_appointments_provider_blocked", table_name="appointments")
    op.create_index(
        "ix_external_busy_blocks_provider_span",
        "external_busy_blocks",
        ["provider_id", "start_at", "end_at"],
    )
    op.drop_index("ix_external_busy_blocks_provider_start", table_name="external_busy_blocks")


def downgrade() -> None:
    op.create_index(
        "ix_external_busy_blocks_provider_start",
        "external_busy_blocks",
        ["provider_id", "start_at"],
    )
    op.drop_index("ix_external_busy_blocks_provider_span", table_name="external_busy_blocks")
    op.create_index(
        "ix_appointments_provider_blocked", "appointments", ["provider_id", "blocked_start"]
    )
    op.drop_index("ix_appointments_provider_busy", table_name="appointments")
