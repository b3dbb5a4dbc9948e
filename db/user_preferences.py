"""A person's own settings: name, phone, and which channels the booking may use to reach them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import cast
from uuid import UUID

from sqlalchemy import Table, Uuid, bindparam, select, update

from db import audit
from db.engine import Database
from db.models import User

_users = cast(Table, User.__table__)


@dataclass(frozen=True, slots=True)
class Preferences:
    full_name: str
    phone: str | None
    sms_opt_in: bool
    email_notifications: bool


_COLUMNS = (
    _users.c.full_name,
    _users.c.phone,
    _users.c.sms_opt_in,
    _users.c.email_notifications,
)
_OF_USER = _users.c.id == bindparam("user_id", type_=Uuid)
_READ = select(*_COLUMNS).where(_OF_USER)


async def get_preferences(db: Database, user_id: UUID) -> Preferences | None:
    async with db.reading() as connection:
        row = (await connection.execute(_READ, {"user_id": user_id})).first()
    return None if row is None else Preferences(*row)


async def change_preferences(
    db: Database,
    user_id: UUID,
    change: Callable[[Preferences], Preferences],
    *,
    actor: audit.Actor,
    now: datetime,
) -> Preferences | None:
    """Read, `change` and write in one transaction, so the rule `change` keeps (no SMS opt-in
    without a phone) holds against a concurrent change. None if there is no such user."""
    async with db.serialized_transaction() as connection:
        row = (await connection.execute(_READ.with_for_update(), {"user_id": user_id})).first()
        if row is None:
            return None
        current = Preferences(*row)
        changed = change(current)
        await connection.execute(
            update(_users)
            .where(_users.c.id == user_id)
            .values(
                full_name=changed.full_name,
                phone=changed.phone,
                sms_opt_in=changed.sms_opt_in,
                email_notifications=changed.email_notifications,
            )
        )
        # The names of the fields that changed, never their values (personal data).
        names = [
            f.name
            for f in fields(Preferences)
            if getattr(current, f.name) != getattr(changed, f.name)
        ]
        await audit.record(
            connection,
            actor,
            "account.preferences_changed",
            now=now,
            account_id=user_id,
            detail={"fields": names},
        )
    return changed
