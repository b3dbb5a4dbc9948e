"""Demo data for the embedded default: one provider with priced and free services, one customer.

Idempotent: rows are keyed by fixed ids and only missing ones are inserted.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings, get_settings
from db.engine import Database
from db.models import ProviderProfile, Service, User, WorkingHours
from domain.passwords import hash_password

PROVIDER_USER_ID = UUID("11111111-1111-4111-8111-111111111111")
PROVIDER_ID = UUID("22222222-2222-4222-8222-222222222222")
CONSULTATION_ID = UUID("33333333-3333-4333-8333-333333333333")
INTRO_CALL_ID = UUID("44444444-4444-4444-8444-444444444444")
CUSTOMER_ID = UUID("55555555-5555-4555-8555-555555555555")

PROVIDER_EMAIL, PROVIDER_PASSWORD = "provider@demo.example.com", "demo-provider-pw"
CUSTOMER_EMAIL, CUSTOMER_PASSWORD = "customer@demo.example.com", "demo-customer-pw"
PROVIDER_TIMEZONE = "America/New_York"
# Monday to Friday, 09:00-12:00 and 13:00-17:00 New York time: a lunch break in between.
WORKING_HOURS = [(time(9), time(12)), (time(13), time(17))]


def _hours_id(weekday: int, index: int) -> UUID:
    return UUID(f"66666666-6666-4666-8666-0000000000{weekday}{index}")


async def seed_demo(db: Database) -> bool:
    """Insert whatever demo rows are missing; True if anything was inserted."""
    now = datetime.now(UTC)
    rows: list[Any] = [
        User(
            id=PROVIDER_USER_ID,
            email=PROVIDER_EMAIL,
            password_hash=hash_password(PROVIDER_PASSWORD),
            full_name="Ada Demo",
            phone="+15555550100",
            role="provider",
            created_at=now,
        ),
        User(
            id=CUSTOMER_ID,
            email=CUSTOMER_EMAIL,
            password_hash=hash_password(CUSTOMER_PASSWORD),
            full_name="Carl Customer",
            phone="+15555550199",
            role="customer",
            created_at=now,
        ),
        ProviderProfile(
            id=PROVIDER_ID,
            user_id=PROVIDER_USER_ID,
            display_name="Dr. Ada Demo",
            timezone=PROVIDER_TIMEZONE,
            auto_confirm=True,
            created_at=now,
        ),
        Service(
            id=CONSULTATION_ID,
            provider_id=PROVIDER_ID,
            name="Consultation",
            duration_minutes=30,
            price_amount=5000,
            currency="USD",
            buffer_before_minutes=0,
            buffer_after_minutes=10,
            slot_interval_minutes=30,
            min_notice_minutes=60,
            horizon_days=90,
            max_per_day=None,
            active=True,
            created_at=now,
        ),
        Service(
            id=INTRO_CALL_ID,
            provider_id=PROVIDER_ID,
            name="Free intro call",
            duration_minutes=15,
            price_amount=0,
            currency="USD",
            buffer_before_minutes=0,
            buffer_after_minutes=0,
            slot_interval_minutes=15,
            min_notice_minutes=60,
            horizon_days=30,
            max_per_day=4,
            active=True,
            created_at=now,
        ),
    ]
    rows += [
        WorkingHours(
            id=_hours_id(weekday, index),
            provider_id=PROVIDER_ID,
            weekday=weekday,
            start_time=start,
            end_time=end,
        )
        for weekday in range(5)
        for index, (start, end) in enumerate(WORKING_HOURS)
    ]
    async with db.session() as session, session.begin():
        inserted = [row for row in rows if await _missing(session, row)]
        for row in inserted:
            session.add(row)
            # Parents before children: foreign keys are checked row by row.
            await session.flush()
    return bool(inserted)


async def _missing(session: AsyncSession, row: Any) -> bool:
    return await session.get(type(row), row.id) is None


async def main(settings: Settings) -> None:
    db = Database.from_settings(settings)
    try:
        changed = await seed_demo(db)
        print("demo data inserted" if changed else "demo data already present")
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(get_settings()))
