from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Self
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from api.schemas.common import Clock, EndClock, Strict, zone_name
from contract.messages import Money
from db.models import ProviderProfile, Service
from db.provider_search import NEXT_FREE_DAYS, FreeTime
from domain.availability import Schedule, Slot, WorkingInterval
from domain.reminders import (
    DEFAULT_LEADS_MINUTES,
    MAX_LEAD_MINUTES,
    MAX_REMINDERS,
    leads_from_text,
    leads_to_text,
)

# Dates a calendar is asked about: wide, yet far enough from date.min/max that a day's bounds
# in any zone, and a week or a horizon after it, still exist.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9000, 12, 31)
# PostgreSQL text cannot hold NUL: refuse it as a validation error, not a database error.
NO_NUL = r"^[^\x00]*$"


def _in_calendar(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"a date from {FIRST_DAY} to {LAST_DAY}")
    return day


CalendarDay = Annotated[date, AfterValidator(_in_calendar)]
ReminderLead = Annotated[int, Field(ge=1, le=MAX_LEAD_MINUTES)]

# Stripe's largest charge; also keeps an amount inside the database's 64-bit integer.
MAX_PRICE_AMOUNT = 99_999_999


def _priceable(price: Money | None) -> Money | None:
    if price is not None and price.amount > MAX_PRICE_AMOUNT:
        raise ValueError(f"amount: at most {MAX_PRICE_AMOUNT} minor units")
    return price


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Interval(Strict):
    """Local wall-clock hours, e.g. {"start": "09:00", "end": "12:30"}; "24:00" ends at midnight."""

    start: Clock
    end: EndClock

    @model_validator(mode="after")
    def _starts_before_it_ends(self) -> Self:
        WorkingInterval(self.start, self.end)  # its ValueError names the problem
        return self


def _one_day(intervals: list[Interval]) -> None:
    """Refuse overlapping intervals within one day, with the domain's own message."""
    hours = [WorkingInterval(i.start, i.end) for i in intervals]
    Schedule(ZoneInfo("UTC"), {0: hours}, {}, frozenset())


class WeeklyHours(Strict):
    """Working hours per weekday in the provider's zone; a missing or empty day is closed."""

    monday: list[Interval] = []
    tuesday: list[Interval] = []
    wednesday: list[Interval] = []
    thursday: list[Interval] = []
    friday: list[Interval] = []
    saturday: list[Interval] = []
    sunday: list[Interval] = []

    @model_validator(mode="after")
    def _no_overlaps(self) -> Self:
        for name in WEEKDAYS:
            try:
                _one_day(getattr(self, name))
            except ValueError as err:
                raise ValueError(f"{name}: {err}") from err
        return self

    def rows(self) -> list[tuple[int, time, time]]:
        return [
            (weekday, interval.start, interval.end)
            for weekday, name in enumerate(WEEKDAYS)
            for interval in getattr(self, name)
        ]

    @classmethod
    def from_rows(cls, rows: list[tuple[int, time, time]]) -> WeeklyHours:
        days: dict[str, list[Interval]] = {name: [] for name in WEEKDAYS}
        for weekday, start, end in rows:
            days[WEEKDAYS[weekday]].append(Interval(start=start, end=end))
        return cls(**days)


class OverrideBody(Strict):
    """Hours for one date instead of its weekday's; an empty list closes the date."""

    intervals: list[Interval] = []

    @model_validator(mode="after")
    def _no_overlaps(self) -> Self:
        _one_day(self.intervals)
        return self


class OverridePublic(BaseModel):
    day: date
    closed: bool
    intervals: list[Interval]


class HolidayCreate(Strict):
    day: CalendarDay
    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)


class HolidayPublic(BaseModel):
    day: date
    name: str


class _ServiceFields(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    duration_minutes: int = Field(gt=0, le=24 * 60)
    price: Money = Field(description="minor units (cents) and an ISO 4217 code")
    buffer_before_minutes: int = Field(default=0, ge=0, le=24 * 60)
    buffer_after_minutes: int = Field(default=0, ge=0, le=24 * 60)
    slot_interval_minutes: int | None = Field(
        default=None, gt=0, le=24 * 60, description="grid step; defaults to the duration"
    )
    min_notice_minutes: int = Field(default=0, ge=0, le=60 * 24 * 60)
    horizon_days: int = Field(default=90, ge=1, le=730)
    max_per_day: int | None = Field(default=None, ge=1, le=1000)
    reminders_minutes_before: list[ReminderLead] = Field(
        default=list(DEFAULT_LEADS_MINUTES),
        max_length=MAX_REMINDERS,
        description="when customers are reminded, in minutes before the start (none: [])",
    )

    _priceable = field_validator("price")(_priceable)


def _columns(fields: dict[str, Any]) -> dict[str, Any]:
    price = fields.pop("price", None)
    if price is not None:
        fields["price_amount"], fields["currency"] = price["amount"], price["currency"]
    leads = fields.pop("reminders_minutes_before", None)
    if leads is not None:
        fields["reminder_offsets"] = leads_to_text(leads)
    return fields


class ServiceCreate(_ServiceFields):
    def columns(self) -> dict[str, Any]:
        fields = _columns(self.model_dump())
        if fields["slot_interval_minutes"] is None:
            fields["slot_interval_minutes"] = fields["duration_minutes"]
        return fields


class ServiceUpdate(Strict):
    """Only the fields sent change."""

    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=NO_NUL)
    duration_minutes: int | None = Field(default=None, gt=0, le=24 * 60)
    price: Money | None = None
    buffer_before_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    buffer_after_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    slot_interval_minutes: int | None = Field(default=None, gt=0, le=24 * 60)
    min_notice_minutes: int | None = Field(default=None, ge=0, le=60 * 24 * 60)
    horizon_days: int | None = Field(default=None, ge=1, le=730)
    max_per_day: int | None = Field(default=None, ge=1, le=1000)
    reminders_minutes_before: list[ReminderLead] | None = Field(
        default=None, max_length=MAX_REMINDERS
    )
    active: bool | None = None

    _priceable = field_validator("price")(_priceable)

    @model_validator(mode="after")
    def _required_stay_set(self) -> Self:
        for name in self.model_fields_set - {"max_per_day"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def columns(self) -> dict[str, Any]:
        return _columns(self.model_dump(exclude_unset=True))


class ServicePublic(BaseModel):
    id: UUID
    provider_id: UUID
    name: str
    duration_minutes: int
    price: Money
    buffer_before_minutes: int
    buffer_after_minutes: int
    slot_interval_minutes: int
    min_notice_minutes: int
    horizon_days: int
    max_per_day: int | None
    reminders_minutes_before: list[int]
    active: bool

    @classmethod
    def from_row(cls, service: Service) -> ServicePublic:
        return cls(
            id=service.id,
            provider_id=service.provider_id,
            name=service.name,
            duration_minutes=service.duration_minutes,
            price=Money(amount=service.price_amount, currency=service.currency),
            buffer_before_minutes=service.buffer_before_minutes,
            buffer_after_minutes=service.buffer_after_minutes,
            slot_interval_minutes=service.slot_interval_minutes,
            min_notice_minutes=service.min_notice_minutes,
            horizon_days=service.horizon_days,
            max_per_day=service.max_per_day,
            reminders_minutes_before=list(leads_from_text(service.reminder_offsets)),
            active=service.active,
        )


class ProviderPublic(BaseModel):
    id: UUID
    display_name: str
    timezone: str
    auto_confirm: bool
    services: list[ServicePublic]

    @classmethod
    def from_rows(cls, profile: ProviderProfile, services: list[Service]) -> ProviderPublic:
        return cls(
            id=profile.id,
            display_name=profile.display_name,
            timezone=profile.timezone,
            auto_confirm=profile.auto_confirm,
            services=[ServicePublic.from_row(s) for s in services],
        )


class ProfileUpdate(Strict):
    display_name: str | None = Field(default=None, min_length=1, max_length=200, pattern=NO_NUL)
    timezone: str | None = Field(default=None, description="IANA zone of the working hours")
    auto_confirm: bool | None = None

    _valid_zone = field_validator("timezone")(zone_name)


class SlotPublic(BaseModel):
    start: datetime
    end: datetime


class Availability(BaseModel):
    provider_id: UUID
    service_id: UUID
    timezone: str
    from_: date = Field(alias="from")
    to: date
    slots: list[SlotPublic]
    count: int


def availability_json(
    provider_id: UUID,
    service_id: UUID,
    zone: ZoneInfo,
    first: date,
    last: date,
    slots: Sequence[Slot],
) -> bytes:
    """An Availability as the bytes JSONResponse renders for it (keys in the model's order, no
    spaces), built by hand: ~450 slots through json.dumps, and an aware isoformat per instant
    (about 2 us here), were a quarter of the endpoint's time. The times need no escaping."""
    local = _local_iso(zone)
    slot_items = ",".join(
        [f'{{"start":"{local(slot.start)}","end":"{local(slot.end)}"}}' for slot in slots]
    )
    text = json.dumps
    return (
        f'{{"provider_id":{text(str(provider_id))},"service_id":{text(str(service_id))},'
        f'"timezone":{text(zone.key, ensure_ascii=False)},"from":{text(first.isoformat())},'
        f'"to":{text(last.isoformat())},"slots":[{slot_items}],"count":{len(slots)}}}'
    ).encode()


def _local_iso(zone: ZoneInfo) -> Callable[[datetime], str]:
    """instant.astimezone(zone).isoformat(), with each date, clock time and UTC offset formatted
    once (slots share them), and each instant once: a slot often ends where the next begins."""
    seen: dict[datetime, str] = {}
    dates: dict[date, str] = {}
    clocks: dict[time, str] = {}
    offsets: dict[timedelta | None, str] = {}

    def iso(instant: datetime) -> str:
        text = seen.get(instant)
        if text is not None:
            return text
        local = instant.astimezone(zone)
        day, clock = local.date(), local.time()
        day_text = dates.get(day) or dates.setdefault(day, day.isoformat())
        clock_text = clocks.get(clock) or clocks.setdefault(clock, "T" + clock.isoformat())
        offset = local.utcoffset()
        offset_text = offsets.get(offset)
        if offset_text is None:
            offset_text = offsets[offset] = local.isoformat()[len(day_text) + len(clock_text) :]
        text = seen[instant] = day_text + clock_text + offset_text
        return text

    return iso


class ServiceMatch(ServicePublic):
    free_slots: int | None = Field(
        description="free slots on the date asked for, if one was (0: fully booked)"
    )
    first_free: datetime | None = Field(
        description="the first of them; without a date, the next free slot within "
        f"{NEXT_FREE_DAYS} days (in the zone asked for)"
    )

    @classmethod
    def from_free_time(cls, service: Service, free: FreeTime, zone: ZoneInfo) -> ServiceMatch:
        public = ServicePublic.from_row(service).model_dump()
        first = free.first.start.astimezone(zone) if free.first else None
        return cls(**public, free_slots=free.count, first_free=first)


class ProviderMatch(BaseModel):
    id: UUID
    display_name: str
    timezone: str
    services: list[ServiceMatch]
