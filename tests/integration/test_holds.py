"""Holding slots against a real database: SQLite always, PostgreSQL when DATABASE_URL names one."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from contract.messages import ReleaseRequest
from db import booking_lifecycle, booking_reads, holds
from db.engine import Database
from db.models import Appointment
from domain.availability import SlotNotBookable, SlotTaken
from domain.booking_state import BookingStatus
from tests.factories import future_local, hold_request, make_customer, make_provider


async def _rows(db: Database, provider_id: uuid.UUID) -> list[Appointment]:
    async with db.session() as session:
        result = await session.scalars(
            select(Appointment).where(Appointment.provider_id == provider_id)
        )
        return list(result)


async def _warm_pool(db: Database, connections: int) -> None:
    """Open the connections first, so the racing holds start together instead of one per
    connection handshake."""

    async def hold_a_connection() -> None:
        async with db.session() as session:
            await session.execute(select(1))
            await asyncio.sleep(0.1)

    await asyncio.gather(*(hold_a_connection() for _ in range(connections)))


async def test_twenty_concurrent_holds_on_one_slot_have_one_winner_and_leak_nothing(
    db: Database,
) -> None:
    provider = await make_provider(db)
    customers = [await make_customer(db) for _ in range(20)]
    start = future_local(provider.timezone, days_ahead=10)
    requests = [hold_request(provider, customer, start) for customer in customers]
    await _warm_pool(db, 10)

    results = await asyncio.gather(
        *(holds.hold_slot(db, r, now=datetime.now(UTC)) for r in requests),
        return_exceptions=True,
    )

    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(e, SlotTaken) for e in losers), losers
    rows = await _rows(db, provider.provider_id)
    assert [row.id for row in rows] == [winners[0].booking_id]
    assert rows[0].status == BookingStatus.AWAITING_PAYMENT


async def test_overlapping_holds_of_different_lengths_race_to_one_winner(db: Database) -> None:
    provider = await make_provider(db, buffer_after_minutes=15)
    customer = await make_customer(db)
    base = future_local(provider.timezone, days_ahead=11)
    # 10:00, 10:30 (inside 10:00's buffer) and 10:15 all contend for overlapping spans.
    starts = [base, base + timedelta(minutes=30), base + timedelta(minutes=15)] * 5
    results = await asyncio.gather(
        *(
            holds.hold_slot(db, hold_request(provider, customer, s), now=datetime.now(UTC))
            for s in starts
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert len(await _rows(db, provider.provider_id)) == 1


async def test_database_refuses_overlapping_active_rows_written_directly(db: Database) -> None:
    """The guard is in the database itself, not only in the code that checks first."""
    provider = await make_provider(db)
    customer = await make_customer(db)
    first = await holds.hold_slot(
        db,
        hold_request(provider, customer, future_local(provider.timezone, days_ahead=12)),
        now=datetime.now(UTC),
    )
    now = datetime.now(UTC)
    overlapping = Appointment(
        id=uuid.uuid4(),
        provider_id=provider.provider_id,
        service_id=provider.service_id,
        customer_id=customer,
        start_at=first.start + timedelta(minutes=10),
        end_at=first.end + timedelta(minutes=10),
        blocked_start=first.start + timedelta(minutes=10),
        blocked_end=first.end + timedelta(minutes=10),
        status=BookingStatus.CONFIRMED,
        hold_expires_at=None,
        price_amount=0,
        currency="USD",
        created_at=now,
        updated_at=now,
    )
    with pytest.raises(IntegrityError) as raised:
        async with db.session() as session, session.begin():
            session.add(overlapping)
    assert holds.is_overlap_violation(raised.value)

    # A cancelled row may overlap, and may not be revived into an active one.
    overlapping.status = BookingStatus.CANCELLED
    async with db.session() as session, session.begin():
        session.add(overlapping)
    with pytest.raises(IntegrityError):
        async with db.session() as session, session.begin():
            await session.execute(
                update(Appointment)
                .where(Appointment.id == overlapping.id)
                .values(status=BookingStatus.CONFIRMED)
            )


async def test_a_retried_hold_returns_the_same_hold(db: Database) -> None:
    provider = await make_provider(db)
    customer = await make_customer(db)
    request = hold_request(provider, customer, future_local(provider.timezone, days_ahead=13))
    first = await holds.hold_slot(db, request, now=datetime.now(UTC))
    again = await holds.hold_slot(db, request, now=datetime.now(UTC))
    assert again == first
    assert len(await _rows(db, provider.provider_id)) == 1


async def test_a_lapsed_hold_frees_its_slot_for_the_next_booking(db: Database) -> None:
    provider = await make_provider(db)
    first_customer, second_customer = await make_customer(db), await make_customer(db)
    start = future_local(provider.timezone, days_ahead=14)
    now = datetime.now(UTC)
    lapsed = await holds.hold_slot(
        db,
        hold_request(provider, first_customer, start, payment_deadline=now - timedelta(seconds=1)),
        now=now - timedelta(minutes=15),
    )
    second = await holds.hold_slot(db, hold_request(provider, second_customer, start), now=now)

    statuses = {row.id: row.status for row in await _rows(db, provider.provider_id)}
    assert statuses == {
        lapsed.booking_id: BookingStatus.EXPIRED,
        second.booking_id: BookingStatus.AWAITING_PAYMENT,
    }
    with pytest.raises(booking_lifecycle.HoldLost):
        await booking_lifecycle.confirm_booking(db, lapsed.booking_id, None, now=now)


async def test_an_unexpired_hold_keeps_its_slot(db: Database) -> None:
    provider = await make_provider(db)
    start = future_local(provider.timezone, days_ahead=15)
    await holds.hold_slot(
        db, hold_request(provider, await make_customer(db), start), now=datetime.now(UTC)
    )
    with pytest.raises(SlotTaken):
        await holds.hold_slot(
            db, hold_request(provider, await make_customer(db), start), now=datetime.now(UTC)
        )


async def test_buffers_keep_neighbouring_bookings_apart(db: Database) -> None:
    provider = await make_provider(db, buffer_before_minutes=10, buffer_after_minutes=15)
    customer = await make_customer(db)
    ten = future_local(provider.timezone, days_ahead=16)
    await holds.hold_slot(db, hold_request(provider, customer, ten), now=datetime.now(UTC))
    # 10:30 would start inside 10:00's 15-minute after-buffer (and its own 10-minute before-buffer).
    with pytest.raises(SlotTaken):
        await holds.hold_slot(
            db,
            hold_request(provider, customer, ten + timedelta(minutes=30)),
            now=datetime.now(UTC),
        )
    # 11:00 leaves 10:30-10:45 (after) and 10:50-11:00 (before) apart: allowed.
    await holds.hold_slot(
        db, hold_request(provider, customer, ten + timedelta(hours=1)), now=datetime.now(UTC)
    )


async def test_release_frees_the_slot_and_is_idempotent(db: Database) -> None:
    provider = await make_provider(db)
    customer = await make_customer(db)
    start = future_local(provider.timezone, days_ahead=17)
    hold = await holds.hold_slot(db, hold_request(provider, customer, start), now=datetime.now(UTC))
    release = ReleaseRequest(
        booking_id=hold.booking_id, status=BookingStatus.EXPIRED, reason="payment not received"
    )
    assert await booking_lifecycle.release_slot(db, release, now=datetime.now(UTC)) is True
    assert await booking_lifecycle.release_slot(db, release, now=datetime.now(UTC)) is False
    again = await holds.hold_slot(
        db, hold_request(provider, customer, start), now=datetime.now(UTC)
    )
    async with db.session() as session:
        active = await session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.provider_id == provider.provider_id,
                Appointment.status == BookingStatus.AWAITING_PAYMENT,
            )
        )
    assert active == 1
    assert again.booking_id != hold.booking_id


async def test_stored_instants_come_back_aware_and_equal(db: Database) -> None:
    provider = await make_provider(db, timezone="Asia/Kolkata")
    start = future_local(provider.timezone, days_ahead=18)  # +05:30, a half-hour offset
    hold = await holds.hold_slot(
        db, hold_request(provider, await make_customer(db), start), now=datetime.now(UTC)
    )
    state = await booking_reads.get_booking(db, hold.booking_id)
    assert state is not None
    assert state.start == start and state.start.utcoffset() == timedelta(0)
    assert state.end == start + provider.duration


async def test_the_daily_maximum_holds_under_concurrent_holds(db: Database) -> None:
    """Different times on one day do not overlap, so only serializing holds keeps the cap."""
    provider = await make_provider(db, max_per_day=1)
    start = future_local(provider.timezone, days_ahead=19, at=time(9))
    starts = [start + timedelta(minutes=30 * i) for i in range(6)]  # 09:00 to 11:30
    customers = [await make_customer(db) for _ in starts]
    await _warm_pool(db, len(starts))
    results = await asyncio.gather(
        *(
            holds.hold_slot(db, hold_request(provider, c, s), now=datetime.now(UTC))
            for c, s in zip(customers, starts, strict=True)
        ),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(results) - len(refused) == 1
    assert all(isinstance(r, SlotNotBookable) and r.code == "daily_limit_reached" for r in refused)
    assert len(await _rows(db, provider.provider_id)) == 1
