"""Schedule overrides, holidays and external busy blocks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    provider = sa.ForeignKey("provider_profiles.id")
    op.create_table(
        "schedule_overrides",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("provider_id", sa.Uuid(), provider, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("start_time", sa.Time()),
        sa.Column("end_time", sa.Time()),
        sa.CheckConstraint(
            "(start_time IS NULL) = (end_time IS NULL)", name="ck_schedule_overrides_times"
        ),
    )
    op.create_index(
        "ix_schedule_overrides_provider_day", "schedule_overrides", ["provider_id", "day"]
    )
    op.create_table(
        "holidays",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("provider_id", sa.Uuid(), sa.ForeignKey("provider_profiles.id"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.UniqueConstraint("provider_id", "day", name="uq_holidays_provider_day"),
    )
    op.create_table(
        "external_busy_blocks",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("provider_id", sa.Uuid(), sa.ForeignKey("provider_profiles.id"), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "provider_id", "source", "external_id", name="uq_external_busy_blocks_event"
        ),
        sa.CheckConstraint("end_at > start_at", name="ck_external_busy_blocks_order"),
    )
    op.create_index(
        "ix_external_busy_blocks_provider_start",
        "external_busy_blocks",
        ["provider_id", "start_at"],
    )


def downgrade() -> None:
    op.drop_table("external_busy_blocks")
    op.drop_table("holidays")
    op.drop_table("schedule_overrides")
