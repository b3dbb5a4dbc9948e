"""Property tests for domain.availability against an independent brute-force reference."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

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

# Dates on or next to each zone's 2026 clock changes (UTC has none; any dates do).
CHANGE_DATES = {
    "America/New_York": [date(2026, 3, 8), date(2026, 11, 1)],
    "Europe/London": [date(2026, 3, 29), date(2026, 10, 25)],
    "Europe/Berlin": [date(2026, 3, 29), date(2026, 10, 25)],
    "Australia/Lord_Howe": [date(2026, 4, 5), date(2026, 10, 4)],  # 30-minute shifts
    "UTC": [date(2026, 3, 8), date(2026, 10, 25)],
}
ZONES = sorted(CHANGE_DATES)
VIEWING_ZONES = [*ZONES, "Asia/Tokyo", "Asia/Kolkata"]

PROPERTY = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


# --------------------------------------------------------------------------- reference model


def ref_resolve(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """First occurrence of a local time; for a nonexistent one, the first instant after the gap.

    Independent of the module: it round-trips both folds, and walks a gap minute by minute.
    """
    naive = datetime.combine(day, wall)
    readings = [naive.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)]
    real = [r for r in readings if r.astimezone(tz).replace(tzinfo=None) == naive]
    if real:
        return min(real)
    instant = min(readings)
    while instant.astimezone(tz).replace(tzinfo=None) < naive:
        instant += minutes(1)
    return instant


def ref_hours(schedule: Schedule, day: date) -> Sequence[WorkingInterval]:
    if day in schedule.holidays:
        return ()
    if day in schedule.overrides:
        return schedule.overrides[day]
    return schedule.weekly.get(day.weekday(), ())


def ref_intervals(schedule: Schedule, day: date) -> list[tuple[datetime, datetime]]:
    tz = schedule.timezone
    result = []
    for interval in ref_hours(schedule, day):
        start = ref_resolve(day, interval.start, tz)
        if interval.end == time(0):
            end = ref_resolve(day + timedelta(days=1), time(0), tz)
        else:
            end = ref_resolve(day, interval.end, tz)
        if start < end:
            result.append((start, end))
    return result


def overlaps(lo: datetime, hi: datetime, busy: Sequence[Busy]) -> bool:
    return any(b.start < b.end and b.start < hi and lo < b.end for b in busy)


@dataclass(frozen=True)
class Scenario:
    schedule: Schedule
    rules: BookingRules
    busy: list[Busy]
    booked: list[datetime]
    window_start: datetime  # instants here are UTC, so the test's own arithmetic is elapsed time
    window_end: datetime
    now: datetime
    viewer: ZoneInfo  # the zone the inputs are handed over in: any zone must do

    def shown(self, instant: datetime) -> datetime:
        return instant.astimezone(self.viewer)

    @property
    def tz(self) -> ZoneInfo:
        return self.schedule.timezone

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def booked_per_day(self) -> Counter[date]:
        return Counter(self.local_date(b) for b in self.booked)

    def dates(self) -> list[date]:
        first = self.local_date(self.window_start) - timedelta(days=1)
        last = self.local_date(self.window_end) + timedelta(days=1)
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def free(self) -> list[Slot]:
        return free_slots(
            self.schedule,
            self.rules,
            busy=self.busy,
            booked_starts=[self.shown(b) for b in self.booked],
            window_start=self.shown(self.window_start),
            window_end=self.shown(self.window_end),
            now=self.shown(self.now),
        )

    def check(self, start: datetime) -> Slot:
        return check_slot(
            self.schedule,
            self.rules,
            start=self.shown(start),
            busy=self.busy,
            booked_starts=[self.shown(b) for b in self.booked],
            now=self.shown(self.now),
        )

    def grid(self) -> list[datetime]:
        """Every grid start of every working interval near the window, whatever the other rules."""
        starts = []
        for day in self.dates():
            for lo, hi in ref_intervals(self.schedule, day):
                candidate = lo
                while candidate + self.rules.duration <= hi:
                    starts.append(candidate)
                    candidate += self.rules.slot_interval
        return starts

    def reference(self) -> list[Slot]:
        r = self.rules
        per_day = self.booked_per_day()
        result = []
        for start in self.grid():
            span = blocked_span(start, r)
            if (
                self.window_start <= start < self.window_end
                and self.now + r.min_notice <= start <= self.now + r.horizon
                and (r.max_per_day is None or per_day[self.local_date(start)] < r.max_per_day)
                and not overlaps(span.start, span.end, self.busy)
            ):
                result.append(Slot(start, start + r.duration))
        return sorted(result, key=lambda slot: slot.start)


# --------------------------------------------------------------------------- strategies


def quarter(n: int) -> time:
    """The n-th quarter hour of a day; 96 is midnight at its end, written time(0)."""
    return time(0) if n == 96 else time(n // 4, n % 4 * 15)


@st.composite
def day_hours(draw: st.DrawFn, min_intervals: int = 0) -> list[WorkingInterval]:
    """0-3 intervals with breaks between them, given in any order; often in the small hours."""
    count = draw(st.integers(min_intervals, 3))
    at = draw(st.one_of(st.integers(0, 80), st.integers(0, 12)))
    intervals = []
    for _ in range(count):
        end = min(96, at + draw(st.one_of(st.integers(2, 40), st.integers(1, 6))))
        intervals.append(WorkingInterval(quarter(at), quarter(end)))
        at = end + draw(st.integers(1, 16))
        if at >= 96:
            break
    return list(draw(st.permutations(intervals)))


@st.composite
def hours_at_change(draw: st.DrawFn, changing: range) -> list[WorkingInterval]:
    """Hours with a boundary inside the local hour that is skipped or repeated (`changing`, in
    quarter hours), so it lands in a spring gap or an autumn repeat."""
    inside = draw(st.sampled_from(changing))
    if draw(st.booleans()):
        start, end = inside, min(96, inside + draw(st.integers(1, 24)))
    else:
        start, end = max(0, inside - draw(st.integers(1, 24))), inside
    intervals = [WorkingInterval(quarter(start), quarter(end))]
    if end < 90 and draw(st.booleans()):
        later = end + draw(st.integers(1, 4))
        intervals.append(WorkingInterval(quarter(later), quarter(min(96, later + 12))))
    return intervals


# The local quarter hours skipped (spring) or repeated (autumn) on each change date.
CHANGING = {
    ("America/New_York", date(2026, 3, 8)): range(8, 12),  # 02:00-03:00 skipped
    ("America/New_York", date(2026, 11, 1)): range(4, 8),  # 01:00-02:00 twice
    ("Europe/London", date(2026, 3, 29)): range(4, 8),
    ("Europe/London", date(2026, 10, 25)): range(4, 8),
    ("Europe/Berlin", date(2026, 3, 29)): range(8, 12),
    ("Europe/Berlin", date(2026, 10, 25)): range(8, 12),
    ("Australia/Lord_Howe", date(2026, 4, 5)): range(6, 8),  # 01:30-02:00 twice
    ("Australia/Lord_Howe", date(2026, 10, 4)): range(8, 10),  # 02:00-02:30 skipped
    ("UTC", date(2026, 3, 8)): range(8, 12),  # nothing happens: a control
    ("UTC", date(2026, 10, 25)): range(4, 8),
}

FIVE = minutes(5)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    zone = draw(st.sampled_from(ZONES))
    tz = ZoneInfo(zone)
    change = draw(st.sampled_from(CHANGE_DATES[zone]))
    first = change - timedelta(days=draw(st.integers(0, 2)))
    days = draw(st.integers(1, 4))
    nearby = [first + timedelta(days=i) for i in range(-1, days + 1)]
    # A few kinds of day shared by the weekdays; the last choice closes the weekday.
    kinds = draw(st.lists(day_hours(min_intervals=1), min_size=1, max_size=3))
    choices = draw(st.lists(st.integers(0, len(kinds)), min_size=7, max_size=7))
    overrides = draw(st.dictionaries(st.sampled_from(nearby), day_hours(), max_size=2))
    if draw(st.booleans()):
        overrides[change] = draw(hours_at_change(CHANGING[zone, change]))
    schedule = Schedule(
        timezone=tz,
        weekly={weekday: kinds[c] for weekday, c in enumerate(choices) if c < len(kinds)},
        overrides=overrides,
        holidays=frozenset(draw(st.lists(st.sampled_from(nearby), max_size=1))),
    )
    rules = BookingRules(
        duration=minutes(draw(st.sampled_from([15, 30, 45, 60, 90, 120]))),
        buffer_before=minutes(draw(st.sampled_from([0, 5, 15, 30]))),
        buffer_after=minutes(draw(st.sampled_from([0, 10, 15, 45]))),
        slot_interval=minutes(draw(st.sampled_from([10, 15, 20, 25, 30, 60]))),
        min_notice=minutes(draw(st.sampled_from([0, 30, 120, 24 * 60]))),
        horizon=minutes(draw(st.sampled_from([30 * 24 * 60, 3 * 24 * 60, 24 * 60, 6 * 60]))),
        max_per_day=draw(st.sampled_from([None, 1, 2, 3])),
    )
    midnight = ref_resolve(first, time(0), tz)
    window_start = midnight + minutes(draw(st.integers(-3 * 60, 12 * 60)))
    window_end = window_start + minutes(days * 24 * 60 - draw(st.integers(0, 18 * 60)))
    grid = Scenario(schedule, rules, [], [], window_start, window_end, window_start, tz).grid()
    grid = [start for start in grid if window_start <= start < window_end] or [window_start]
    nudge = minutes(draw(st.sampled_from([0, -1, 1, -5, 5])))

    # `now` is anywhere near the window, or puts a grid start exactly at (or next to) the
    # earliest or the latest allowed start.
    pick = draw(st.sampled_from(grid))
    now = draw(
        st.sampled_from(
            [
                window_start + minutes(draw(st.integers(-12 * 60, 12 * 60))),
                pick - rules.min_notice + nudge,
                pick - rules.horizon + nudge,
            ]
        )
    )
    # Busy spans anywhere near the window, and spans that end where a grid start's blocked
    # span begins or start where it ends (or 5 minutes either way).
    lo, count = window_start - timedelta(hours=3), (window_end - window_start) // FIVE + 72
    busy = [
        Busy(lo + FIVE * at, lo + FIVE * at + minutes(length))
        for at, length in draw(
            st.lists(st.tuples(st.integers(0, count), st.integers(0, 180)), max_size=10)
        )
    ]
    for start, before, length in draw(
        st.lists(st.tuples(st.sampled_from(grid), st.booleans(), st.integers(0, 60)), max_size=4)
    ):
        if before:
            edge = start - rules.buffer_before + nudge
            busy.append(Busy(edge - minutes(length), edge))
        else:
            edge = start + rules.duration + rules.buffer_after + nudge
            busy.append(Busy(edge, edge + minutes(length)))
    booked = [lo + FIVE * at for at in draw(st.lists(st.integers(0, count), max_size=6))]
    # Bookings next to a local midnight: they count for the provider's local date, not UTC's.
    booked += [
        ref_resolve(day, time(0), tz) + minutes(offset)
        for day, offset in draw(
            st.lists(
                st.tuples(st.sampled_from(nearby), st.sampled_from([-180, -1, 0, 1, 180])),
                max_size=3,
            )
        )
    ]
    return Scenario(
        schedule=schedule,
        rules=rules,
        busy=busy,
        booked=booked,
        window_start=window_start,
        window_end=window_end,
        now=now,
        viewer=ZoneInfo(draw(st.sampled_from(VIEWING_ZONES))),
    )


# --------------------------------------------------------------------------- properties


@PROPERTY
@given(scenarios())
def test_free_slots_match_the_brute_force_reference(scenario: Scenario) -> None:
    assert scenario.free() == scenario.reference()


@PROPERTY
@given(scenarios(), st.booleans())
def test_busy_times_from_pairs_give_the_same_slots_as_busy_spans(
    scenario: Scenario, in_utc: bool
) -> None:
    """The availability endpoint hands free_slots (start, end) pairs, not Busy values."""
    show = (lambda instant: instant) if in_utc else scenario.shown
    pairs = [(show(b.start), show(b.end)) for b in scenario.busy]
    slots = free_slots(
        scenario.schedule,
        scenario.rules,
        busy=BusyTimes.from_pairs(pairs),
        booked_starts=[scenario.shown(b) for b in scenario.booked],
        window_start=scenario.shown(scenario.window_start),
        window_end=scenario.shown(scenario.window_end),
        now=scenario.shown(scenario.now),
    )
    assert slots == scenario.reference()


@PROPERTY
@given(scenarios(), st.booleans(), st.booleans())
def test_busy_times_from_sorted_give_the_same_slots_as_busy_spans(
    scenario: Scenario, in_order: bool, in_utc: bool
) -> None:
    """The availability read hands free_slots parallel starts and ends, which it expects by
    start; in any other order they must give the same slots (the sorted path is only faster)."""
    show = (lambda instant: instant) if in_utc else scenario.shown
    spans = sorted(scenario.busy, key=lambda b: b.start) if in_order else scenario.busy
    slots = free_slots(
        scenario.schedule,
        scenario.rules,
        busy=BusyTimes.from_sorted([show(b.start) for b in spans], [show(b.end) for b in spans]),
        booked_starts=scenario.booked,
        window_start=scenario.window_start,
        window_end=scenario.window_end,
        now=scenario.now,
    )
    assert slots == scenario.reference()


@PROPERTY
@given(scenarios())
def test_no_slot_overlaps_a_busy_span(scenario: Scenario) -> None:
    for slot in scenario.free():
        span = blocked_span(slot.start, scenario.rules)
        assert span.start == slot.start - scenario.rules.buffer_before
        assert span.end == slot.end + scenario.rules.buffer_after
        assert not overlaps(span.start, span.end, scenario.busy)


@PROPERTY
@given(scenarios())
def test_slots_lie_inside_working_hours_of_their_local_date(scenario: Scenario) -> None:
    schedule = scenario.schedule
    for slot in scenario.free():
        day = scenario.local_date(slot.start)
        assert day not in schedule.holidays
        if day in schedule.overrides:
            assert schedule.overrides[day]
        inside = [
            (lo, hi) for lo, hi in ref_intervals(schedule, day) if lo <= slot.start < slot.end <= hi
        ]
        assert len(inside) == 1
        lo, _ = inside[0]
        assert (slot.start - lo) % scenario.rules.slot_interval == timedelta(0)


@PROPERTY
@given(scenarios())
def test_slots_are_sorted_unique_and_respect_the_rules(scenario: Scenario) -> None:
    rules = scenario.rules
    slots = scenario.free()
    starts = [slot.start for slot in slots]
    assert starts == sorted(set(starts))
    per_day = scenario.booked_per_day()
    for slot in slots:
        assert slot.start.tzinfo is UTC and slot.end.tzinfo is UTC
        assert slot.end - slot.start == rules.duration
        assert scenario.window_start <= slot.start < scenario.window_end
        assert scenario.now + rules.min_notice <= slot.start <= scenario.now + rules.horizon
        assert slot.start >= scenario.now
        if rules.max_per_day is not None:
            assert per_day[scenario.local_date(slot.start)] < rules.max_per_day


@PROPERTY
@given(scenarios(), st.randoms(use_true_random=False))
def test_check_slot_accepts_exactly_the_offered_starts(
    scenario: Scenario, rng: random.Random
) -> None:
    rules = scenario.rules
    offered = scenario.free()
    for slot in offered:
        assert scenario.check(slot.start) == slot
    offered_starts = {slot.start for slot in offered}
    grid = sorted(set(scenario.grid()))
    ws, we = scenario.window_start, scenario.window_end
    samples = [s for s in grid if ws <= s < we and s not in offered_starts]
    samples = rng.sample(samples, min(len(samples), 40))
    for slot in rng.sample(offered, min(len(offered), 10)):
        samples += [slot.start + minutes(1), slot.start + rules.slot_interval / 2]
    if we > ws:
        length = (we - ws) // minutes(1)
        samples += [ws + minutes(rng.randrange(length)) for _ in range(20)]
    per_day = scenario.booked_per_day()
    for start in samples:
        if start in offered_starts or not ws <= start < we:
            continue
        span = blocked_span(start, rules)
        try:
            scenario.check(start)
        except SlotTaken as taken:
            assert taken.code == "slot_unavailable"
            assert overlaps(span.start, span.end, scenario.busy)
        except SlotNotBookable as error:
            assert error.detail
            if error.code == "too_soon":
                assert start < scenario.now + rules.min_notice
            elif error.code == "beyond_horizon":
                assert start > scenario.now + rules.horizon
            elif error.code == "daily_limit_reached":
                assert rules.max_per_day is not None
                assert per_day[scenario.local_date(start)] >= rules.max_per_day
            else:
                assert error.code in {"outside_working_hours", "off_grid"}
                assert start not in grid
        else:
            raise AssertionError(f"check_slot accepted {start}, which free_slots did not offer")


# Many generated scenarios have nothing free to book (a closed day, a full one); some runs draw
# more of those than the health check allows, though enough of the rest remain to test.
@settings(PROPERTY, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(scenarios(), st.data())
def test_booking_a_slot_removes_exactly_what_it_blocks(
    scenario: Scenario, data: st.DataObject
) -> None:
    before = scenario.free()
    assume(before)  # something to book
    chosen = data.draw(st.sampled_from(before))
    new_span = blocked_span(chosen.start, scenario.rules)
    after_booking = Scenario(
        schedule=scenario.schedule,
        rules=scenario.rules,
        busy=[*scenario.busy, new_span],
        booked=[*scenario.booked, chosen.start],
        window_start=scenario.window_start,
        window_end=scenario.window_end,
        now=scenario.now,
        viewer=scenario.viewer,
    )
    limit = scenario.rules.max_per_day
    chosen_day = scenario.local_date(chosen.start)
    day_full = limit is not None and scenario.booked_per_day()[chosen_day] + 1 >= limit

    def survives(slot: Slot) -> bool:
        span = blocked_span(slot.start, scenario.rules)
        if overlaps(span.start, span.end, [new_span]):
            return False
        return not (day_full and scenario.local_date(slot.start) == chosen_day)

    expected = [slot for slot in before if survives(slot)]
    after = after_booking.free()
    assert chosen not in after
    assert after == expected
    try:
        after_booking.check(chosen.start)
    except (SlotTaken, SlotNotBookable) as error:
        assert error.code in {"slot_unavailable", "daily_limit_reached"}
    else:
        raise AssertionError("a booked slot was still bookable")


NEAR_CHANGES = sorted(
    {d + timedelta(days=i) for ds in CHANGE_DATES.values() for d in ds for i in (-1, 0, 1)}
)


@PROPERTY
@given(
    st.sampled_from(ZONES),
    st.one_of(st.sampled_from(NEAR_CHANGES), st.dates(date(2025, 1, 1), date(2027, 12, 31))),
)
def test_local_day_bounds_match_the_reference(zone: str, day: date) -> None:
    tz = ZoneInfo(zone)
    start, end = local_day_bounds(day, tz)
    assert (start, end) == (
        ref_resolve(day, time(0), tz),
        ref_resolve(day + timedelta(days=1), time(0), tz),
    )
    assert timedelta(hours=23) <= end - start <= timedelta(hours=25)
    assert start.astimezone(tz).date() == day
    assert (end - timedelta(microseconds=1)).astimezone(tz).date() == day
