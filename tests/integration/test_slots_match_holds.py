"""What the availability read offers is exactly what the hold accepts, through the database."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db import bookings
from db.engine import Database
from db.schedule import open_slots
from domain.availability import SlotNotBookable, SlotTaken
from tests.factories import hold_request, make_customer, make_provider

ZONES = ["America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe"]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zone=st.sampled_from(ZONES),
    duration=st.sampled_from([15, 30, 45, 60, 90]),
    interval=st.sampled_from([15, 30, 60]),
    buffer_before=st.sampled_from([0, 5, 15]),
    buffer_after=st.sampled_from([0, 10, 30]),
    max_per_day=st.sampled_from([None, 1, 3]),
    picks=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=4),
    offset_minutes=st.integers(min_value=1, max_value=14),
)
async def test_booking_any_offered_slot_succeeds_and_removes_exactly_what_it_overlaps(
    db: Database,
    zone: str,
    duration: int,
    interval: int,
    buffer_before: int,
    buffer_after: int,
    max_per_day: int | None,
    picks: list[int],
    offset_minutes: int,
) -> None:
    provider = await make_provider(
        db,
        timezone=zone,
        duration_minutes=duration,
        slot_interval_minutes=interval,
        buffer_before_minutes=buffer_before,
        buffer_after_minutes=buffer_after,
        max_per_day=max_per_day,
        hours=((time(8), time(12)), (time(13), time(18))),
    )
    customer = await make_customer(db)
    now = datetime.now(UTC)
    window = (now + timedelta(days=3), now + timedelta(days=6))
    offered = await open_slots(db, provider.provider_id, provider.service_id, *window, now)
    assert offered

    for pick in picks:
        if not offered:
            break
        chosen = offered[pick % len(offered)]
        hold = await bookings.hold_slot(db, hold_request(provider, customer, chosen.start), now=now)
        assert (hold.start, hold.end) == (chosen.start, chosen.end)

        after = await open_slots(db, provider.provider_id, provider.service_id, *window, now)
        gone = set(offered) - set(after or [])
        assert not set(after or []) - set(offered), "a hold never creates slots"
        span = (
            chosen.start - timedelta(minutes=buffer_before),
            chosen.end + timedelta(minutes=buffer_after),
        )
        for slot in offered:
            blocked = (
                slot.start - timedelta(minutes=buffer_before),
                slot.end + timedelta(minutes=buffer_after),
            )
            overlaps = blocked[0] < span[1] and span[0] < blocked[1]
            if overlaps:
                assert slot in gone, slot
            elif slot in gone:
                # Only the daily maximum may take away a slot that does not overlap.
                assert max_per_day is not None, slot
        offered = after or []

    # A start the read does not offer is refused by the hold.
    probe = (offered[0].start if offered else window[0]) + timedelta(minutes=offset_minutes)
    if probe not in {s.start for s in offered}:
        with pytest.raises((SlotNotBookable, SlotTaken)):
            await bookings.hold_slot(db, hold_request(provider, customer, probe), now=now)
