"""What the availability read offers is exactly what the hold accepts, through the database."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from db import holds, schedule
from db.engine import Database
from db.models import (
    Appointment,
    ExternalBusyBlock,
    Holiday,
    ProviderProfile,
    ScheduleOverride,
    Service,
    WorkingHours,
)
from db.schedule import booking_rules, load_context, open_slots, reading
from domain.availability import (
    BookingRules,
    Busy,
    Schedule,
    Slot,
    SlotNotBookable,
    SlotTaken,
    WorkingInterval,
    free_slots,
)
from domain.booking_state import ACTIVE_STATUSES, HOLD_STATUSES, STORED_STATUSES
from tests.factories import ProviderFixture, hold_request, make_customer, make_provider

ZONES = ["America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe"]
Window = tuple[datetime, datetime]


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
        hold = await holds.hold_slot(db, hold_request(provider, customer, chosen.start), now=now)
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
            await holds.hold_slot(db, hold_request(provider, customer, probe), now=now)


async def _plain_read(
    db: Database, provider_id: uuid.UUID, service_id: uuid.UUID, window: Window, now: datetime
) -> tuple[Schedule, BookingRules, list[Busy], list[datetime]]:
    """The calendar read one table and one ORM row at a time: the reference for the one-statement
    read, which must find exactly the same rows and instants."""
    async with db.session() as session:
        provider = await session.get(ProviderProfile, provider_id)
        service = await session.get(Service, service_id)
        assert provider is not None and service is not None
        zone = ZoneInfo(provider.timezone)
        rules = booking_rules(
            service.duration_minutes,
            service.buffer_before_minutes,
            service.buffer_after_minutes,
            service.slot_interval_minutes,
            service.min_notice_minutes,
            service.horizon_days,
            service.max_per_day,
        )
        first = (window[0].astimezone(zone) - timedelta(days=1)).date()
        last = (window[1].astimezone(zone) + timedelta(days=1)).date()
        weekly: dict[int, list[WorkingInterval]] = {}
        for hours in await session.scalars(
            select(WorkingHours).where(WorkingHours.provider_id == provider_id)
        ):
            weekly.setdefault(hours.weekday, []).append(
                WorkingInterval(hours.start_time, hours.end_time)
            )
        overrides: dict[date, list[WorkingInterval]] = {}
        for override in await session.scalars(
            select(ScheduleOverride).where(
                ScheduleOverride.provider_id == provider_id,
                ScheduleOverride.day.between(first, last),
            )
        ):
            day = overrides.setdefault(override.day, [])
            if override.start_time is not None and override.end_time is not None:
                day.append(WorkingInterval(override.start_time, override.end_time))
        holidays = await session.scalars(
            select(Holiday.day).where(
                Holiday.provider_id == provider_id, Holiday.day.between(first, last)
            )
        )
        schedule = Schedule(zone, weekly, overrides, frozenset(holidays))
        busy_start = window[0] - rules.buffer_before - rules.buffer_after
        busy_end = window[1] + rules.duration + rules.buffer_before + rules.buffer_after

        def occupies(a: Appointment) -> bool:
            expires = a.hold_expires_at
            lapsed = a.status in HOLD_STATUSES and expires is not None and expires <= now
            return a.status in ACTIVE_STATUSES and not lapsed

        appointments = [a for a in await session.scalars(select(Appointment)) if occupies(a)]
        busy = [
            Busy(a.blocked_start, a.blocked_end)
            for a in appointments
            if a.provider_id == provider_id
            and a.blocked_start < busy_end
            and a.blocked_end > busy_start
        ]
        busy += [
            Busy(b.start_at, b.end_at)
            for b in await session.scalars(
                select(ExternalBusyBlock).where(ExternalBusyBlock.provider_id == provider_id)
            )
            if b.start_at < busy_end and b.end_at > busy_start
        ]
        days = timedelta(days=2)
        booked = [
            a.start_at
            for a in appointments
            if a.service_id == service_id and window[0] - days <= a.start_at < window[1] + days
        ]
    return schedule, rules, busy, booked


async def _busy_calendar(
    db: Database, rng: random.Random, now: datetime
) -> tuple[ProviderFixture, uuid.UUID, Window]:
    """A provider with every kind of row the calendar read must sort in or out: appointments in
    every stored status (holds lapsed and not, other services, other providers), external blocks
    in and out of the window, overrides that open or close a date, holidays; instants to the
    microsecond."""
    provider = await make_provider(
        db, timezone="Europe/Berlin", buffer_before_minutes=10, buffer_after_minutes=5
    )
    other = await make_provider(db, timezone="Europe/Berlin")
    customer = await make_customer(db)
    service_ids = [provider.service_id]
    async with db.session() as session, session.begin():
        second = await session.get(Service, provider.service_id)
        assert second is not None
        twin = Service(
            **{c.key: getattr(second, c.key) for c in Service.__table__.columns if c.key != "id"},
            id=uuid.uuid4(),
        )
        twin.max_per_day = 2
        session.add(twin)
        service_ids.append(twin.id)
    window = (now + timedelta(days=2), now + timedelta(days=9))
    local = ZoneInfo(provider.timezone)
    first_day = window[0].astimezone(local).date()
    rows: list[object] = []
    for day in rng.sample(range(-2, 10), 4):
        on = first_day + timedelta(days=day)
        if rng.random() < 0.5:
            rows.append(ScheduleOverride(provider_id=provider.provider_id, day=on))
        else:
            for opens, closes in ((time(7), time(9, 30)), (time(18), time(0))):
                rows.append(
                    ScheduleOverride(
                        provider_id=provider.provider_id, day=on, start_time=opens, end_time=closes
                    )
                )
    for day in rng.sample(range(-2, 10), 2):
        on = first_day + timedelta(days=day)
        rows.append(Holiday(provider_id=provider.provider_id, day=on, name="off"))
    statuses = sorted(STORED_STATUSES)
    # Half-hour grid starts never overlap, whatever the jitter: the overlap guard stays quiet.
    grid = rng.sample(range(-4 * 48, 12 * 48), 80)
    for i, at in enumerate(grid):
        start = window[0] + timedelta(minutes=30 * at, microseconds=rng.randrange(10**6))
        end = start + timedelta(minutes=15, microseconds=rng.randrange(10**6))
        status = statuses[i % len(statuses)]
        owner = other if i % 7 == 0 else provider
        rows.append(
            Appointment(
                id=uuid.uuid4(),
                provider_id=owner.provider_id,
                service_id=owner.service_id if owner is other else rng.choice(service_ids),
                customer_id=customer,
                start_at=start,
                end_at=end,
                blocked_start=start - timedelta(minutes=rng.choice((0, 10))),
                blocked_end=end + timedelta(minutes=rng.choice((0, 5))),
                status=status,
                hold_expires_at=now + timedelta(minutes=rng.choice((-30, -1, 0, 1, 30)))
                if status in HOLD_STATUSES
                else None,
                price_amount=100,
                currency="EUR",
                customer_timezone=None,
                cancel_reason=None,
                created_at=now,
                updated_at=now,
            )
        )
    for i in range(30):
        start = window[0] + timedelta(
            hours=rng.randrange(-30, 8 * 24), microseconds=rng.randrange(10**6)
        )
        rows.append(
            ExternalBusyBlock(
                provider_id=rng.choice((provider, provider, other)).provider_id,
                source="google",
                external_id=f"event-{i}",
                start_at=start,
                end_at=start + timedelta(minutes=rng.choice((1, 30, 95, 600))),
                created_at=now,
            )
        )
    async with db.session() as session, session.begin():
        for kind in (ScheduleOverride, Holiday, Appointment, ExternalBusyBlock):
            session.add_all([row for row in rows if isinstance(row, kind)])
            await session.flush()
    return provider, service_ids[1], window


@pytest.mark.parametrize("seed", range(3))
async def test_the_one_statement_read_finds_what_a_plain_read_finds(
    db: Database, seed: int
) -> None:
    now = datetime.now(UTC)
    provider, capped, window = await _busy_calendar(db, random.Random(seed), now)
    for service_id in (provider.service_id, capped):
        schedule, rules, busy, booked = await _plain_read(
            db, provider.provider_id, service_id, window, now
        )
        async with reading(db) as calendar:
            offer = await calendar.offer(provider.provider_id, service_id)
        assert offer is not None and offer.rules is not None
        assert offer.rules == rules
        async with db.transaction() as connection:
            context = await load_context(
                connection, offer.provider_id, service_id, offer.timezone, offer.rules, *window, now
            )
        assert context.schedule == schedule
        assert sorted(map(_span, context.busy)) == sorted(map(_span, busy))
        # Booked starts only matter under a daily maximum, and are only read then.
        assert sorted(context.booked_starts) == (sorted(booked) if rules.max_per_day else [])
        assert all(s.tzinfo is UTC for b in context.busy for s in (b.start, b.end))

        offered = await open_slots(db, provider.provider_id, service_id, *window, now)
        expected = free_slots(
            schedule,
            rules,
            busy=busy,
            booked_starts=booked,
            window_start=window[0],
            window_end=window[1],
            now=now,
        )
        assert offered == expected
        assert expected, "the calendar leaves something free"


def _span(busy: Busy) -> tuple[datetime, datetime]:
    return busy.start, busy.end


async def test_rules_changed_between_the_offer_and_its_calendar_are_read_again(
    db: Database,
) -> None:
    """Slots never mix one moment's rules with another moment's calendar. SQLite reads both in
    one transaction (its snapshot keeps the old rules); PostgreSQL reads without a transaction,
    so its calendar statement reads the offer again and the change is noticed and read anew."""
    provider = await make_provider(db, duration_minutes=30, slot_interval_minutes=30)
    key = (provider.provider_id, provider.service_id)
    now = datetime.now(UTC)
    window = (now + timedelta(days=3), now + timedelta(days=5))
    before = await open_slots(db, *key, *window, now)
    assert before and all(s.end - s.start == timedelta(minutes=30) for s in before)

    async with schedule.reading(db) as calendar:
        offer = await calendar.offer(*key)
        assert offer is not None and offer.rules is not None
        async with db.session() as session, session.begin():
            service = await session.get(Service, provider.service_id)
            assert service is not None
            service.duration_minutes = 60

        reads = 0

        async def read() -> list[Slot]:
            nonlocal reads
            reads += 1
            current = offer if reads == 1 else await calendar.offer(*key)
            assert current is not None
            return await calendar.free_slots(current, *window, now)

        if db.dialect == "sqlite":
            assert await schedule.consistently(read) == before
            assert reads == 1
        else:
            with pytest.raises(schedule.OfferChanged):
                await calendar.free_slots(offer, *window, now)
            after = await schedule.consistently(read)
            assert reads == 2
            assert after and all(s.end - s.start == timedelta(minutes=60) for s in after)

    settled = await open_slots(db, *key, *window, now)
    assert settled and all(s.end - s.start == timedelta(minutes=60) for s in settled)
