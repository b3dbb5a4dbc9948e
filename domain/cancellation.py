"""Who gets their money back when a booking is cancelled."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

Canceller = Literal["customer", "provider", "admin"]

# A customer who cancels at least this long before the start is refunded in full.
FULL_REFUND_NOTICE = timedelta(hours=24)


def refund_on_cancel(
    *, cancelled_by: Canceller, confirmed: bool, start: datetime, now: datetime
) -> bool:
    """Whether the payment of a cancelled booking goes back to the customer in full.

    Anything not yet confirmed is refunded (the customer never got the appointment), and so is
    anything the provider or an admin cancels. A customer cancelling a confirmed booking is
    refunded with at least FULL_REFUND_NOTICE to go, and not later.
    """
    if not confirmed or cancelled_by != "customer":
        return True
    return start - now >= FULL_REFUND_NOTICE
