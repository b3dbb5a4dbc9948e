"""Provider search in the database: pages chosen and counted in SQL, free time for the page."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from db import provider_search, schedule
from db.engine import Database
from db.models import (
    Appointment,
    ExternalBusyBlock,
    Holiday,
    ProviderProfile,
    ScheduleOverride,
    Service,
)
from domain.availability import local_day_bounds
from domain.booking_state import BookingStatus
from tests.factories import ProviderFixture, make_customer, make_provider

NEW_YORK, TOKYO = ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")


async def _named(db: Database, provider: ProviderFixture, service: str, name: str) -> None:
    async with db.session() as session, session.begin():
        await session.execute(
            update(Service).where(Service.id == provider.service_id).values(name=service)
        )
        await session.execute(
            update(ProviderProfile)
            .where(ProviderProfile.id == provider.provider_id)
            .values(display_name=name)
        )


def _weekday_ahead(days: int = 7) -> date:
    day = (datetime.now(NEW_YORK) + timedelta(days=days)).date()
    while day.weekday() > 4:
        day += timedelta(days=1)
    return day


async def _search(
    db: Database, text: str, day: date | None = None, zone: ZoneInfo = NEW_YORK, **page: int
) -> provider_search.FoundPage:
    return await provider_search.search(
        db,
        service_text=text,
        window=local_day_bounds(day, zone) if day else None,
        now=datetime.now(UTC),
        limit=page.get("limit", 20),
        offset=page.get("offset", 0),
    )


async def test_pages_are_ordered_by_name_and_counted_in_full(db: Database) -> None:
    text = f"massage {uuid.uuid4().hex}"
    made = {}
    for name in ("Eve", "Bob", "Dan", "Ann", "Cat"):
        provider = await make_provider(db)
        await _named(db, provider, text.upper(), name)
        made[name] = provider.provider_id
    pages = [await _search(db, text, limit=2, offset=offset) for offset in (0, 2, 4, 6)]
    assert [page.count for page in pages] == [5, 5, 5, 5]
    names = [[f.provider.display_name for f in page.found] for page in pages]
    assert names == [["Ann", "Bob"], ["Cat", "Dan"], ["Eve"], []]
    assert pages[0].found[0].services[0][1].count is None  # no date: no day to count


async def test_without_a_date_each_service_shows_its_next_free_slot(db: Database) -> None:
    text = f"physio {uuid.uuid4().hex}"
    soon, later, never = [await make_provider(db, timezone="UTC") for _ in range(3)]
    now = datetime.now(UTC)
    today = now.date()
    # Busy until the start of the day after tomorrow, and for 15 days: past the lookahead.
    until = {later: today + timedelta(days=2), never: today + timedelta(days=16)}
    async with db.session() as session, session.begin():
        session.add_all(
            ExternalBusyBlock(
                provider_id=provider.provider_id,
                source="google",
                external_id=f"evt-{uuid.uuid4()}",
                start_at=now - timedelta(hours=1),
                end_at=datetime.combine(day, time(0), UTC),
                created_at=now,
            )
            for provider, day in until.items()
        )
    for name, provider in zip("ABC", (soon, later, never), strict=True):
        await _named(db, provider, text, name)
    page = await _search(db, text)
    first = {f.provider.display_name: f.services[0][1].first for f in page.found}
    assert first["A"] is not None and first["A"].start - now < timedelta(days=1)
    assert first["B"] is not None
    assert first["B"].start == datetime.combine(today + timedelta(days=2), time(9), UTC)
    assert first["C"] is None


async def test_a_date_keeps_working_providers_and_counts_their_free_slots(db: Database) -> None:
    text = f"osteopathy {uuid.uuid4().hex}"
    day = _weekday_ahead()
    free, booked, capped, holiday, overridden = [
        await make_provider(db, duration_minutes=60, slot_interval_minutes=60, max_per_day=cap)
        for cap in (None, None, 1, None, None)
    ]
    for name, provider in zip("ABCDE", (free, booked, capped, holiday, overridden), strict=True):
        await _named(db, provider, text, name)
    opens, closes = local_day_bounds(day, NEW_YORK)
    customer = await make_customer(db)
    ten = datetime.combine(day, time(10), NEW_YORK)
    now = datetime.now(UTC)
    async with db.session() as session, session.begin():
        session.add_all(
            [
                ExternalBusyBlock(
                    provider_id=booked.provider_id,
                    source="google",
                    external_id=f"evt-{uuid.uuid4()}",
                    start_at=opens,
                    end_at=closes,
                    created_at=now,
                ),
                Holiday(provider_id=holiday.provider_id, day=day, name="off"),
                ScheduleOverride(
                    provider_id=overridden.provider_id,
                    day=day,
                    start_time=time(18),
                    end_time=time(20),
                ),
                Appointment(
                    id=uuid.uuid4(),
                    provider_id=capped.provider_id,
                    service_id=capped.service_id,
                    customer_id=customer,
                    start_at=ten,
                    end_at=ten + timedelta(hours=1),
                    blocked_start=ten,
                    blocked_end=ten + timedelta(hours=1),
                    status=BookingStatus.CONFIRMED,
                    hold_expires_at=None,
                    price_amount=0,
                    currency="USD",
                    created_at=now,
                    updated_at=now,
                ),
            ]
        )
    page = await _search(db, text, day)
    # The holiday is closed; a fully booked day stays on its page, with nothing free.
    assert page.count == 4
    shown = {
        f.provider.display_name: (free.count, free.first and free.first.start)
        for f in page.found
        for _, free in f.services
        if free is not None
    }
    assert shown == {
        "A": (7, datetime.combine(day, time(9), NEW_YORK)),
        "B": (0, None),
        "C": (0, None),
        "E": (2, datetime.combine(day, time(18), NEW_YORK)),
    }
    # The same slots as the availability endpoint's.
    slots = await schedule.open_slots(
        db, free.provider_id, free.service_id, opens, closes, datetime.now(UTC)
    )
    assert slots is not None and len(slots) == 7


async def test_a_day_in_another_zone_finds_the_provider_local_dates_it_touches(
    db: Database,
) -> None:
    text = f"acupuncture {uuid.uuid4().hex}"
    day = _weekday_ahead()
    # New York's day ends in Tokyo's next morning: a provider working only that weekday shows.
    next_weekday = (day + timedelta(days=1)).weekday()
    morning = await make_provider(
        db, timezone="Asia/Tokyo", hours=((time(9), time(10)),), weekdays=(next_weekday,)
    )
    elsewhere = await make_provider(db, timezone="Asia/Tokyo", weekdays=((next_weekday + 1) % 7,))
    await _named(db, morning, text, "Morning")
    await _named(db, elsewhere, text, "Elsewhere")
    page = await _search(db, text, day)
    assert [f.provider.display_name for f in page.found] == ["Morning"] and page.count == 1
    free = page.found[0].services[0][1]
    assert free is not None and free.count == 2
    assert free.first and free.first.start == datetime.combine(
        day + timedelta(days=1), time(9), TOKYO
    )


async def test_a_past_date_or_one_past_the_horizon_finds_nobody(db: Database) -> None:
    text = f"reflexology {uuid.uuid4().hex}"
    await _named(db, await make_provider(db, horizon_days=30), text, "Soon")
    assert (await _search(db, text, date(2020, 1, 6))).count == 0
    assert (await _search(db, text, _weekday_ahead(60))).count == 0
    assert (await _search(db, text, _weekday_ahead(7))).count == 1


async def test_a_spring_forward_day_has_one_hour_less(db: Database) -> None:
    text = f"sauna {uuid.uuid4().hex}"
    provider = await make_provider(
        db, duration_minutes=60, slot_interval_minutes=60, hours=((time(0), time(0)),)
    )
    await _named(db, provider, text, "All day")
    year = datetime.now(UTC).year + 1
    second_sunday = date(year, 3, 8) + timedelta(days=(6 - date(year, 3, 8).weekday()) % 7)
    page = await _search(db, text, second_sunday)
    free = page.found[0].services[0][1]
    assert free is not None and free.count == 23
    assert free.first and free.first.start == datetime.combine(second_sunday, time(0), NEW_YORK)
