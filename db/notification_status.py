"""What the vendors report about sent messages, and the SMS opt-outs they pass on."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple, cast
from uuid import UUID

from sqlalchemy import ColumnElement, String, Table, bindparam, update

from contract.notifications import Delivery
from db.engine import Database
from db.models import Notification, User

_notifications = cast(Table, Notification.__table__)
_users = cast(Table, User.__table__)

# Delivered and failed are final: a late or replayed report never moves a message back.
_OPEN = (Delivery.PENDING, Delivery.SENT)

_OPT_OUT = (
    update(_users)
    .where(_users.c.phone == bindparam("of_phone", type_=String), _users.c.sms_opt_in.is_(True))
    .values(sms_opt_in=False)
)


class Report(NamedTuple):
    """A vendor's word on one message, named by our id or by the vendor's (any of several
    candidates): its new status, or None to note `error` and leave the status as it is."""

    message_id: UUID | None
    external_ids: tuple[str, ...]
    status: Delivery | None
    error: str | None = None


def _message(report: Report) -> ColumnElement[bool] | None:
    if report.message_id is not None:
        return _notifications.c.id == report.message_id
    if report.external_ids:
        return _notifications.c.external_id.in_(report.external_ids)
    return None


def _changes(report: Report, now: datetime) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if report.status is not None:
        changes["status"] = report.status
        if report.status == Delivery.DELIVERED:
            changes["delivered_at"] = now
    if report.error is not None:
        changes["last_error"] = report.error
    if changes:
        changes["updated_at"] = now
    return changes


async def record_reports(db: Database, reports: Iterable[Report], *, now: datetime) -> int:
    """Apply the reports to the messages still open; how many reports changed one."""
    changed = 0
    async with db.transaction() as connection:
        for report in reports:
            message, changes = _message(report), _changes(report, now)
            if message is None or not changes:
                continue
            result = await connection.execute(
                update(_notifications)
                .where(message, _notifications.c.status.in_(_OPEN))
                .values(**changes)
            )
            changed += 1 if result.rowcount else 0
    return changed


async def opt_out_of_sms(db: Database, phone: str) -> int:
    """Turn the SMS opt-in off for every account with this number; how many had it on."""
    async with db.transaction() as connection:
        result = await connection.execute(_OPT_OUT, {"of_phone": phone})
    return result.rowcount
