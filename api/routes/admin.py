"""What only an admin may see: the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import CurrentAdmin, DatabaseDep
from api.errors import APIError, DocumentedErrorRoute
from api.schemas.admin import AuditEntryPublic, Instant
from api.schemas.common import Page, errors
from db.audit import Actor, record_read
from db.audit_reads import AuditFilter, list_entries

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    route_class=DocumentedErrorRoute,
    responses=errors(401, 403, 422, 503),
)

MAX_OFFSET = 10_000_000  # as the other lists: far past any real one


@router.get(
    "/audit",
    responses={
        401: {"description": "not signed in"},
        403: {"description": "not an admin (admins_only)"},
    },
)
async def audit_log(
    admin: CurrentAdmin,
    db: DatabaseDep,
    actor_id: UUID | None = None,
    booking_id: UUID | None = None,
    account_id: UUID | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[Instant | None, Query(description="from this time on")] = None,
    until: Annotated[Instant | None, Query(description="before this time")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page[AuditEntryPublic]:
    """The audit log, newest first, filtered by actor, booking, account, action and time."""
    if since and until and until < since:
        raise APIError(422, "invalid_range", f"until ({until}) is before since ({since})")
    where = AuditFilter(actor_id, booking_id, account_id, action, since, until)
    entries, total = await list_entries(db, where, limit=limit, offset=offset)
    # Reading the log is itself an admin read; its entry comes after this answer's page.
    await record_read(
        db,
        Actor(admin.id, "admin"),
        now=datetime.now(UTC),
        booking_id=booking_id,
        account_id=account_id,
        detail={"read": "audit", "actor_id": actor_id},
    )
    return Page(data=[AuditEntryPublic(**e._asdict()) for e in entries], count=total)
