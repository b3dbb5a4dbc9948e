"""The cap on one customer's open unpaid holds, checked inside the hold's own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import cast
from uuid import UUID

from sqlalchemy import Table, Uuid, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import Appointment, User
from db.types import UTCDateTime
from domain.booking_state import HOLD_STATUSES, BookingStatus

_appointments = cast(Table, Appointment.__table__)
_users = cast(Table, User.__table__)

# The customer's row lock makes one customer's holds take turns on PostgreSQL (at different
# providers too), so two at once cannot both pass the cap; NO KEY leaves FK checks unblocked.
_LOCK_CUSTOMER = (
    select(_users.c.id)
    .where(_users.c.id == bindparam("customer_id", type_=Uuid))
    .with_for_update(key_share=True)
)
# Unpaid: waiting for payment, or free and waiting for approval; a paid booking waiting for
# the provider's approval is not counted.
_OPEN_UNPAID_HOLDS = (
    select(func.count())
    .select_from(_appointments)
    .where(
        _appointments.c.customer_id == bindparam("customer_id", type_=Uuid),
        _appointments.c.status.in_(HOLD_STATUSES),
        or_(
            _appointments.c.status == BookingStatus.AWAITING_PAYMENT,
            _appointments.c.price_amount == 0,
        ),
        or_(
            _appointments.c.hold_expires_at.is_(None),
            _appointments.c.hold_expires_at > bindparam("now", type_=UTCDateTime),
        ),
    )
)


class TooManyHolds(Exception):
    """The customer already has as many unpaid holds open as one may (MAX_OPEN_HOLDS)."""

    def __init__(self, cap: int) -> None:
        super().__init__(
            f"you already have {cap} unpaid bookings on hold, the most one may have at once; "
            "pay for or cancel one, or let it expire, before booking another"
        )


async def check_open_holds(
    connection: AsyncConnection, customer_id: UUID, cap: int, *, now: datetime
) -> None:
    """Raise TooManyHolds if the customer already has `cap` open unpaid holds. On SQLite the
    hold's BEGIN IMMEDIATE already runs every hold one at a time."""
    customer = {"customer_id": customer_id, "now": now}
    await connection.execute(_LOCK_CUSTOMER, customer)
    if (await connection.scalar(_OPEN_UNPAID_HOLDS, customer) or 0) >= cap:
        raise TooManyHolds(cap)
