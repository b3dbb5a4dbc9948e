"""The bench's data, written straight through SQLAlchemy before anything is measured.

- Booking providers open all day, every day (00:00-00:00), each with one priced 30-minute
  service on a 30-minute grid; bookings are spread over them so they never collide.
- One provider only for the contention races, one fresh slot per race.
- One availability provider (America/New_York, weekdays 09:00-17:00) with a 15-minute service
  on a 15-minute grid, 1,000 confirmed appointments and 5,000 busy blocks from three connected
  calendars over 90 days (bench/availability_calendar.py). Those hours give about 2,050
  quarter-hour slots in 90 days; 30-minute appointments would not fit.
- Reminder providers (UTC) for the punctuality scenario, REMINDER_SERVICES services each:
  1-minute appointments on a 1-minute grid, service k reminding REMINDER_FIRST_LEAD + k minutes
  before the start. Booking service k at minute + its lead puts every reminder on `minute`,
  and a provider's bookings in consecutive minutes, never across a day's end.
- Customers sharing one real argon2 hash; their tokens are minted with the API's own Settings.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from zoneinfo import ZoneInfo

from api.security import create_access_token
from bench.availability_calendar import fill_calendar
from config import Settings
from db.engine import Database
from db.models import ProviderProfile, Service, User, WorkingHours
from domain.passwords import hash_password
from domain.reminders import leads_to_text

PASSWORD = "bench-password-not-secret"
PRICE, CURRENCY = 5000, "USD"
# Zones without daylight saving, so local midnight + k * 30 min is always a real grid slot.
BOOKING_ZONES = ("UTC", "Asia/Tokyo", "Asia/Kolkata", "America/Bogota")
SLOTS_PER_DAY = 48
DAYS_AHEAD = 2
AVAILABILITY_ZONE = "America/New_York"
AVAILABILITY_DAYS = 90
REMINDER_SERVICES = 25
REMINDER_FIRST_LEAD = 60


@dataclass(frozen=True)
class Offer:
    provider_id: uuid.UUID
    service_id: uuid.UUID
    timezone: str


@dataclass(frozen=True)
class Reminding:
    """A service that reminds once, `lead_minutes` before the start."""

    offer: Offer
    lead_minutes: int


@dataclass(frozen=True)
class Customer:
    user_id: uuid.UUID
    email: str
    headers: dict[str, str]


@dataclass
class SlotPlanner:
    """Hands out valid, never-repeated slots: local midnight >= 2 days ahead + k * 30 min."""

    offers: list[Offer]
    _turn: Iterator[int] = field(default_factory=count)
    _next_k: dict[uuid.UUID, int] = field(default_factory=dict)

    def next(self) -> tuple[Offer, datetime]:
        offer = self.offers[next(self._turn) % len(self.offers)]
        k = self._next_k.get(offer.provider_id, 0)
        self._next_k[offer.provider_id] = k + 1
        zone = ZoneInfo(offer.timezone)
        first_day = datetime.now(zone).date() + timedelta(days=DAYS_AHEAD)
        day = first_day + timedelta(days=k // SLOTS_PER_DAY)
        midnight = datetime.combine(day, time(0), zone)
        return offer, midnight + timedelta(minutes=30 * (k % SLOTS_PER_DAY))


@dataclass
class BenchData:
    booking: SlotPlanner
    contention: SlotPlanner
    availability: Offer
    availability_from: date
    availability_to: date
    customers: list[Customer]
    # Per reminder provider, its services by lead (see the module's docstring).
    reminding: list[list[Reminding]] = field(default_factory=list)


async def seed(
    db: Database, settings: Settings, *, providers: int, customers: int, reminding: int = 0
) -> BenchData:
    """Everything the scenarios book; `reminding` services for the punctuality scenario."""
    now = datetime.now(UTC)
    password_hash = hash_password(PASSWORD)
    people = [_customer(password_hash, now) for _ in range(customers)]
    rows: list[object] = []
    offers = [
        _provider(rows, BOOKING_ZONES[i % len(BOOKING_ZONES)], now, all_day=True)
        for i in range(providers)
    ]
    race = _provider(rows, "UTC", now, all_day=True)
    calendar = _provider(rows, AVAILABILITY_ZONE, now, all_day=False, minutes=15)
    leads = [REMINDER_FIRST_LEAD + k for k in range(REMINDER_SERVICES)]
    reminders = [
        _reminding(rows, leads[: reminding - first], now)
        for first in range(0, reminding, REMINDER_SERVICES)
    ]
    async with db.session() as session, session.begin():
        session.add_all(people)
        await session.flush()
        for kind in (User, ProviderProfile, Service, WorkingHours):
            session.add_all([row for row in rows if isinstance(row, kind)])
            await session.flush()
    first = datetime.now(ZoneInfo(AVAILABILITY_ZONE)).date() + timedelta(days=DAYS_AHEAD)
    last = first + timedelta(days=AVAILABILITY_DAYS - 1)
    await fill_calendar(
        db, calendar, people[0].id, first, last, now, price_amount=PRICE, currency=CURRENCY
    )
    return BenchData(
        booking=SlotPlanner(offers),
        contention=SlotPlanner([race]),
        availability=calendar,
        availability_from=first,
        availability_to=last,
        customers=[_signed_in(person, settings) for person in people],
        reminding=reminders,
    )


async def one_provider(db: Database, timezone: str) -> Offer:
    """A provider of a scenario's own, open all day every day, with one 30-minute service."""
    rows: list[object] = []
    offer = _provider(rows, timezone, datetime.now(UTC), all_day=True)
    async with db.session() as session, session.begin():
        for kind in (User, ProviderProfile, Service, WorkingHours):
            session.add_all([row for row in rows if isinstance(row, kind)])
            await session.flush()
    return offer


def _signed_in(person: User, settings: Settings) -> Customer:
    token = create_access_token(person.id, "customer", settings)
    return Customer(person.id, person.email, {"Authorization": f"Bearer {token}"})


def _customer(password_hash: str, now: datetime) -> User:
    user_id = uuid.uuid4()
    return User(
        id=user_id,
        email=f"bench-{user_id.hex[:16]}@bench.example.com",
        password_hash=password_hash,
        full_name="Bench Customer",
        phone=None,
        role="customer",
        created_at=now,
    )


def _provider(
    rows: list[object], timezone: str, now: datetime, *, all_day: bool, minutes: int = 30
) -> Offer:
    provider_id = _provider_profile(rows, timezone, now, all_day=all_day)
    return _service(rows, provider_id, timezone, now, minutes=minutes, grid=minutes)


def _reminding(rows: list[object], leads: list[int], now: datetime) -> list[Reminding]:
    provider_id = _provider_profile(rows, "UTC", now, all_day=True)
    return [
        Reminding(_service(rows, provider_id, "UTC", now, minutes=1, grid=1, leads=[lead]), lead)
        for lead in leads
    ]


def _provider_profile(
    rows: list[object], timezone: str, now: datetime, *, all_day: bool
) -> uuid.UUID:
    user = User(
        id=uuid.uuid4(),
        email=f"bench-provider-{uuid.uuid4().hex[:16]}@bench.example.com",
        password_hash="!",
        full_name="Bench Provider",
        phone=None,
        role="provider",
        created_at=now,
    )
    profile = ProviderProfile(
        id=uuid.uuid4(),
        user_id=user.id,
        display_name="Bench Provider",
        timezone=timezone,
        auto_confirm=True,
        created_at=now,
    )
    hours = (time(0), time(0)) if all_day else (time(9), time(17))
    weekdays = range(7) if all_day else range(5)
    rows += [user, profile]
    rows += [
        WorkingHours(
            id=uuid.uuid4(),
            provider_id=profile.id,
            weekday=d,
            start_time=hours[0],
            end_time=hours[1],
        )
        for d in weekdays
    ]
    return profile.id


def _service(
    rows: list[object],
    provider_id: uuid.UUID,
    timezone: str,
    now: datetime,
    *,
    minutes: int,
    grid: int,
    leads: list[int] | None = None,
) -> Offer:
    service = Service(
        id=uuid.uuid4(),
        provider_id=provider_id,
        name=f"Bench consultation ({minutes} min)",
        duration_minutes=minutes,
        price_amount=PRICE,
        currency=CURRENCY,
        buffer_before_minutes=0,
        buffer_after_minutes=0,
        slot_interval_minutes=grid,
        min_notice_minutes=0,
        horizon_days=365,
        max_per_day=None,
        active=True,
        created_at=now,
    )
    if leads is not None:
        service.reminder_offsets = leads_to_text(leads)
    rows.append(service)
    return Offer(provider_id, service.id, timezone)
