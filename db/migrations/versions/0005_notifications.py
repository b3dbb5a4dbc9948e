"""Messages with a record of what became of them; people's channels; reminder lead times.

Every message the booking sends is a `notifications` row: whom it is for, what it says (the
text, HTML and invite as sent, so the sandbox outbox can show them), and its delivery as the
vendor reports it. Users keep an SMS opt-in (Twilio's STOP turns it off) and an email
preference; services keep their reminder lead times in minutes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MESSAGE_COLUMNS = (
    sa.Column("user_id", sa.Uuid()),
    sa.Column("subject", sa.String(300)),
    sa.Column("body_text", sa.Text()),
    sa.Column("body_html", sa.Text()),
    sa.Column("ics", sa.Text()),
    sa.Column("ics_sequence", sa.Integer()),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text()),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    for column in _MESSAGE_COLUMNS:
        op.add_column("notifications", column)
    op.create_index("ix_notifications_user_created", "notifications", ["user_id", "created_at"])
    op.create_index("ix_notifications_external_id", "notifications", ["external_id"])
    op.add_column(
        "users",
        sa.Column("email_notifications", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column(
        "users", sa.Column("sms_opt_in", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column(
        "services",
        sa.Column("reminder_offsets", sa.String(200), nullable=False, server_default="1440,60"),
    )


def downgrade() -> None:
    with op.batch_alter_table("services") as services:
        services.drop_column("reminder_offsets")
    with op.batch_alter_table("users") as users:
        users.drop_column("sms_opt_in")
        users.drop_column("email_notifications")
    op.drop_index("ix_notifications_external_id", table_name="notifications")
    op.drop_index("ix_notifications_user_created", table_name="notifications")
    with op.batch_alter_table("notifications") as notifications:
        for column in reversed(_MESSAGE_COLUMNS):
            notifications.drop_column(column.name)
