"""Live availability: the feed of availability changes on SQLite.

`availability_changes` gets a row, in the writer's own transaction, for every write that
changes a provider's free time (a hold, a release, a move, a busy block, a schedule edit). Every
API process reads it by id to tell its SSE subscribers (db/availability_changes.py). PostgreSQL
announces the same changes with NOTIFY instead: there the table exists and stays empty.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "availability_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        # No foreign key: a change is a message, never a reason to refuse a write.
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("dates", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        # Ids never reused after a prune, so a reader's "after id N" stays true.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_availability_changes_created_at", "availability_changes", ["created_at"])


def downgrade() -> None:
    op.drop_table("availability_changes")
