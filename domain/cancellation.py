"""Who gets their money back when a booking is cancelled, and until when."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

Canceller = Literal["customer", "provider", "admin"]

# A customer who cancels at least this long before the start is refunded in full.
FULL_REFUND_NOTICE = timedelta(hours=24)


def refund_deadline(start: datetime) -> datetime:
    """Until when a customer's cancellation of a booking starting at `start` is refunded."""
    return start - FULL_REFUND_NOTICE


def refund_on_cancel(
    *, cancelled_by: Canceller, confirmed: bool, refund_until: datetime, now: datetime
) -> bool:
    """Whether the payment of a cancelled booking goes back to the customer in full.

    Anything not yet confirmed is refunded (the customer never got the appointment), and so is
    anything the provider or an admin cancels. A customer cancelling a confirmed booking is
    refunded up to `refund_until`, and not later.
    """
    if not confirmed or cancelled_by != "customer":
        return True
    return now <= refund_until


def refund_deadline_after_move(
    *, refund_until: datetime, new_start: datetime, moved_by: Canceller, now: datetime
) -> datetime:
    """The refund deadline once the booking has moved to `new_start`.

    A customer who moves a booking inside the no-refund window keeps the deadline that has
    passed: moving it a week out must not buy a full refund. Outside the window the deadline
    follows the new start. A move by the provider or an admin never shortens it.
    """
    moved = refund_deadline(new_start)
    if moved_by == "customer":
        return refund_until if now > refund_until else moved
    return max(refund_until, moved)
