"""Test data with random ids and emails, so tests never collide on a shared database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contract.messages import HoldRequest
from db.engine import Database
from db.models import ProviderProfile, Service, User, WorkingHours

# Cheap to compute; the tests that exercise real hashing go through POST /auth/register.
UNUSABLE_PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$unusable$unusable"


@dataclass(frozen=True)
class ProviderFixture:
    user_id: uuid.UUID
    provider_id: uuid.UUID
    service_id: uuid.UUID
    timezone: str
    duration: timedelta
    price: int


async def make_customer(db: Database) -> uuid.UUID:
    user_id = uuid.uuid4()
    async with db.session() as session, session.begin():
        session.add(
            User(
                id=user_id,
                email=f"customer-{user_id.hex[:12]}@example.com",
                password_hash=UNUSABLE_PASSWORD_HASH,
                full_name="Test Customer",
                phone="+15555550123",
                role="customer",
                created_at=datetime.now(UTC),
            )
        )
    return user_id


async def make_provider(
    db: Database,
    *,
    timezone: str = "America/New_York",
    price: int = 5000,
    currency: str = "USD",
    duration_minutes: int = 30,
    buffer_before_minutes: int = 0,
    buffer_after_minutes: int = 0,
    slot_interval_minutes: int = 30,
    min_notice_minutes: int = 0,
    horizon_days: int = 365,
    max_per_day: int | None = None,
    auto_confirm: bool = True,
    hours: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13), time(17))),
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6),
) -> ProviderFixture:
    user_id, provider_id, service_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    async with db.session() as session, session.begin():
        session.add(
            User(
                id=user_id,
                email=f"provider-{user_id.hex[:12]}@example.com",
                password_hash=UNUSABLE_PASSWORD_HASH,
                full_name="Test Provider",
                phone=None,
                role="provider",
                created_at=now,
            )
        )
        await session.flush()
        session.add(
            ProviderProfile(
                id=provider_id,
                user_id=user_id,
                display_name="Test Provider",
                timezone=timezone,
                auto_confirm=auto_confirm,
                created_at=now,
            )
        )
        await session.flush()
        session.add(
            Service(
                id=service_id,
                provider_id=provider_id,
                name="Test service",
                duration_minutes=duration_minutes,
                price_amount=price,
                currency=currency,
                buffer_before_minutes=buffer_before_minutes,
                buffer_after_minutes=buffer_after_minutes,
                slot_interval_minutes=slot_interval_minutes,
                min_notice_minutes=min_notice_minutes,
                horizon_days=horizon_days,
                max_per_day=max_per_day,
                active=True,
                created_at=now,
            )
        )
        for weekday in weekdays:
            for start, end in hours:
                session.add(
                    WorkingHours(
                        provider_id=provider_id, weekday=weekday, start_time=start, end_time=end
                    )
                )
    return ProviderFixture(
        user_id=user_id,
        provider_id=provider_id,
        service_id=service_id,
        timezone=timezone,
        duration=timedelta(minutes=duration_minutes),
        price=price,
    )


def future_local(
    timezone: str, *, days_ahead: int = 7, at: time = time(10), on: date | None = None
) -> datetime:
    """A local wall-clock time in `timezone` on a future day (aware)."""
    zone = ZoneInfo(timezone)
    day = on or (datetime.now(zone) + timedelta(days=days_ahead)).date()
    return datetime.combine(day, at, zone)


def hold_request(
    provider: ProviderFixture,
    customer_id: uuid.UUID,
    start: datetime,
    *,
    payment_deadline: datetime | None = None,
) -> HoldRequest:
    return HoldRequest(
        booking_id=uuid.uuid4(),
        provider_id=provider.provider_id,
        service_id=provider.service_id,
        customer_id=customer_id,
        start=start,
        customer_timezone=None,
        payment_deadline=payment_deadline or datetime.now(UTC) + timedelta(minutes=15),
    )
