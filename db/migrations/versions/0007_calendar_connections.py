"""Provider calendar connections, their pending authorizations, and busy blocks that name them.

A connection is one account (a Google or Microsoft grant, a CalDAV login) of one provider; its
grant or password is sealed (MultiFernet) in `secret`. It keeps which calendars block the
provider's time, one destination for new bookings, and each calendar's sync state (a sync
token or delta link). An authorization is the state of an OAuth flow in progress: single use
and expiring. Busy blocks now say which connection and calendar they came from, and which
resource (an event, or a recurring event's series) they belong to, so a sync can replace them
and a disconnect removes them. An event link is where a booking was written in a provider's
calendar (and the times written there), so a move updates it and a cancel removes it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_connections",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("provider_id", sa.Uuid(), sa.ForeignKey("provider_profiles.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("account", sa.String(320), nullable=False),
        sa.Column("server_url", sa.String(1024)),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("blocking_calendars", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("destination_calendar", sa.String(1024)),
        sa.Column("sync_state", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("last_synced_at", sa.DateTime(timezone=True)),
        # The last full listing: incremental syncs miss what the moving horizon brings in.
        sa.Column("full_synced_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text()),
        sa.Column("broken_reason", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "provider_id", "kind", "account", name="uq_calendar_connections_account"
        ),
    )
    op.create_index("ix_calendar_connections_provider", "calendar_connections", ["provider_id"])
    op.create_table(
        "calendar_authorizations",
        sa.Column("state", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("provider_id", sa.Uuid(), sa.ForeignKey("provider_profiles.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "calendar_event_links",
        sa.Column("booking_id", sa.Uuid(), sa.ForeignKey("appointments.id"), primary_key=True),
        sa.Column(
            "connection_id",
            sa.Uuid(),
            sa.ForeignKey("calendar_connections.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("calendar_id", sa.String(1024), nullable=False),
        sa.Column("event_id", sa.String(1024), nullable=False),
        sa.Column("etag", sa.String(255)),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("external_busy_blocks") as blocks:
        blocks.add_column(sa.Column("connection_id", sa.Uuid()))
        blocks.add_column(sa.Column("calendar_id", sa.String(1024)))
        blocks.add_column(sa.Column("resource", sa.String(1024)))
        blocks.create_foreign_key(
            "fk_external_busy_blocks_connection",
            "calendar_connections",
            ["connection_id"],
            ["id"],
            ondelete="CASCADE",
        )
    # A notice about a provider's calendars may concern no booking.
    with op.batch_alter_table("notifications") as notifications:
        notifications.alter_column("appointment_id", existing_type=sa.Uuid(), nullable=True)
    op.create_index(
        "ix_external_busy_blocks_connection",
        "external_busy_blocks",
        ["connection_id", "calendar_id", "resource"],
    )


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE appointment_id IS NULL")
    with op.batch_alter_table("notifications") as notifications:
        notifications.alter_column("appointment_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_index("ix_external_busy_blocks_connection", table_name="external_busy_blocks")
    with op.batch_alter_table("external_busy_blocks") as blocks:
        blocks.drop_constraint("fk_external_busy_blocks_connection", type_="foreignkey")
        blocks.drop_column("resource")
        blocks.drop_column("calendar_id")
        blocks.drop_column("connection_id")
    op.drop_table("calendar_event_links")
    op.drop_table("calendar_authorizations")
    op.drop_index("ix_calendar_connections_provider", table_name="calendar_connections")
    op.drop_table("calendar_connections")
