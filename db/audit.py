"""The audit log: append-only rows of who did what to which booking or account.

Write an entry with `record(conn, ...)` on the connection of the change itself, so the entry
commits with the change and vanishes with its rollback. `detail` holds ids and outcomes only,
never personal data (names, emails, phone numbers, free text).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.engine import Database
from db.models import AuditEntry, ProviderProfile

# Set by the API for each request (its X-Request-ID), so entries name the request behind them.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


@contextmanager
def for_request(request_id: str | None) -> Iterator[None]:
    """Entries written inside name this API request: a worker's step carries its id along."""
    token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(token)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a signed-in account, or None with the role `system` or `anonymous`."""

    id: UUID | None
    role: str


SYSTEM = Actor(None, "system")
ANONYMOUS = Actor(None, "anonymous")


async def provider_actor(conn: AsyncConnection, provider_id: UUID) -> Actor:
    """The provider's own account: who changes a provider's settings and calendars."""
    user_id = await conn.scalar(
        select(ProviderProfile.user_id).where(ProviderProfile.id == provider_id)
    )
    return Actor(user_id, "provider")


async def record(
    conn: AsyncConnection,
    actor: Actor,
    action: str,
    *,
    now: datetime,
    booking_id: UUID | None = None,
    account_id: UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry inside the caller's transaction."""
    await conn.execute(
        insert(AuditEntry).values(
            at=now,
            actor_id=actor.id,
            actor_role=actor.role,
            action=action,
            booking_id=booking_id,
            account_id=account_id,
            detail=json.dumps(detail or {}, sort_keys=True, default=str),
            request_id=request_id_var.get(),
        )
    )


async def record_read(
    db: Database,
    actor: Actor,
    *,
    now: datetime,
    booking_id: UUID | None = None,
    account_id: UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an `admin.read` entry in a transaction of its own: a read has no change to join."""
    async with db.transaction() as conn:
        await record(
            conn,
            actor,
            "admin.read",
            now=now,
            booking_id=booking_id,
            account_id=account_id,
            detail=detail,
        )
