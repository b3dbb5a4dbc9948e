"""Free appointment slots from a provider's scheduling rules: pure rules, no I/O, no clock.

Datetimes passed in may be in any zone (they are compared as instants); a naive one is a
ValueError. Everything returned is aware UTC. Decisions:

1. Rules are expanded per local date in the provider's zone: for each local date the window
   touches, the date's hours come from (first match) holidays -> closed, overrides -> those hours
   (empty = closed), weekly -> that weekday's hours (missing = closed). Each interval boundary is
   resolved to a UTC instant with zoneinfo, so a DST change moves UTC instants, never local hours
   (09:00-17:00 stays 09:00-17:00 local on both sides of a change).
2. A boundary in a spring-forward gap (a local time that does not exist) moves to the first instant
   after the gap (America/New_York 2026-03-08 02:30 -> 03:00 EDT = 07:00Z). A boundary in a
   fall-back repeat (a local time that exists twice) takes the first occurrence (fold=0). An end
   of 00:00 is the next local date's midnight, resolved the same way. local_day_bounds resolves
   midnights the same way, so a DST day is 23 or 25 hours long (23.5 or 24.5 at Lord Howe).
3. Slot starts step from each working interval's start in elapsed time: interval_start +
   k * slot_interval while start + duration <= interval_end. Every slot is a real instant, none is
   duplicated or nonexistent, and a duration is real elapsed time (2 hours from 01:00 EST on
   2026-03-08 ends at 04:00 EDT). After a break the grid restarts at the next interval's start.
   In a repeated hour the grid goes on in elapsed time, so both 01:30 EDT and 01:30 EST are
   offered (two distinct instants) when the hours cover them.
4. The appointment [start, start + duration) lies inside one working interval; its buffers may
   reach outside working hours, but its blocked span [start - buffer_before,
   start + duration + buffer_after) must not overlap any Busy span (half-open: touching is fine;
   an empty span [t, t) overlaps nothing).
5. now + min_notice <= start <= now + horizon, so nothing in the past is ever offered.
6. max_per_day: a provider-local date that already has max_per_day booked starts offers nothing.
   An instant's local date is the date whose local midnights (as in 2.) enclose it: its
   wall-clock date in the provider's zone.
7. check_slot checks in this order and reports the first failure: outside_working_hours, off_grid,
   too_soon, beyond_horizon, daily_limit_reached (SlotNotBookable), then busy (SlotTaken).
   check_slot(start) succeeds exactly for the starts free_slots returns.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import accumulate, islice, pairwise, repeat
from operator import attrgetter, is_, le, lt
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo

__all__ = [
    "BookingRules",
    "Busy",
    "BusyTimes",
    "Schedule",
    "Slot",
    "SlotNotBookable",
    "SlotTaken",
    "WorkingInterval",
    "blocked_span",
    "check_slot",
    "free_slots",
    "local_day_bounds",
]

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
_DAY_LENGTH = timedelta(hours=24)
_MICROSECOND = timedelta(microseconds=1)
_MIDNIGHT = time(0)
_END_OF_TIME = datetime.max.replace(tzinfo=UTC)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True, slots=True)
class WorkingInterval:
    """Local wall-clock working interval of one day; end == time(0) means midnight at the end of that day."""  # noqa: E501

    start: time
    end: time

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time):
                raise ValueError(f"working interval {name} must be a datetime.time, got {value!r}")
            if value.tzinfo is not None:
                raise ValueError(
                    f"working interval {name} {value} must be a naive local wall-clock time"
                )
        if self.end != _MIDNIGHT and self.start >= self.end:
            raise ValueError(
                f"working interval {_clock(self.start)}-{_clock(self.end)} must start before it "
                "ends (use 00:00 as the end for midnight at the end of the day)"
            )

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


@dataclass(frozen=True, slots=True)
class Schedule:
    """A provider's hours: weekly (0=Monday..6=Sunday), per-date overrides, and holidays.

    Built with any mappings and sequences; stored as read-only mappings of intervals sorted by
    start. Overlapping intervals within one day are a ValueError.
    """

    timezone: ZoneInfo
    weekly: Mapping[int, Sequence[WorkingInterval]]
    overrides: Mapping[date, Sequence[WorkingInterval]]
    holidays: frozenset[date]

    def __post_init__(self) -> None:
        if not isinstance(self.timezone, ZoneInfo):
            raise ValueError(
                f"schedule timezone must be a zoneinfo.ZoneInfo, got {self.timezone!r}"
            )
        weekly: dict[int, tuple[WorkingInterval, ...]] = {}
        for weekday, intervals in self.weekly.items():
            if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
                raise ValueError(f"weekly hours key must be a weekday 0..6, got {weekday!r}")
            weekly[weekday] = _day_hours(intervals, f"{_WEEKDAYS[weekday]}s")
        overrides: dict[date, tuple[WorkingInterval, ...]] = {}
        for day, intervals in self.overrides.items():
            _require_date(day, "override")
            overrides[day] = _day_hours(intervals, day.isoformat())
        for day in self.holidays:
            _require_date(day, "holiday")
        object.__setattr__(self, "weekly", MappingProxyType(weekly))
        object.__setattr__(self, "overrides", MappingProxyType(overrides))
        object.__setattr__(self, "holidays", frozenset(self.holidays))


@dataclass(frozen=True, slots=True)
class BookingRules:
    """How one service is booked: its length, buffers, grid, notice, horizon and daily cap."""

    duration: timedelta
    buffer_before: timedelta
    buffer_after: timedelta
    slot_interval: timedelta
    min_notice: timedelta
    horizon: timedelta
    max_per_day: int | None

    def __post_init__(self) -> None:
        for name, positive in (
            ("duration", True),
            ("buffer_before", False),
            ("buffer_after", False),
            ("slot_interval", True),
            ("min_notice", False),
            ("horizon", True),
        ):
            value = getattr(self, name)
            if not isinstance(value, timedelta):
                raise ValueError(f"{name} must be a datetime.timedelta, got {value!r}")
            if positive and value <= _ZERO:
                raise ValueError(f"{name} must be positive, got {_duration(value)}")
            if not positive and value < _ZERO:
                raise ValueError(f"{name} must not be negative, got {_duration(value)}")
        limit = self.max_per_day
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise ValueError(f"max_per_day must be an int or None, got {limit!r}")
        if limit is not None and limit < 1:
            raise ValueError(f"max_per_day must be at least 1 (or None for no limit), got {limit}")


@dataclass(frozen=True, slots=True)
class Busy:
    """A busy span in UTC, half-open [start, end). For existing appointments and holds it is already widened by that booking's own buffers; for external calendar blocks it is the raw event."""  # noqa: E501

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start = _to_utc(self.start, "busy start")
        end = _to_utc(self.end, "busy end")
        if end < start:
            raise ValueError(
                f"busy span ends ({end.isoformat()}) before it starts ({start.isoformat()})"
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)


_tzinfo = attrgetter("tzinfo")


class BusyTimes:
    """Busy spans as the slot sweep reads them: the non-empty ones by start, each with the latest
    end of it and the spans before it. A blocked span [lo, hi) overlaps some busy span iff, among
    the spans starting before hi, the latest end is after lo.

    free_slots builds one from Busy values; from_pairs builds one from many (start, end) pairs
    without an object per span, validated and converted exactly as Busy(start, end) would be.
    """

    __slots__ = ("latest_end", "starts")
    starts: list[datetime]
    latest_end: list[datetime]

    def __init__(self, spans: Iterable[Busy]) -> None:
        self._index_pairs(sorted([(b.start, b.end) for b in spans if b.start < b.end]))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[datetime, datetime]]) -> BusyTimes:
        spans: list[tuple[datetime, datetime]] = []
        append = spans.append
        for start, end in pairs:
            if not (
                start.__class__ is datetime
                and end.__class__ is datetime
                and start.tzinfo is UTC
                and end.tzinfo is UTC
                and start <= end
            ):
                span = Busy(start, end)  # validates, converts to UTC, or raises as Busy does
                start, end = span.start, span.end
            if start < end:
                append((start, end))
        spans.sort()
        times = cls.__new__(cls)
        times._index_pairs(spans)
        return times

    @classmethod
    def from_sorted(cls, starts: Sequence[datetime], ends: Sequence[datetime]) -> BusyTimes:
        """Spans given as parallel lists, the way a database read ordered by start yields them.
        When every instant is in UTC, the starts ascend and every span ends after it starts
        (four passes in C), they are indexed as they are; otherwise this is exactly from_pairs,
        with its conversions and its errors.

        UTC, not merely aware: two instants of one zone compare by wall clock, so in a repeated
        hour (01:00 GMT after 01:14 BST, say) the order and the latest end would be wrong."""
        if len(starts) != len(ends):
            raise ValueError(f"{len(starts)} busy starts but {len(ends)} ends")
        try:
            in_order = (
                all(map(is_, map(_tzinfo, starts), repeat(UTC)))
                and all(map(is_, map(_tzinfo, ends), repeat(UTC)))
                and all(map(lt, starts, ends))
                and all(map(le, starts, islice(starts, 1, None)))
            )
        except (TypeError, AttributeError):
            in_order = False
        if not in_order:
            return cls.from_pairs(zip(starts, ends, strict=True))
        times = cls.__new__(cls)
        times._index(starts, ends)
        return times

    def _index_pairs(self, spans: list[tuple[datetime, datetime]]) -> None:
        self._index([start for start, _ in spans], [end for _, end in spans])

    def _index(self, starts: Iterable[datetime], ends: Iterable[datetime]) -> None:
        """Non-empty spans, sorted by start, as parallel starts and ends."""
        self.starts = list(starts)
        self.latest_end = list(accumulate(ends, max))


class Slot(NamedTuple):
    """A bookable appointment: start is aware UTC and end = start + duration. A named tuple,
    not a dataclass: the 90-day sweep makes hundreds, and a tuple is made in half the time."""

    start: datetime
    end: datetime


class SlotNotBookable(Exception):
    """The requested start breaks a rule (maps to HTTP 422)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.detail} ({self.code})"


class SlotTaken(Exception):
    """The requested start is within the rules but overlaps something busy (maps to HTTP 409)."""

    code = "slot_unavailable"

    def __init__(
        self, detail: str = "the requested time overlaps another booking or a blocked time"
    ) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.detail} ({self.code})"


# --------------------------------------------------------------------------- public functions


def blocked_span(start: datetime, rules: BookingRules) -> Busy:
    """The span a booking at `start` occupies: [start - buffer_before, start + duration + buffer_after)."""  # noqa: E501
    start = _to_utc(start, "start")
    return Busy(start - rules.buffer_before, start + rules.duration + rules.buffer_after)


def local_day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants of local midnight at the start of `day` and of the next day (a DST day is 23 or 25 hours)."""  # noqa: E501
    _require_date(day, "day")
    return _resolve(day, _MIDNIGHT, tz), _resolve(day + _ONE_DAY, _MIDNIGHT, tz)


def free_slots(
    schedule: Schedule,
    rules: BookingRules,
    *,
    busy: Sequence[Busy] | BusyTimes,
    booked_starts: Sequence[datetime],
    window_start: datetime,
    window_end: datetime,
    now: datetime,
) -> list[Slot]:
    """Free slots whose start lies in [window_start, window_end), sorted by start."""
    window_start = _to_utc(window_start, "window_start")
    window_end = _to_utc(window_end, "window_end")
    now = _to_utc(now, "now")
    if window_end < window_start:
        raise ValueError(
            f"window_end {window_end.isoformat()} is before window_start {window_start.isoformat()}"
        )
    tz = schedule.timezone
    duration = rules.duration
    before = rules.buffer_before
    after = rules.buffer_after
    step = rules.slot_interval

    # Candidate starts c satisfy earliest <= c < stop; the window is clipped to notice and horizon.
    earliest = max(window_start, _later(now, rules.min_notice))
    latest = _later(now, rules.horizon)
    stop = window_end if latest >= window_end else latest + _MICROSECOND
    limit = rules.max_per_day
    booked = _sorted_utc(booked_starts)
    if earliest >= stop:
        return []

    times = busy if isinstance(busy, BusyTimes) else BusyTimes(busy)
    busy_starts = times.starts
    # A start c is blocked iff a busy span starting before c + tail reaches past c once widened
    # by `before`, i.e. ends after c - before.
    reach = _widened(times.latest_end, before)
    count = len(busy_starts)
    tail = duration + after

    slots: list[Slot] = []
    append = slots.append
    last_start = stop - _MICROSECOND
    day, day_start, day_end = _schedule_day(earliest, tz)
    while day_start < stop:
        if limit is None or _count_between(booked, day_start, day_end) < limit:
            for iv_start, iv_end in _open_intervals(schedule, day, day_end):
                last = min(iv_end - duration, last_start)
                if last < iv_start or last < earliest:
                    continue
                k = 0 if earliest <= iv_start else _ceil_div(earliest - iv_start, step)
                candidate = iv_start + k * step
                i = 0
                while candidate <= last:
                    # The first busy span starting at or after the blocked span ends: usually a
                    # few places on from the last one, so look there before searching the rest.
                    blocked_end = candidate + tail
                    near = i + 8
                    if near < count and busy_starts[near] >= blocked_end:
                        i = bisect_left(busy_starts, blocked_end, i, near)
                    else:
                        i = bisect_left(busy_starts, blocked_end, i)
                    if i and reach[i - 1] > candidate:
                        # Blocked, and so is every later start until the first one on the grid at
                        # or after that reach: a step or two for a short booking in the way, else
                        # iv_start + ceil((reach - iv_start) / step) * step (this loop is hot).
                        reached = reach[i - 1]
                        candidate += step
                        if candidate < reached:
                            candidate += step
                            if candidate < reached:
                                candidate = iv_start - ((iv_start - reached) // step) * step
                        continue
                    append(Slot(candidate, candidate + duration))
                    candidate += step
        day += _ONE_DAY
        day_start = day_end
        day_end = _resolve(day + _ONE_DAY, _MIDNIGHT, tz)
    return slots


def check_slot(
    schedule: Schedule,
    rules: BookingRules,
    *,
    start: datetime,
    busy: Sequence[Busy],
    booked_starts: Sequence[datetime],
    now: datetime,
) -> Slot:
    """Return the Slot at `start` if bookable, else raise SlotNotBookable (rule broken) or SlotTaken (busy)."""  # noqa: E501
    start = _to_utc(start, "start")
    now = _to_utc(now, "now")
    tz = schedule.timezone
    local = start.astimezone(tz)
    day, day_start, day_end = _schedule_day(start, tz)
    when = f"{_local_clock(local)} on {_WEEKDAYS[day.weekday()]} {day.isoformat()} ({tz.key})"

    intervals = _open_intervals(schedule, day, day_end)
    if not intervals:
        raise SlotNotBookable(
            "outside_working_hours",
            f"{when} is outside working hours: {_closed_reason(schedule, day)}",
        )
    containing = next(((s, e) for s, e in intervals if s <= start < e), None)
    if containing is None:
        hours = ", ".join(
            f"{_local_clock(s.astimezone(tz))}-{_local_clock(e.astimezone(tz))}"
            for s, e in intervals
        )
        raise SlotNotBookable(
            "outside_working_hours", f"{when} is outside working hours (open {hours} that day)"
        )
    iv_start, iv_end = containing
    end = start + rules.duration
    if end > iv_end:
        raise SlotNotBookable(
            "outside_working_hours",
            f"a {_duration(rules.duration)} appointment at {when} would end at "
            f"{_local_clock(end.astimezone(tz))}, after working hours end at "
            f"{_local_clock(iv_end.astimezone(tz))}",
        )

    step = rules.slot_interval
    offset = start - iv_start
    if offset % step:
        below = iv_start + (offset // step) * step
        above = below + step
        nearest = [_local_clock(below.astimezone(tz))]
        if above + rules.duration <= iv_end:
            nearest.append(_local_clock(above.astimezone(tz)))
        suggestion = (
            f"nearest starts are {nearest[0]} and {nearest[1]}"
            if len(nearest) == 2
            else f"the nearest start is {nearest[0]}"
        )
        raise SlotNotBookable(
            "off_grid",
            f"{_local_clock(local)} is not on the {_grid(step)} grid; {suggestion} "
            f"({tz.key}, {day.isoformat()})",
        )

    earliest = _later(now, rules.min_notice)
    if start < earliest:
        if start < now:
            detail = f"{when} is in the past"
        else:
            detail = (
                f"{when} is too soon: bookings need {_duration(rules.min_notice)} notice, so the "
                f"earliest possible start is {_local_datetime(earliest.astimezone(tz))}"
            )
        raise SlotNotBookable("too_soon", detail)
    latest = _later(now, rules.horizon)
    if start > latest:
        raise SlotNotBookable(
            "beyond_horizon",
            f"{when} is too far ahead: bookings open at most {_duration(rules.horizon)} in "
            f"advance, so the latest possible start is {_local_datetime(latest.astimezone(tz))}",
        )
    limit = rules.max_per_day
    booked = _count_between(_sorted_utc(booked_starts), day_start, day_end)
    if limit is not None and booked >= limit:
        raise SlotNotBookable(
            "daily_limit_reached",
            f"{day.isoformat()} already has {booked} booking{'s' if booked != 1 else ''} "
            f"of this service, the most allowed per day ({limit})",
        )

    blocked_lo = start - rules.buffer_before
    blocked_hi = end + rules.buffer_after
    for b in busy:
        if b.start < blocked_hi and blocked_lo < b.end and b.start < b.end:
            raise SlotTaken(
                f"{when} is not free: the appointment with its buffers overlaps another booking "
                "or a blocked time"
            )
    return Slot(start, end)


# --------------------------------------------------------------------------- private helpers


def _to_utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is UTC:  # already what astimezone(UTC) would return: skip its cost
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} {value.isoformat()} is naive; pass a timezone-aware datetime")
    return value.astimezone(UTC)


def _require_date(value: object, name: str) -> None:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"{name} must be a datetime.date (not a datetime), got {value!r}")


def _since_midnight(value: time) -> timedelta:
    return timedelta(
        hours=value.hour, minutes=value.minute, seconds=value.second, microseconds=value.microsecond
    )


def _day_hours(intervals: Iterable[WorkingInterval], label: str) -> tuple[WorkingInterval, ...]:
    """Validate one day's intervals and return them sorted by start; overlaps are a ValueError."""
    items = tuple(intervals)
    for item in items:
        if not isinstance(item, WorkingInterval):
            raise ValueError(f"hours for {label} must be WorkingInterval values, got {item!r}")

    def end_of(item: WorkingInterval) -> timedelta:
        return _DAY_LENGTH if item.end == _MIDNIGHT else _since_midnight(item.end)

    ordered = tuple(sorted(items, key=lambda item: (_since_midnight(item.start), end_of(item))))
    for previous, current in pairwise(ordered):
        if _since_midnight(current.start) < end_of(previous):
            raise ValueError(f"working intervals {previous} and {current} on {label} overlap")
    return ordered


@lru_cache(maxsize=16384)  # a pure function of its arguments; availability asks for the same days
def _resolve(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local `wall` on `day`: in a gap the first instant after it, in a repeat
    the first occurrence. Equivalently: the first instant at which the local clock reads >= wall.
    (Built with constructors: datetime.replace is several times slower in CPython 3.11.)"""
    y, m, d = day.year, day.month, day.day
    h, mi, s, us = wall.hour, wall.minute, wall.second, wall.microsecond
    first = datetime(y, m, d, h, mi, s, us, tz).utcoffset()  # fold=0
    second = datetime(y, m, d, h, mi, s, us, tz, fold=1).utcoffset()
    as_utc = datetime(y, m, d, h, mi, s, us, UTC)
    assert first is not None and second is not None
    if first >= second:
        # Unique (equal offsets) or repeated (fold=0 is the earlier, pre-transition offset).
        return as_utc - first
    # In a gap: the after-transition offset gives an instant before the transition, the
    # before-transition offset one at or after it. The transition is the first instant whose local
    # wall time is at least `wall`; binary search for it to the microsecond.
    wanted = as_utc.replace(tzinfo=None)
    lo = as_utc - second
    lo_us, hi_us = 0, (second - first) // _MICROSECOND
    while hi_us - lo_us > 1:
        mid = (lo_us + hi_us) // 2
        if (lo + timedelta(microseconds=mid)).astimezone(tz).replace(tzinfo=None) >= wanted:
            hi_us = mid
        else:
            lo_us = mid
    return lo + timedelta(microseconds=hi_us)


def _schedule_day(instant: datetime, tz: ZoneInfo) -> tuple[date, datetime, datetime]:
    """The local date whose midnights (as resolved by _resolve) bound `instant`, and those bounds.

    That is the instant's wall-clock date in every zone whose clock never falls back across
    midnight; defining it by the bounds keeps free_slots, check_slot and max_per_day consistent
    even in historical zones that did.
    """
    day = instant.astimezone(tz).date()
    day_start, day_end = local_day_bounds(day, tz)
    while instant >= day_end:
        day += _ONE_DAY
        day_start, day_end = day_end, _resolve(day + _ONE_DAY, _MIDNIGHT, tz)
    while instant < day_start:
        day -= _ONE_DAY
        day_start, day_end = _resolve(day, _MIDNIGHT, tz), day_start
    return day, day_start, day_end


def _day_hours_of(schedule: Schedule, day: date) -> Sequence[WorkingInterval]:
    """The local hours of a date: holiday -> none, else its override, else its weekday's hours."""
    if day in schedule.holidays:
        return ()
    hours = schedule.overrides.get(day)
    return schedule.weekly.get(day.weekday(), ()) if hours is None else hours


def _open_intervals(
    schedule: Schedule, day: date, day_end: datetime
) -> list[tuple[datetime, datetime]]:
    """The non-empty working intervals of a local date as UTC [start, end), in order."""
    tz = schedule.timezone
    resolved: list[tuple[datetime, datetime]] = []
    for interval in _day_hours_of(schedule, day):
        start = _resolve(day, interval.start, tz)
        end = day_end if interval.end == _MIDNIGHT else _resolve(day, interval.end, tz)
        if start < end:
            resolved.append((start, end))
    return resolved


def _closed_reason(schedule: Schedule, day: date) -> str:
    if day in schedule.holidays:
        return f"{day.isoformat()} is a holiday"
    hours = schedule.overrides.get(day)
    if hours is None:
        if schedule.weekly.get(day.weekday()):
            return f"the working hours of {day.isoformat()} fall entirely in a clock change"
        return f"the provider does not work on {_WEEKDAYS[day.weekday()]}s"
    if hours:
        return f"the working hours of {day.isoformat()} fall entirely in a clock change"
    return f"the provider is closed on {day.isoformat()}"


def _sorted_utc(starts: Sequence[datetime]) -> list[datetime]:
    return sorted(
        [s if getattr(s, "tzinfo", None) is UTC else _to_utc(s, "booked start") for s in starts]
    )


def _count_between(ordered: list[datetime], lo: datetime, hi: datetime) -> int:
    """How many of the sorted instants lie in [lo, hi)."""
    return bisect_left(ordered, hi) - bisect_left(ordered, lo)


def _later(instant: datetime, delta: timedelta) -> datetime:
    """instant + delta, capped at the largest datetime (a huge horizon means no limit)."""
    try:
        return instant + delta
    except OverflowError:
        return _END_OF_TIME


def _widened(ends: list[datetime], by: timedelta) -> list[datetime]:
    """Each end moved later by `by`, capped at the largest datetime."""
    if not by:
        return ends
    try:
        return [end + by for end in ends]
    except OverflowError:
        return [_later(end, by) for end in ends]


def _ceil_div(numerator: timedelta, step: timedelta) -> int:
    return -((-numerator) // step)


def _clock(value: time) -> str:
    text = f"{value.hour:02d}:{value.minute:02d}"
    if value.second or value.microsecond:
        text += f":{value.second:02d}"
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text


def _local_clock(local: datetime) -> str:
    """HH:MM of a local datetime, with its UTC offset when that wall time occurs twice."""
    text = _clock(local.time())
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        text += f" ({local.strftime('%Z')}, UTC{_offset(local)})"
    return text


def _local_datetime(local: datetime) -> str:
    return f"{local.date().isoformat()} {_clock(local.time())} {local.strftime('%Z')}"


def _offset(local: datetime) -> str:
    offset = local.utcoffset()
    assert offset is not None
    sign = "-" if offset < _ZERO else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _duration(value: timedelta) -> str:
    """A readable length: '30 minutes', '2 hours', '90 days', '1 hour 30 minutes'."""
    if value < _ZERO:
        return "-" + _duration(-value)
    seconds = value // timedelta(seconds=1)
    rest_us = (value % timedelta(seconds=1)) // _MICROSECOND
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    if rest_us:
        parts.append(f"{rest_us} microsecond{'s' if rest_us != 1 else ''}")
    return " ".join(parts) if parts else "0 minutes"


def _grid(step: timedelta) -> str:
    """'30-minute' for a whole number of minutes, else the plain length."""
    if step % timedelta(minutes=1) == _ZERO:
        return f"{step // timedelta(minutes=1)}-minute"
    return _duration(step)
