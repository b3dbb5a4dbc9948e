"""A message being sent is claimed first, so a sender that died mid-send is known.

`sending_since` is set, in the same transaction that records the message, when an attempt
starts, and cleared when its outcome is recorded. A pending message that still has it was
being sent when its worker died: the next attempt asks the vendor whether it took it before
sending again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("sending_since", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as notifications:
        notifications.drop_column("sending_since")
