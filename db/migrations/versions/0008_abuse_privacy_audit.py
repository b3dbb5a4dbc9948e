"""Ready for the open internet: login backoff, erasure, and the audit log.

- `users.failed_logins` counts the failed logins in a row and `users.login_retry_at` is when
  the account may try again (a growing delay, then a temporary lock); a login refused for the
  wait does not count, so nobody can push the lock further out.
- `users.erased_at` marks an account whose personal data was erased on request (its row stays,
  pseudonymized, so the bookings and payments that accounting keeps still point somewhere).
- `audit_log` is append-only: who did what to which booking or account, written in the
  transaction of the change. Triggers refuse UPDATE and DELETE on both databases.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("users", sa.Column("login_retry_at", sa.DateTime(timezone=True)))
    op.add_column("users", sa.Column("erased_at", sa.DateTime(timezone=True)))
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        # No foreign keys: the log outlives what it names, and never blocks a change.
        sa.Column("actor_id", sa.Uuid()),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("booking_id", sa.Uuid()),
        sa.Column("account_id", sa.Uuid()),
        sa.Column("detail", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("request_id", sa.String(64)),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor_id", "at"])
    op.create_index("ix_audit_log_booking", "audit_log", ["booking_id", "at"])
    op.create_index("ix_audit_log_account", "audit_log", ["account_id", "at"])
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table("audit_log")
    with op.batch_alter_table("users") as users:
        users.drop_column("erased_at")
        users.drop_column("login_retry_at")
        users.drop_column("failed_logins")
