"""Reading the audit log: entries by actor, booking, account and time, newest first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast
from uuid import UUID

from sqlalchemy import ColumnElement, Table, func, select

from db.engine import Database
from db.models import AuditEntry

_audit = cast(Table, AuditEntry.__table__)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Each field set narrows the entries; `since` is inclusive, `until` exclusive."""

    actor_id: UUID | None = None
    booking_id: UUID | None = None
    account_id: UUID | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        columns = _audit.c
        found: list[ColumnElement[bool]] = []
        for column, value in (
            (columns.actor_id, self.actor_id),
            (columns.booking_id, self.booking_id),
            (columns.account_id, self.account_id),
            (columns.action, self.action),
        ):
            if value is not None:
                found.append(column == value)
        if self.since is not None:
            found.append(columns.at >= self.since)
        if self.until is not None:
            found.append(columns.at < self.until)
        return found


class Entry(NamedTuple):
    id: int
    at: datetime
    actor_id: UUID | None
    actor_role: str
    action: str
    booking_id: UUID | None
    account_id: UUID | None
    detail: dict[str, Any]
    request_id: str | None


_COLUMNS = [_audit.c[name] for name in Entry._fields]


async def list_entries(
    db: Database, where: AuditFilter, *, limit: int, offset: int
) -> tuple[list[Entry], int]:
    """One page of matching entries, newest first, and how many match in all."""
    conditions = where.conditions()
    page = (
        select(*_COLUMNS)
        .where(*conditions)
        .order_by(_audit.c.at.desc(), _audit.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = select(func.count()).select_from(_audit).where(*conditions)
    async with db.reading() as connection:
        rows = (await connection.execute(page)).all()
        count = await connection.scalar(total)
    entries = [Entry(*row)._replace(detail=json.loads(row.detail)) for row in rows]
    return entries, int(count or 0)
