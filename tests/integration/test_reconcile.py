"""The reconciler's guarded writes: each fixes only what it found, and a retry changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from contract.reconcile import CandidateQuery, Finding
from db import reconcile
from db.engine import Database
from db.models import Appointment
from domain.booking_state import BookingStatus
from tests.factories import ProviderFixture, make_customer, make_provider

GRACE = timedelta(minutes=10)


async def _booking(
    db: Database,
    provider: ProviderFixture,
    status: BookingStatus,
    start: datetime,
    hold_expires_at: datetime | None = None,
) -> uuid.UUID:
    booking_id, created = uuid.uuid4(), datetime.now(UTC) - timedelta(days=3)
    end = start + provider.duration
    async with db.session() as session, session.begin():
        session.add(
            Appointment(
                id=booking_id,
                provider_id=provider.provider_id,
                service_id=provider.service_id,
                customer_id=await make_customer(db),
                start_at=start,
                end_at=end,
                blocked_start=start,
                blocked_end=end,
                status=status,
                hold_expires_at=hold_expires_at,
                price_amount=provider.price,
                currency="USD",
                created_at=created,
                updated_at=created,
            )
        )
    return booking_id


async def _status(db: Database, booking_id: uuid.UUID) -> str:
    async with db.session() as session:
        row = await session.get(Appointment, booking_id)
    assert row is not None
    return row.status


async def test_candidates_are_classified_against_one_now(db: Database) -> None:
    provider = await make_provider(db)
    now = datetime.now(UTC)
    week = (now + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    lapsed = await _booking(
        db, provider, BookingStatus.AWAITING_PAYMENT, week, now - timedelta(hours=1)
    )
    just_lapsed = await _booking(
        db, provider, BookingStatus.AWAITING_PAYMENT, week + timedelta(hours=1), now
    )
    ended = await _booking(db, provider, BookingStatus.CONFIRMED, now - timedelta(days=1))
    upcoming = await _booking(db, provider, BookingStatus.CONFIRMED, week + timedelta(hours=2))
    await _booking(db, provider, BookingStatus.CANCELLED, week + timedelta(hours=3))

    found = await reconcile.find_candidates(
        db, CandidateQuery(grace=GRACE, limit=10, provider_id=provider.provider_id), now=now
    )

    assert {c.booking_id: c.finding for c in found} == {
        lapsed: Finding.LAPSED_HOLD,
        just_lapsed: Finding.OPEN_HOLD,
        ended: Finding.ENDED,
        upcoming: Finding.UPCOMING,
    }
    assert [c.booking_id for c in found] == sorted(c.booking_id for c in found)


async def test_expiring_a_lapsed_hold_is_guarded_and_idempotent(db: Database) -> None:
    provider = await make_provider(db)
    now = datetime.now(UTC)
    week = (now + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    lapsed = await _booking(
        db, provider, BookingStatus.AWAITING_APPROVAL, week, now - timedelta(hours=1)
    )
    within_grace = await _booking(
        db, provider, BookingStatus.AWAITING_PAYMENT, week + timedelta(hours=1), now
    )
    confirmed = await _booking(db, provider, BookingStatus.CONFIRMED, week + timedelta(hours=2))
    cutoff = now - GRACE

    assert await reconcile.expire_lapsed_hold(db, lapsed, now=now, cutoff=cutoff)
    assert await reconcile.expire_lapsed_hold(db, lapsed, now=now, cutoff=cutoff)
    assert not await reconcile.expire_lapsed_hold(db, within_grace, now=now, cutoff=cutoff)
    assert not await reconcile.expire_lapsed_hold(db, confirmed, now=now, cutoff=cutoff)

    assert await _status(db, lapsed) == BookingStatus.EXPIRED
    assert await _status(db, within_grace) == BookingStatus.AWAITING_PAYMENT
    assert await _status(db, confirmed) == BookingStatus.CONFIRMED


async def test_completing_is_only_for_confirmed_bookings_that_ended(db: Database) -> None:
    provider = await make_provider(db)
    now = datetime.now(UTC)
    ended = await _booking(db, provider, BookingStatus.CONFIRMED, now - timedelta(days=1))
    upcoming = await _booking(db, provider, BookingStatus.CONFIRMED, now + timedelta(days=1))
    cutoff = now - GRACE

    assert await reconcile.complete_ended_booking(db, ended, now=now, cutoff=cutoff)
    assert await reconcile.complete_ended_booking(db, ended, now=now, cutoff=cutoff)
    assert not await reconcile.complete_ended_booking(db, upcoming, now=now, cutoff=cutoff)

    assert await _status(db, ended) == BookingStatus.COMPLETED
    assert await _status(db, upcoming) == BookingStatus.CONFIRMED
