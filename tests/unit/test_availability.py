"""Examples for domain.availability, including the daylight-saving matrix."""

from __future__ import annotations

import pickle
import random
from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.availability import (
    BookingRules,
    Busy,
    BusyTimes,
    Schedule,
    Slot,
    SlotNotBookable,
    SlotTaken,
    WorkingInterval,
    blocked_span,
    check_slot,
    free_slots,
    local_day_bounds,
)

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # shifts by 30 minutes
TOKYO = ZoneInfo("Asia/Tokyo")

MONDAY = date(2026, 3, 2)  # an ordinary Monday in both New York and London
NOW = datetime(2026, 1, 1, tzinfo=UTC)  # long before every example day
EVERY_DAY = range(7)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def hours(a: str, b: str) -> WorkingInterval:
    return WorkingInterval(time.fromisoformat(a), time.fromisoformat(b))


def make_rules(**changes: Any) -> BookingRules:
    values: dict[str, Any] = {
        "duration": minutes(60),
        "buffer_before": timedelta(0),
        "buffer_after": timedelta(0),
        "slot_interval": minutes(30),
        "min_notice": timedelta(0),
        "horizon": timedelta(days=400),
        "max_per_day": None,
    }
    values.update(changes)
    return BookingRules(**values)


def make_schedule(
    tz: ZoneInfo,
    intervals: Sequence[WorkingInterval],
    *,
    weekdays: Sequence[int] = EVERY_DAY,
    overrides: dict[date, Sequence[WorkingInterval]] | None = None,
    holidays: Sequence[date] = (),
) -> Schedule:
    return Schedule(
        timezone=tz,
        weekly={weekday: list(intervals) for weekday in weekdays},
        overrides=overrides or {},
        holidays=frozenset(holidays),
    )


def day_slots(
    schedule: Schedule,
    rules: BookingRules,
    day: date,
    *,
    busy: Sequence[Busy] = (),
    booked: Sequence[datetime] = (),
    now: datetime = NOW,
) -> list[Slot]:
    window_start, window_end = local_day_bounds(day, schedule.timezone)
    return free_slots(
        schedule,
        rules,
        busy=busy,
        booked_starts=booked,
        window_start=window_start,
        window_end=window_end,
        now=now,
    )


def walls(slots: Sequence[Slot], tz: ZoneInfo) -> list[str]:
    """Local wall-clock starts as HH:MM."""
    return [slot.start.astimezone(tz).strftime("%H:%M") for slot in slots]


def walls_with_zone(slots: Sequence[Slot], tz: ZoneInfo) -> list[str]:
    return [slot.start.astimezone(tz).strftime("%H:%M %Z") for slot in slots]


def utc_clock(slots: Sequence[Slot]) -> list[str]:
    return [slot.start.strftime("%H:%M") for slot in slots]


def local(day: date, at: str, tz: ZoneInfo, fold: int = 0) -> datetime:
    """An aware local datetime (for times that exist once)."""
    return datetime.combine(day, time.fromisoformat(at), tzinfo=tz).replace(fold=fold)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def check(
    schedule: Schedule,
    rules: BookingRules,
    start: datetime,
    *,
    busy: Sequence[Busy] = (),
    booked: Sequence[datetime] = (),
    now: datetime = NOW,
) -> Slot:
    return check_slot(schedule, rules, start=start, busy=busy, booked_starts=booked, now=now)


OFFICE = make_schedule(NEW_YORK, [hours("09:00", "12:00"), hours("13:00", "17:00")])


# --------------------------------------------------------------------------- plain days


def test_day_with_lunch_break() -> None:
    slots = day_slots(OFFICE, make_rules(), MONDAY)
    assert walls(slots, NEW_YORK) == [
        "09:00", "09:30", "10:00", "10:30", "11:00",
        "13:00", "13:30", "14:00", "14:30", "15:00", "15:30", "16:00",
    ]  # fmt: skip
    assert all(slot.start.tzinfo is UTC and slot.end.tzinfo is UTC for slot in slots)
    assert all(slot.end - slot.start == minutes(60) for slot in slots)
    assert slots[0].start == utc("2026-03-02T14:00")  # 09:00 EST


def test_grid_restarts_at_the_start_of_each_interval() -> None:
    schedule = make_schedule(NEW_YORK, [hours("09:00", "10:40"), hours("10:50", "12:00")])
    slots = day_slots(schedule, make_rules(duration=minutes(30)), MONDAY)
    assert walls(slots, NEW_YORK) == ["09:00", "09:30", "10:00", "10:50", "11:20"]


def test_intervals_may_be_given_in_any_order() -> None:
    shuffled = make_schedule(NEW_YORK, [hours("13:00", "17:00"), hours("09:00", "12:00")])
    assert shuffled == OFFICE
    assert day_slots(shuffled, make_rules(), MONDAY) == day_slots(OFFICE, make_rules(), MONDAY)
    assert [iv.start for iv in shuffled.weekly[0]] == [time(9), time(13)]


def test_hours_ending_at_midnight_run_to_the_end_of_the_day() -> None:
    schedule = make_schedule(NEW_YORK, [hours("22:00", "00:00")])
    slots = day_slots(schedule, make_rules(), MONDAY)
    assert walls(slots, NEW_YORK) == ["22:00", "22:30", "23:00"]
    assert slots[-1].end == local(MONDAY + timedelta(days=1), "00:00", NEW_YORK)


def test_whole_day_interval() -> None:
    schedule = make_schedule(LONDON, [hours("00:00", "00:00")])
    slots = day_slots(
        schedule, make_rules(duration=minutes(120), slot_interval=minutes(120)), MONDAY
    )
    assert utc_clock(slots) == [f"{h:02d}:00" for h in range(0, 24, 2)]


def test_buffers_and_busy_spans() -> None:
    rules = make_rules(
        duration=minutes(30),
        slot_interval=minutes(15),
        buffer_before=minutes(15),
        buffer_after=minutes(15),
    )
    schedule = make_schedule(NEW_YORK, [hours("09:00", "13:00")])
    existing = Busy(local(MONDAY, "10:00", NEW_YORK), local(MONDAY, "11:00", NEW_YORK))
    slots = day_slots(schedule, rules, MONDAY, busy=[existing])
    assert walls(slots, NEW_YORK) == [
        # 09:15 is blocked 09:00-10:00 and touches the busy span: allowed (half-open).
        "09:00", "09:15",
        # 11:15 is blocked 11:00-12:00; 11:00 would be blocked from 10:45.
        "11:15", "11:30", "11:45", "12:00", "12:15", "12:30",
    ]  # fmt: skip


def test_buffers_may_extend_outside_working_hours_but_not_into_busy_time() -> None:
    schedule = make_schedule(NEW_YORK, [hours("09:00", "10:00")])
    rules = make_rules(buffer_before=minutes(30), buffer_after=minutes(30))
    assert walls(day_slots(schedule, rules, MONDAY), NEW_YORK) == ["09:00"]
    early_meeting = Busy(local(MONDAY, "08:00", NEW_YORK), local(MONDAY, "08:45", NEW_YORK))
    assert day_slots(schedule, rules, MONDAY, busy=[early_meeting]) == []
    touching = Busy(local(MONDAY, "08:00", NEW_YORK), local(MONDAY, "08:30", NEW_YORK))
    assert walls(day_slots(schedule, rules, MONDAY, busy=[touching]), NEW_YORK) == ["09:00"]


def test_overlapping_and_empty_busy_spans() -> None:
    schedule = make_schedule(NEW_YORK, [hours("09:00", "13:00")])
    busy = [
        Busy(local(MONDAY, "09:30", NEW_YORK), local(MONDAY, "10:30", NEW_YORK)),
        Busy(local(MONDAY, "09:00", NEW_YORK), local(MONDAY, "09:45", NEW_YORK)),  # overlaps
        Busy(local(MONDAY, "10:30", NEW_YORK), local(MONDAY, "11:00", NEW_YORK)),  # touches
        Busy(local(MONDAY, "12:00", NEW_YORK), local(MONDAY, "12:00", NEW_YORK)),  # empty
    ]
    slots = day_slots(schedule, make_rules(), MONDAY, busy=busy)
    assert walls(slots, NEW_YORK) == ["11:00", "11:30", "12:00"]
    # The empty span at 12:00 blocks nothing, for check_slot as for free_slots.
    assert check(schedule, make_rules(), local(MONDAY, "11:30", NEW_YORK), busy=busy)


def test_min_notice() -> None:
    rules = make_rules(min_notice=timedelta(hours=2))

    def first_start(now: str) -> str:
        slots = day_slots(OFFICE, rules, MONDAY, now=local(MONDAY, now, NEW_YORK))
        return walls(slots, NEW_YORK)[0]

    assert first_start("09:00") == "11:00"  # exactly now + notice is allowed
    assert first_start("09:01") == "13:00"  # 11:30 would run past noon
    assert first_start("10:05") == "13:00"
    assert first_start("11:01") == "13:30"


def test_past_slots_are_never_offered() -> None:
    now = local(MONDAY, "14:10", NEW_YORK)
    slots = day_slots(OFFICE, make_rules(), MONDAY, now=now)
    assert walls(slots, NEW_YORK) == ["14:30", "15:00", "15:30", "16:00"]
    assert day_slots(OFFICE, make_rules(), MONDAY, now=local(MONDAY, "23:00", NEW_YORK)) == []


def test_horizon_is_inclusive() -> None:
    now = local(MONDAY, "09:00", NEW_YORK).astimezone(UTC)  # UTC: arithmetic in elapsed time
    rules = make_rules(horizon=timedelta(days=2))
    wednesday = MONDAY + timedelta(days=2)
    assert walls(day_slots(OFFICE, rules, wednesday, now=now), NEW_YORK) == ["09:00"]
    assert day_slots(OFFICE, rules, wednesday + timedelta(days=1), now=now) == []
    window = free_slots(
        OFFICE,
        rules,
        busy=[],
        booked_starts=[],
        window_start=now - timedelta(days=30),
        window_end=now + timedelta(days=30),
        now=now,
    )
    assert window[0].start == now
    assert window[-1].start == now + timedelta(days=2)
    assert len(window) == 12 + 12 + 1


def test_max_per_day_counts_bookings_per_provider_local_date() -> None:
    rules = make_rules(max_per_day=2)
    tuesday = MONDAY + timedelta(days=1)
    # 22:30 Monday in New York is already Tuesday in UTC; it counts for Monday.
    late_monday = utc("2026-03-03T03:30")
    assert late_monday.astimezone(NEW_YORK).date() == MONDAY
    booked = [local(MONDAY, "09:00", NEW_YORK), late_monday]
    assert day_slots(OFFICE, rules, MONDAY, booked=booked) == []
    assert len(day_slots(OFFICE, rules, tuesday, booked=booked)) == 12
    assert len(day_slots(OFFICE, rules, MONDAY, booked=booked[:1])) == 12
    assert len(day_slots(OFFICE, make_rules(max_per_day=3), MONDAY, booked=booked)) == 12


def test_override_replaces_weekly_hours_of_that_date_only() -> None:
    special = MONDAY + timedelta(days=7)
    schedule = make_schedule(
        NEW_YORK,
        [hours("09:00", "12:00"), hours("13:00", "17:00")],
        overrides={special: [hours("18:00", "20:00")]},
    )
    assert walls(day_slots(schedule, make_rules(), special), NEW_YORK) == [
        "18:00", "18:30", "19:00",
    ]  # fmt: skip
    assert day_slots(schedule, make_rules(), MONDAY) == day_slots(OFFICE, make_rules(), MONDAY)


def test_override_opens_a_day_that_is_closed_weekly() -> None:
    sunday = MONDAY - timedelta(days=1)
    schedule = make_schedule(
        NEW_YORK,
        [hours("09:00", "17:00")],
        weekdays=range(5),
        overrides={sunday: [hours("10:00", "11:00")]},
    )
    assert walls(day_slots(schedule, make_rules(), sunday), NEW_YORK) == ["10:00"]
    assert day_slots(schedule, make_rules(), sunday - timedelta(days=7)) == []


def test_override_with_no_hours_closes_the_day() -> None:
    schedule = make_schedule(NEW_YORK, [hours("09:00", "17:00")], overrides={MONDAY: []})
    assert day_slots(schedule, make_rules(), MONDAY) == []
    assert len(day_slots(schedule, make_rules(), MONDAY + timedelta(days=1))) == 15


def test_holiday_closes_the_day_whatever_else_says() -> None:
    schedule = make_schedule(
        NEW_YORK,
        [hours("09:00", "17:00")],
        overrides={MONDAY: [hours("10:00", "12:00")]},
        holidays=[MONDAY],
    )
    assert day_slots(schedule, make_rules(), MONDAY) == []
    assert len(day_slots(schedule, make_rules(), MONDAY + timedelta(days=1))) == 15


def test_window_is_half_open_and_may_be_given_in_any_zone() -> None:
    start = local(MONDAY, "10:00", NEW_YORK).astimezone(TOKYO)
    end = local(MONDAY, "11:00", NEW_YORK).astimezone(BERLIN)
    slots = free_slots(
        OFFICE, make_rules(), busy=[], booked_starts=[], window_start=start, window_end=end, now=NOW
    )
    assert walls(slots, NEW_YORK) == ["10:00", "10:30"]
    empty = free_slots(
        OFFICE, make_rules(), busy=[], booked_starts=[], window_start=end, window_end=end, now=NOW
    )
    assert empty == []


def test_busy_and_booked_starts_in_other_zones_are_the_same_instants() -> None:
    meeting = Busy(
        local(MONDAY, "10:00", NEW_YORK).astimezone(TOKYO),
        local(MONDAY, "11:00", NEW_YORK).astimezone(TOKYO),
    )
    assert meeting.start.tzinfo is UTC
    assert meeting.start == utc("2026-03-02T15:00")
    slots = day_slots(OFFICE, make_rules(), MONDAY, busy=[meeting])
    assert "09:30" not in walls(slots, NEW_YORK)
    assert "10:30" not in walls(slots, NEW_YORK)
    assert "11:00" in walls(slots, NEW_YORK)
    booked = [local(MONDAY, "23:30", NEW_YORK).astimezone(TOKYO)]
    assert day_slots(OFFICE, make_rules(max_per_day=1), MONDAY, booked=booked) == []


def test_blocked_span() -> None:
    rules = make_rules(duration=minutes(45), buffer_before=minutes(10), buffer_after=minutes(5))
    span = blocked_span(local(MONDAY, "09:00", NEW_YORK), rules)
    assert span == Busy(utc("2026-03-02T13:50"), utc("2026-03-02T14:50"))
    assert span.start.tzinfo is UTC and span.end.tzinfo is UTC


# --------------------------------------------------------------------------- check_slot


def test_check_slot_returns_the_slot() -> None:
    start = local(MONDAY, "14:00", NEW_YORK)
    slot = check(OFFICE, make_rules(), start)
    assert slot == Slot(utc("2026-03-02T19:00"), utc("2026-03-02T20:00"))
    assert slot.start.tzinfo is UTC
    assert check(OFFICE, make_rules(), start.astimezone(TOKYO)) == slot


def rejection(
    schedule: Schedule,
    rules: BookingRules,
    start: datetime,
    *,
    busy: Sequence[Busy] = (),
    booked: Sequence[datetime] = (),
    now: datetime = NOW,
) -> SlotNotBookable:
    with pytest.raises(SlotNotBookable) as caught:
        check(schedule, rules, start, busy=busy, booked=booked, now=now)
    return caught.value


def test_check_slot_outside_working_hours() -> None:
    early = rejection(OFFICE, make_rules(), local(MONDAY, "08:00", NEW_YORK))
    assert early.code == "outside_working_hours"
    assert "08:00" in early.detail and "outside working hours" in early.detail
    assert "09:00-12:00, 13:00-17:00" in early.detail

    lunch = rejection(OFFICE, make_rules(), local(MONDAY, "12:00", NEW_YORK))
    assert lunch.code == "outside_working_hours"

    too_long = rejection(OFFICE, make_rules(), local(MONDAY, "16:30", NEW_YORK))
    assert too_long.code == "outside_working_hours"
    assert "would end at 17:30" in too_long.detail and "end at 17:00" in too_long.detail

    sunday_closed = make_schedule(NEW_YORK, [hours("09:00", "17:00")], weekdays=range(6))
    sunday = rejection(sunday_closed, make_rules(), local(date(2026, 3, 1), "10:00", NEW_YORK))
    assert sunday.code == "outside_working_hours"
    assert "does not work on Sundays" in sunday.detail

    holiday = make_schedule(NEW_YORK, [hours("09:00", "17:00")], holidays=[MONDAY])
    on_holiday = rejection(holiday, make_rules(), local(MONDAY, "10:00", NEW_YORK))
    assert on_holiday.code == "outside_working_hours"
    assert "2026-03-02 is a holiday" in on_holiday.detail

    closed = make_schedule(NEW_YORK, [hours("09:00", "17:00")], overrides={MONDAY: []})
    on_closed = rejection(closed, make_rules(), local(MONDAY, "10:00", NEW_YORK))
    assert on_closed.code == "outside_working_hours"
    assert "closed on 2026-03-02" in on_closed.detail


def test_check_slot_off_grid() -> None:
    error = rejection(OFFICE, make_rules(), local(MONDAY, "14:10", NEW_YORK))
    assert error.code == "off_grid"
    assert error.detail.startswith(
        "14:10 is not on the 30-minute grid; nearest starts are 14:00 and 14:30"
    )
    # Near the end of the hours only the earlier start fits.
    error = rejection(OFFICE, make_rules(duration=minutes(45)), local(MONDAY, "16:10", NEW_YORK))
    assert error.code == "off_grid"
    assert "the nearest start is 16:00" in error.detail
    # The grid counts from the interval's start, not from the hour.
    restart = make_schedule(NEW_YORK, [hours("09:00", "10:40"), hours("10:50", "12:00")])
    assert check(restart, make_rules(duration=minutes(30)), local(MONDAY, "10:50", NEW_YORK))
    error = rejection(restart, make_rules(duration=minutes(30)), local(MONDAY, "11:00", NEW_YORK))
    assert error.code == "off_grid"
    assert "nearest starts are 10:50 and 11:20" in error.detail


def test_check_slot_too_soon() -> None:
    now = local(MONDAY, "10:05", NEW_YORK)
    rules = make_rules(min_notice=timedelta(hours=2))
    soon = rejection(OFFICE, rules, local(MONDAY, "11:00", NEW_YORK), now=now)
    assert soon.code == "too_soon"
    assert "2 hours notice" in soon.detail and "2026-03-02 12:05 EST" in soon.detail
    past = rejection(OFFICE, rules, local(MONDAY, "09:00", NEW_YORK), now=now)
    assert past.code == "too_soon"
    assert "in the past" in past.detail
    assert check(OFFICE, rules, local(MONDAY, "13:00", NEW_YORK), now=now)


def test_check_slot_beyond_horizon() -> None:
    now = local(MONDAY, "09:00", NEW_YORK).astimezone(UTC)
    rules = make_rules(horizon=timedelta(days=2))
    assert check(OFFICE, rules, now + timedelta(days=2), now=now)
    error = rejection(OFFICE, rules, local(MONDAY + timedelta(days=2), "09:30", NEW_YORK), now=now)
    assert error.code == "beyond_horizon"
    assert "2 days" in error.detail and "2026-03-04 09:00 EST" in error.detail


def test_check_slot_daily_limit_reached() -> None:
    booked = [local(MONDAY, "09:00", NEW_YORK)]
    error = rejection(
        OFFICE, make_rules(max_per_day=1), local(MONDAY, "15:00", NEW_YORK), booked=booked
    )
    assert error.code == "daily_limit_reached"
    assert "2026-03-02 already has 1 booking" in error.detail and "(1)" in error.detail
    other_day = local(MONDAY + timedelta(days=1), "15:00", NEW_YORK)
    assert check(OFFICE, make_rules(max_per_day=1), other_day, booked=booked)


def test_check_slot_taken() -> None:
    rules = make_rules(buffer_after=minutes(15))
    busy = [Busy(local(MONDAY, "15:10", NEW_YORK), local(MONDAY, "16:00", NEW_YORK))]
    with pytest.raises(SlotTaken) as caught:
        check(OFFICE, rules, local(MONDAY, "14:00", NEW_YORK), busy=busy)
    assert caught.value.code == "slot_unavailable"
    assert "14:00" in caught.value.detail and "overlaps" in caught.value.detail
    # Without the buffer 14:00-15:00 ends before the busy span.
    assert check(OFFICE, make_rules(), local(MONDAY, "14:00", NEW_YORK), busy=busy)
    touching = [Busy(local(MONDAY, "15:15", NEW_YORK), local(MONDAY, "16:00", NEW_YORK))]
    assert check(OFFICE, rules, local(MONDAY, "14:00", NEW_YORK), busy=touching)


def test_check_slot_reports_the_first_broken_rule_in_documented_order() -> None:
    now = local(MONDAY, "12:00", NEW_YORK)
    booked = [local(MONDAY, "09:00", NEW_YORK)]
    busy = [Busy(local(MONDAY, "00:00", NEW_YORK), local(MONDAY, "23:00", NEW_YORK))]
    rules = make_rules(max_per_day=1, horizon=timedelta(hours=1))

    def code(start: datetime) -> str:
        return rejection(OFFICE, rules, start, busy=busy, booked=booked, now=now).code

    assert code(local(MONDAY, "08:00", NEW_YORK)) == "outside_working_hours"  # also past
    assert code(local(MONDAY, "09:10", NEW_YORK)) == "off_grid"  # also past
    assert code(local(MONDAY, "10:00", NEW_YORK)) == "too_soon"
    assert code(local(MONDAY, "15:00", NEW_YORK)) == "beyond_horizon"
    assert code(local(MONDAY, "12:00", NEW_YORK)) == "outside_working_hours"
    assert code(local(MONDAY, "13:00", NEW_YORK)) == "daily_limit_reached"
    with pytest.raises(SlotTaken):
        check(OFFICE, make_rules(horizon=timedelta(hours=1)), local(MONDAY, "13:00", NEW_YORK),
              busy=busy, booked=booked, now=now)  # fmt: skip


def test_check_slot_agrees_with_free_slots_over_a_week() -> None:
    now = local(MONDAY, "10:20", NEW_YORK)
    rules = make_rules(
        duration=minutes(45),
        slot_interval=minutes(15),
        buffer_before=minutes(5),
        buffer_after=minutes(10),
        min_notice=timedelta(hours=1),
        horizon=timedelta(days=5),
        max_per_day=3,
    )
    schedule = make_schedule(
        NEW_YORK,
        [hours("09:00", "12:00"), hours("13:00", "17:00")],
        overrides={MONDAY + timedelta(days=2): [hours("07:00", "09:00")]},
        holidays=[MONDAY + timedelta(days=3)],
    )
    busy = [
        Busy(local(MONDAY, "13:30", NEW_YORK), local(MONDAY, "14:00", NEW_YORK)),
        Busy(local(MONDAY + timedelta(days=1), "09:00", NEW_YORK),
             local(MONDAY + timedelta(days=1), "11:00", NEW_YORK)),
    ]  # fmt: skip
    booked = [local(MONDAY + timedelta(days=4), h, NEW_YORK) for h in ("09:00", "10:00", "11:00")]
    # UTC, so that `+` is elapsed time: the week includes the spring-forward Sunday.
    window_start = local(MONDAY, "00:00", NEW_YORK).astimezone(UTC)
    window_end = window_start + timedelta(days=7)
    offered = free_slots(
        schedule,
        rules,
        busy=busy,
        booked_starts=booked,
        window_start=window_start,
        window_end=window_end,
        now=now,
    )
    assert offered
    offered_starts = {slot.start for slot in offered}
    instant = window_start
    while instant < window_end:
        try:
            slot = check(schedule, rules, instant, busy=busy, booked=booked, now=now)
        except (SlotNotBookable, SlotTaken):
            assert instant not in offered_starts
        else:
            assert instant in offered_starts
            assert slot.end == instant + rules.duration
        instant += minutes(5)


# --------------------------------------------------------------------------- validation


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2026, 3, 2, 9, 0)  # deliberately naive
    aware = local(MONDAY, "09:00", NEW_YORK)
    rules = make_rules()

    def slots(**changes: Any) -> list[Slot]:
        kwargs: dict[str, Any] = {
            "busy": [],
            "booked_starts": [],
            "window_start": aware,
            "window_end": aware + timedelta(days=1),
            "now": NOW,
        }
        kwargs.update(changes)
        return free_slots(OFFICE, rules, **kwargs)

    for field in ("window_start", "window_end", "now"):
        with pytest.raises(ValueError, match="naive"):
            slots(**{field: naive})
    with pytest.raises(ValueError, match="naive"):
        slots(booked_starts=[naive])
    with pytest.raises(ValueError, match="naive"):
        check(OFFICE, rules, naive)
    with pytest.raises(ValueError, match="naive"):
        check(OFFICE, rules, aware, now=naive)
    with pytest.raises(ValueError, match="naive"):
        check(OFFICE, rules, aware, booked=[naive])
    with pytest.raises(ValueError, match="naive"):
        Busy(naive, aware)
    with pytest.raises(ValueError, match="naive"):
        BusyTimes.from_pairs([(aware, naive)])
    with pytest.raises(ValueError, match="naive"):
        BusyTimes.from_sorted([aware], [naive])
    with pytest.raises(ValueError, match="naive"):
        BusyTimes.from_sorted([naive], [naive + minutes(5)])
    with pytest.raises(ValueError, match="naive"):
        blocked_span(naive, rules)


def test_busy_times_in_a_repeated_hour_are_ordered_by_instant_not_wall_clock() -> None:
    """Found by the property test: in London's repeated hour, 01:00 GMT comes after 01:14 BST
    though its wall clock is earlier. Spans read in the zone must index like the same spans in
    UTC (a span ending 01:00 GMT still covers 01:15 BST), not by their wall clocks."""
    london = LONDON
    starts = [datetime(2026, 10, 24, 22, 6, tzinfo=UTC), datetime(2026, 10, 25, 0, 14, tzinfo=UTC)]
    ends = [datetime(2026, 10, 25, 1, 0, tzinfo=UTC), datetime(2026, 10, 25, 0, 15, tzinfo=UTC)]
    in_london = BusyTimes.from_sorted(
        [s.astimezone(london) for s in starts], [e.astimezone(london) for e in ends]
    )
    in_utc = BusyTimes.from_sorted(starts, ends)
    assert in_utc.latest_end == [ends[0], ends[0]]
    assert (in_london.starts, in_london.latest_end) == (in_utc.starts, in_utc.latest_end)
    assert all(t.tzinfo is UTC for t in in_london.starts + in_london.latest_end)


def test_inverted_spans_and_windows_are_rejected() -> None:
    start = local(MONDAY, "09:00", NEW_YORK)
    with pytest.raises(ValueError, match="before it starts"):
        Busy(start, start - minutes(1))
    with pytest.raises(ValueError, match="before it starts"):
        BusyTimes.from_pairs([(start.astimezone(UTC), start.astimezone(UTC) - minutes(1))])
    with pytest.raises(ValueError, match="before it starts"):
        BusyTimes.from_sorted([start], [start - minutes(1)])
    with pytest.raises(ValueError, match="1 busy starts but 2 ends"):
        BusyTimes.from_sorted([start], [start, start])
    with pytest.raises(ValueError, match="before window_start"):
        free_slots(
            OFFICE,
            make_rules(),
            busy=[],
            booked_starts=[],
            window_start=start,
            window_end=start - minutes(1),
            now=NOW,
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duration": timedelta(0)}, "duration must be positive"),
        ({"duration": minutes(-30)}, "duration must be positive"),
        ({"duration": 30}, "duration must be a datetime.timedelta"),
        ({"buffer_before": minutes(-5)}, "buffer_before must not be negative"),
        ({"buffer_after": minutes(-5)}, "buffer_after must not be negative"),
        ({"slot_interval": timedelta(0)}, "slot_interval must be positive"),
        ({"min_notice": minutes(-1)}, "min_notice must not be negative"),
        ({"horizon": timedelta(0)}, "horizon must be positive"),
        ({"max_per_day": 0}, "max_per_day must be at least 1"),
        ({"max_per_day": -2}, "max_per_day must be at least 1"),
        ({"max_per_day": True}, "max_per_day must be an int or None"),
        ({"max_per_day": 2.0}, "max_per_day must be an int or None"),
    ],
)
def test_bad_rules_are_rejected(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_rules(**changes)


def test_zero_buffers_notice_and_no_limit_are_valid() -> None:
    rules = make_rules(max_per_day=None)
    assert rules.buffer_before == rules.buffer_after == rules.min_notice == timedelta(0)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (time(10), time(9), "must start before it ends"),
        (time(10), time(10), "must start before it ends"),
        (time(10, tzinfo=UTC), time(11), "naive"),
        (time(10), time(11, tzinfo=UTC), "naive"),
        ("10:00", time(11), "must be a datetime.time"),
    ],
)
def test_bad_working_intervals_are_rejected(start: Any, end: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingInterval(start, end)


def test_midnight_end_intervals_are_valid() -> None:
    assert WorkingInterval(time(22), time(0)).end == time(0)
    assert WorkingInterval(time(0), time(0)).start == time(0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weekly": {0: [hours("09:00", "12:00"), hours("11:00", "13:00")]}}, "overlap"),
        ({"weekly": {0: [hours("09:00", "12:00"), hours("09:00", "12:00")]}}, "overlap"),
        ({"weekly": {0: [hours("20:00", "00:00"), hours("22:00", "23:00")]}}, "overlap"),
        ({"overrides": {MONDAY: [hours("09:00", "12:00"), hours("08:00", "10:00")]}}, "overlap"),
        ({"weekly": {7: [hours("09:00", "12:00")]}}, "weekday 0..6"),
        ({"weekly": {0: [(time(9), time(10))]}}, "WorkingInterval"),
        ({"overrides": {datetime(2026, 3, 2, tzinfo=UTC): []}}, "not a datetime"),
        ({"holidays": frozenset({"2026-03-02"})}, "datetime.date"),
        ({"timezone": "America/New_York"}, "ZoneInfo"),
    ],
)
def test_bad_schedules_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {
        "timezone": NEW_YORK,
        "weekly": {},
        "overrides": {},
        "holidays": frozenset(),
    }
    values.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Schedule(**values)


def test_touching_intervals_are_not_overlapping_but_a_slot_cannot_straddle_them() -> None:
    schedule = make_schedule(NEW_YORK, [hours("09:00", "10:30"), hours("10:30", "12:00")])
    assert walls(day_slots(schedule, make_rules(), MONDAY), NEW_YORK) == [
        "09:00", "09:30", "10:30", "11:00",
    ]  # fmt: skip
    error = rejection(schedule, make_rules(), local(MONDAY, "10:00", NEW_YORK))
    assert error.code == "outside_working_hours"


def test_schedule_is_a_read_only_snapshot_of_its_input() -> None:
    weekly = {0: [hours("09:00", "10:00")]}
    schedule = Schedule(NEW_YORK, weekly, {}, frozenset())
    weekly[0].append(hours("09:30", "11:00"))  # would overlap; must not leak in
    assert schedule.weekly[0] == (hours("09:00", "10:00"),)
    with pytest.raises(TypeError):
        schedule.weekly[1] = ()  # type: ignore[index]


def test_exceptions_carry_code_and_detail_and_survive_pickling() -> None:
    error = SlotNotBookable("off_grid", "14:10 is not on the 30-minute grid")
    assert (error.code, error.detail) == ("off_grid", "14:10 is not on the 30-minute grid")
    assert "14:10 is not on the 30-minute grid" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.detail) == (error.code, error.detail)

    taken = SlotTaken()  # db.holds raises it without arguments
    assert taken.code == "slot_unavailable"
    assert "overlaps" in taken.detail
    explained = pickle.loads(pickle.dumps(SlotTaken("14:00 is taken")))
    assert (explained.code, explained.detail) == ("slot_unavailable", "14:00 is taken")
    assert not isinstance(taken, SlotNotBookable)


# --------------------------------------------------------------------------- DST matrix

# (zone, transition date, offsets before and after, the change)
TRANSITIONS = [
    (NEW_YORK, date(2026, 3, 8), timedelta(hours=-5), timedelta(hours=-4)),
    (NEW_YORK, date(2026, 11, 1), timedelta(hours=-4), timedelta(hours=-5)),
    (LONDON, date(2026, 3, 29), timedelta(hours=0), timedelta(hours=1)),
    (LONDON, date(2026, 10, 25), timedelta(hours=1), timedelta(hours=0)),
]
WORKING_HOURS = [("09:00", "17:00"), ("14:00", "20:00")]


@pytest.mark.parametrize(("tz", "change_day", "offset_before", "offset_after"), TRANSITIONS)
@pytest.mark.parametrize(("opens", "closes"), WORKING_HOURS)
def test_dst_change_keeps_local_hours_and_shifts_utc_by_one_hour(
    tz: ZoneInfo,
    change_day: date,
    offset_before: timedelta,
    offset_after: timedelta,
    opens: str,
    closes: str,
) -> None:
    schedule = make_schedule(tz, [hours(opens, closes)])
    rules = make_rules()
    week = timedelta(days=7)
    before = day_slots(schedule, rules, change_day - week)
    on_change = day_slots(schedule, rules, change_day)
    after = day_slots(schedule, rules, change_day + week)

    expected_walls = walls(before, tz)
    assert expected_walls[0] == opens and len(expected_walls) > 1
    assert walls(on_change, tz) == expected_walls
    assert walls(after, tz) == expected_walls
    assert all(s.start.astimezone(tz).utcoffset() == offset_before for s in before)
    assert all(s.start.astimezone(tz).utcoffset() == offset_after for s in on_change + after)
    # Same wall clock a week apart: the UTC instant moves by exactly the one-hour change.
    shift = offset_before - offset_after
    assert abs(shift) == timedelta(hours=1)
    for earlier, changed, later in zip(before, on_change, after, strict=True):
        assert changed.start - earlier.start == week + shift
        assert later.start - changed.start == week
        assert changed.end - changed.start == rules.duration


@pytest.mark.parametrize(
    ("tz", "change_day", "day_hours"),
    [
        (NEW_YORK, date(2026, 3, 8), 23),
        (NEW_YORK, date(2026, 11, 1), 25),
        (LONDON, date(2026, 3, 29), 23),
        (LONDON, date(2026, 10, 25), 25),
        (LORD_HOWE, date(2026, 4, 5), 24.5),
        (LORD_HOWE, date(2026, 10, 4), 23.5),
        (NEW_YORK, MONDAY, 24),
    ],
)
def test_local_day_bounds_on_dst_days(tz: ZoneInfo, change_day: date, day_hours: float) -> None:
    start, end = local_day_bounds(change_day, tz)
    assert start.tzinfo is UTC and end.tzinfo is UTC
    assert end - start == timedelta(hours=day_hours)
    assert start.astimezone(tz).replace(tzinfo=None) == datetime.combine(change_day, time(0))
    assert end == local_day_bounds(change_day + timedelta(days=1), tz)[0]


@pytest.mark.parametrize(
    ("tz", "change_day", "expected_utc", "expected_walls"),
    [
        (
            # 02:00-03:00 EST does not exist: the grid, counted in elapsed time, goes on at 03:00.
            NEW_YORK,
            date(2026, 3, 8),
            ["05:00", "05:30", "06:00", "06:30", "07:00"],
            ["00:00 EST", "00:30 EST", "01:00 EST", "01:30 EST", "03:00 EDT"],
        ),
        (
            # 01:00-02:00 happens twice: both occurrences are offered, as distinct instants.
            NEW_YORK,
            date(2026, 11, 1),
            ["04:00", "04:30", "05:00", "05:30", "06:00", "06:30", "07:00", "07:30", "08:00"],
            [
                "00:00 EDT", "00:30 EDT", "01:00 EDT", "01:30 EDT",
                "01:00 EST", "01:30 EST", "02:00 EST", "02:30 EST", "03:00 EST",
            ],
        ),
        (
            LONDON,
            date(2026, 3, 29),
            ["00:00", "00:30", "01:00", "01:30", "02:00"],
            ["00:00 GMT", "00:30 GMT", "02:00 BST", "02:30 BST", "03:00 BST"],
        ),
        (
            LONDON,
            date(2026, 10, 25),
            ["23:00", "23:30", "00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "03:00"],
            [
                "00:00 BST", "00:30 BST", "01:00 BST", "01:30 BST",
                "01:00 GMT", "01:30 GMT", "02:00 GMT", "02:30 GMT", "03:00 GMT",
            ],
        ),
    ],
)  # fmt: skip
def test_night_hours_on_dst_days(
    tz: ZoneInfo, change_day: date, expected_utc: list[str], expected_walls: list[str]
) -> None:
    schedule = make_schedule(tz, [hours("00:00", "04:00")])
    slots = day_slots(schedule, make_rules(), change_day)
    assert utc_clock(slots) == expected_utc
    assert walls_with_zone(slots, tz) == expected_walls
    assert len({slot.start for slot in slots}) == len(slots)
    assert all(slot.end - slot.start == minutes(60) for slot in slots)
    # Each offered instant is accepted by check_slot.
    for slot in slots:
        assert check(schedule, make_rules(), slot.start) == slot
    # The hours span 3 (spring) or 5 (autumn) elapsed hours.
    day_start, _ = local_day_bounds(change_day, tz)
    assert slots[-1].end - day_start in (timedelta(hours=3), timedelta(hours=5))


def test_boundary_in_the_spring_gap_moves_to_the_end_of_the_gap() -> None:
    spring = date(2026, 3, 8)
    schedule = make_schedule(NEW_YORK, [hours("02:30", "04:00")])
    slots = day_slots(schedule, make_rules(), spring)
    assert [s.start for s in slots] == [utc("2026-03-08T07:00")]  # 03:00 EDT
    assert walls_with_zone(slots, NEW_YORK) == ["03:00 EDT"]
    # A start expressed as the nonexistent 02:30 is the instant 07:30Z (fold=0 reading: 03:30
    # EDT): on the grid from 03:00 EDT, but the 60-minute appointment would end after 04:00.
    nonexistent = datetime(2026, 3, 8, 2, 30, tzinfo=NEW_YORK)
    error = rejection(schedule, make_rules(), nonexistent)
    assert error.code == "outside_working_hours"
    assert "would end at 04:30" in error.detail
    # Hours lying entirely inside the gap open nothing.
    in_gap = make_schedule(NEW_YORK, [hours("02:00", "02:45")])
    assert day_slots(in_gap, make_rules(duration=minutes(15)), spring) == []
    error = rejection(in_gap, make_rules(duration=minutes(15)), utc("2026-03-08T07:00"))
    assert "fall entirely in a clock change" in error.detail


def test_boundary_in_the_autumn_repeat_takes_the_first_occurrence() -> None:
    autumn = date(2026, 11, 1)
    schedule = make_schedule(NEW_YORK, [hours("01:30", "03:00")])
    slots = day_slots(schedule, make_rules(), autumn)
    # 01:30 EDT (05:30Z) to 03:00 EST (08:00Z) is two and a half elapsed hours.
    assert utc_clock(slots) == ["05:30", "06:00", "06:30", "07:00"]
    assert walls_with_zone(slots, NEW_YORK) == ["01:30 EDT", "01:00 EST", "01:30 EST", "02:00 EST"]
    ends_in_repeat = make_schedule(NEW_YORK, [hours("00:00", "01:30")])
    slots = day_slots(ends_in_repeat, make_rules(), autumn)
    assert walls_with_zone(slots, NEW_YORK) == ["00:00 EDT", "00:30 EDT"]
    assert slots[-1].end == utc("2026-11-01T05:30")  # the first 01:30


@pytest.mark.parametrize(
    ("start", "expected_end_wall"),
    [
        (utc("2026-03-08T06:00"), "04:00 EDT"),  # 01:00 EST + 2h: the wall clock shows 3 hours
        (utc("2026-11-01T04:30"), "01:30 EST"),  # 00:30 EDT + 2h: the wall clock shows 1 hour
    ],
)
def test_appointment_spanning_a_transition_keeps_its_real_duration(
    start: datetime, expected_end_wall: str
) -> None:
    schedule = make_schedule(NEW_YORK, [hours("00:00", "06:00")])
    rules = make_rules(duration=minutes(120))
    slot = check(schedule, rules, start)
    assert slot.end - slot.start == timedelta(hours=2)
    assert slot.end.astimezone(NEW_YORK).strftime("%H:%M %Z") == expected_end_wall
    offered = day_slots(schedule, rules, start.astimezone(NEW_YORK).date())
    assert slot in offered


def test_customer_in_a_third_zone_sees_the_same_instants() -> None:
    schedule = make_schedule(NEW_YORK, [hours("14:00", "20:00")])
    rules = make_rules()
    for day, tokyo_first in ((date(2026, 3, 6), "04:00"), (date(2026, 3, 9), "03:00")):
        slots = day_slots(schedule, rules, day)
        seen = [slot.start.astimezone(TOKYO) for slot in slots]
        assert seen == [slot.start for slot in slots]  # the same instants, whatever the zone
        assert seen[0].strftime("%Y-%m-%d %H:%M") == f"{day + timedelta(days=1)} {tokyo_first}"
        for instant in seen:  # the customer books what they saw, in their own zone
            booked = check(schedule, rules, instant)
            assert booked.start == instant and booked.start.tzinfo is UTC


@pytest.mark.parametrize(
    ("day", "berlin_wall"),
    [
        (date(2026, 3, 6), "20:00 CET"),  # both on standard time
        (date(2026, 3, 9), "19:00 CET"),  # New York on daylight time, Berlin not yet
        (date(2026, 3, 20), "19:00 CET"),
        (date(2026, 3, 27), "19:00 CET"),
        (date(2026, 3, 30), "20:00 CEST"),  # both on daylight time
    ],
)
def test_berlin_and_new_york_in_different_dst_states(day: date, berlin_wall: str) -> None:
    schedule = make_schedule(NEW_YORK, [hours("14:00", "20:00")])
    slots = day_slots(schedule, make_rules(), day)
    first = slots[0].start
    assert first.astimezone(NEW_YORK).strftime("%H:%M") == "14:00"
    assert first.astimezone(BERLIN).strftime("%H:%M %Z") == berlin_wall


# --------------------------------------------------------------------------- size


def _overlaps(spans_by_start: list[Busy], starts: list[datetime], longest: timedelta,
              lo: datetime, hi: datetime) -> bool:  # fmt: skip
    """Whether [lo, hi) overlaps a span; spans are sorted by start and no longer than `longest`."""
    first = bisect_left(starts, lo - longest)
    last = bisect_left(starts, hi)
    return any(
        span.start < hi and lo < span.end and span.start < span.end
        for span in spans_by_start[first:last]
    )


def test_ninety_days_with_1000_appointments_and_500_blocks() -> None:
    rng = random.Random(20260308)
    tz = NEW_YORK
    schedule = make_schedule(
        tz, [hours("08:00", "12:00"), hours("13:00", "18:00")], weekdays=range(6)
    )
    rules = make_rules(
        duration=minutes(30),
        slot_interval=minutes(15),
        buffer_before=minutes(5),
        buffer_after=minutes(10),
        min_notice=timedelta(hours=4),
        horizon=timedelta(days=90),
        max_per_day=14,
    )
    now = datetime(2026, 2, 20, 15, 7, tzinfo=UTC)
    first_day = now.astimezone(tz).date()
    appointments = []
    for _ in range(1000):
        day = first_day + timedelta(days=rng.randrange(91))
        start = local(day, f"{rng.randrange(8, 18):02d}:{rng.choice((0, 15, 30, 45)):02d}", tz)
        appointments.append(blocked_span(start, rules))
    blocks = []
    for _ in range(500):
        start = now + minutes(rng.randrange(91 * 24 * 60))
        blocks.append(Busy(start, start + minutes(rng.randrange(0, 180))))
    busy = appointments + blocks
    booked = [span.start + rules.buffer_before for span in appointments]

    slots = free_slots(
        schedule,
        rules,
        busy=busy,
        booked_starts=booked,
        window_start=now - timedelta(days=1),
        window_end=now + timedelta(days=100),
        now=now,
    )

    assert 200 < len(slots) < 20000
    by_start = sorted(busy, key=lambda span: span.start)
    starts = [span.start for span in by_start]
    longest = max(span.end - span.start for span in busy)
    for slot in slots:
        span = blocked_span(slot.start, rules)
        assert not _overlaps(by_start, starts, longest, span.start, span.end)
        assert now + rules.min_notice <= slot.start <= now + rules.horizon
    assert [s.start for s in slots] == sorted({s.start for s in slots})
    per_day: dict[date, int] = {}
    for start in booked:
        per_day[start.astimezone(tz).date()] = per_day.get(start.astimezone(tz).date(), 0) + 1
    full_days = {day for day, count in per_day.items() if count >= 14}
    assert full_days  # the limit matters in this input
    assert not any(slot.start.astimezone(tz).date() in full_days for slot in slots)
    # Complete as well as safe: every grid start that is free and allowed is offered.
    offered = {slot.start for slot in slots}
    for offset in range(91):
        day = first_day + timedelta(days=offset)
        if day.weekday() == 6 or day in full_days:
            continue
        for opens, closes in (("08:00", "12:00"), ("13:00", "18:00")):
            candidate = local(day, opens, tz).astimezone(UTC)
            end = local(day, closes, tz).astimezone(UTC)
            while candidate + rules.duration <= end:
                span = blocked_span(candidate, rules)
                allowed = now + rules.min_notice <= candidate <= now + rules.horizon
                free = not _overlaps(by_start, starts, longest, span.start, span.end)
                assert (candidate in offered) == (allowed and free)
                candidate += rules.slot_interval
