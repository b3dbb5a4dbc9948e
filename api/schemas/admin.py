from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from api.schemas.providers import FIRST_DAY, LAST_DAY


def _in_calendar(instant: datetime) -> datetime:
    if not FIRST_DAY <= instant.date() <= LAST_DAY:
        raise ValueError(f"a time from {FIRST_DAY} to {LAST_DAY}")
    return instant


# A time with its offset ("Z" or "+02:00", URL-encoded): a naive one is refused (422).
Instant = Annotated[AwareDatetime, AfterValidator(_in_calendar)]


class AuditEntryPublic(BaseModel):
    """Who did what to which booking or account, and when."""

    id: int
    at: datetime
    actor_id: UUID | None = Field(description="the account that acted; none for the system")
    actor_role: str = Field(examples=["customer", "provider", "admin", "system", "anonymous"])
    action: str = Field(examples=["booking.cancelled", "admin.read"])
    booking_id: UUID | None
    account_id: UUID | None
    detail: dict[str, Any] = Field(description="ids and outcomes only, never personal data")
    request_id: str | None = Field(description="the API request behind it (X-Request-ID)")
