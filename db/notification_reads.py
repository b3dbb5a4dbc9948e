"""Reading sent messages: a person's own, newest first, or one booking's for an admin."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, cast
from uuid import UUID

from sqlalchemy import Table, func, select

from db.engine import Database
from db.models import Notification

_notifications = cast(Table, Notification.__table__)


class SentMessage(NamedTuple):
    id: UUID
    appointment_id: UUID | None
    user_id: UUID | None
    channel: str
    kind: str
    recipient: str
    status: str
    subject: str | None
    body_text: str | None
    body_html: str | None
    ics: str | None
    ics_sequence: int | None
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


_COLUMNS = [_notifications.c[name] for name in SentMessage._fields]


async def list_messages(
    db: Database,
    *,
    user_id: UUID | None,
    appointment_id: UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[SentMessage], int]:
    """One page, newest first, of the messages to `user_id` and/or about `appointment_id`."""
    conditions = []
    if user_id is not None:
        conditions.append(_notifications.c.user_id == user_id)
    if appointment_id is not None:
        conditions.append(_notifications.c.appointment_id == appointment_id)
    page = (
        select(*_COLUMNS)
        .where(*conditions)
        .order_by(_notifications.c.created_at.desc(), _notifications.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    count = select(func.count()).select_from(_notifications).where(*conditions)
    async with db.reading() as connection:
        rows = [SentMessage(*row) for row in await connection.execute(page)]
        total = await connection.scalar(count)
    return rows, total or 0


async def get_message(db: Database, message_id: UUID) -> SentMessage | None:
    async with db.reading() as connection:
        row = (
            await connection.execute(select(*_COLUMNS).where(_notifications.c.id == message_id))
        ).first()
    return None if row is None else SentMessage(*row)
