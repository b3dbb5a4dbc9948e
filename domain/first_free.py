"""The first free slot in a window, found a local day at a time: a provider free tomorrow costs
one day's sweep, not the whole window's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from domain.availability import (
    BookingRules,
    BusyTimes,
    Schedule,
    Slot,
    free_slots,
    local_day_bounds,
)

_ONE_DAY = timedelta(days=1)


def first_free_slot(
    schedule: Schedule,
    rules: BookingRules,
    *,
    busy: BusyTimes,
    booked_starts: Sequence[datetime],
    window_start: datetime,
    window_end: datetime,
    now: datetime,
) -> Slot | None:
    """free_slots(...)[0] for the same arguments, or None, sweeping one local day at a time.

    Exact because a slot's grid and its day's cap do not depend on the window it is asked in."""
    zone = schedule.timezone
    start = window_start
    while start < window_end:
        _, midnight = local_day_bounds(start.astimezone(zone).date(), zone)
        end = min(midnight if midnight > start else start + _ONE_DAY, window_end)
        slots = free_slots(
            schedule,
            rules,
            busy=busy,
            booked_starts=booked_starts,
            window_start=start,
            window_end=end,
            now=now,
        )
        if slots:
            return slots[0]
        start = end
    return None
