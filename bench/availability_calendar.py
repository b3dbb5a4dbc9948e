"""The availability provider's 90 days: confirmed appointments, and busy blocks from three
connected calendars, written straight through SQLAlchemy.

The provider works weekdays 09:00-17:00 (bench/seed.py). The blocks fall on every day between
07:00 and 21:00 local, 15 to 90 minutes long on a 15-minute grid, as a busy person's Google,
Outlook and CalDAV calendars would hold them. 5,000 blocks spread evenly over those hours would
leave almost no quarter-hour free, so each day keeps two windows of its working hours clear (the
hours a provider keeps for bookings); the appointments fall anywhere in working hours.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from db.calendar_connections import block_key
from db.engine import Database
from db.models import Appointment, CalendarConnection, ExternalBusyBlock

if TYPE_CHECKING:
    from bench.seed import Offer

AVAILABILITY_APPOINTMENTS = 1000
AVAILABILITY_BUSY_BLOCKS = 5000
CALENDAR_KINDS = ("google", "microsoft", "caldav")
# Quarter-hours counted from DAY_START: the blocks' day, and the provider's working hours in it.
DAY_START, DAY_QUARTERS = time(7), 56
WORK_FIRST, WORK_END = 8, 40
# 15 to 90 minutes, half an hour and an hour the most common.
BLOCK_QUARTERS = (1, 2, 2, 3, 4, 4, 6)
CLEAR_WINDOW_QUARTERS = (4, 6, 8)
SECRET = "bench-not-a-secret"
Row = dict[str, Any]


async def fill_calendar(
    db: Database,
    offer: Offer,
    customer_id: uuid.UUID,
    first: date,
    last: date,
    now: datetime,
    *,
    price_amount: int,
    currency: str,
) -> None:
    """AVAILABILITY_APPOINTMENTS confirmed quarter-hours and AVAILABILITY_BUSY_BLOCKS blocks."""
    rng = random.Random(20240601)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    appointments = [
        _appointment(offer, customer_id, start, now, price_amount, currency)
        for start in _appointment_starts(rng, days, ZoneInfo(offer.timezone))
    ]
    connections = [_connection(offer.provider_id, kind, now) for kind in CALENDAR_KINDS]
    blocks = _blocks(rng, days, ZoneInfo(offer.timezone), connections, now)
    async with db.session() as session, session.begin():
        await session.execute(insert(Appointment), appointments)
        await session.execute(insert(CalendarConnection), connections)
        await session.execute(insert(ExternalBusyBlock), blocks)


def _appointment_starts(rng: random.Random, days: list[date], zone: ZoneInfo) -> list[datetime]:
    workdays = [day for day in days if day.weekday() < 5]
    quarters = [(day, q) for day in workdays for q in range(WORK_FIRST, WORK_END)]
    return [_at(day, q, zone) for day, q in rng.sample(quarters, AVAILABILITY_APPOINTMENTS)]


def _appointment(
    offer: Offer,
    customer_id: uuid.UUID,
    start: datetime,
    now: datetime,
    price_amount: int,
    currency: str,
) -> Row:
    end = start + timedelta(minutes=15)
    return {
        "id": uuid.uuid4(),
        "provider_id": offer.provider_id,
        "service_id": offer.service_id,
        "customer_id": customer_id,
        "start_at": start,
        "end_at": end,
        "blocked_start": start,
        "blocked_end": end,
        "status": "confirmed",
        "hold_expires_at": None,
        "price_amount": price_amount,
        "currency": currency,
        "customer_timezone": None,
        "cancel_reason": None,
        "created_at": now,
        "updated_at": now,
    }


def _connection(provider_id: uuid.UUID, kind: str, now: datetime) -> Row:
    account = f"bench-{kind}@bench.example.com"
    return {
        "id": uuid.uuid4(),
        "provider_id": provider_id,
        "kind": kind,
        "status": "active",
        "account": account,
        "server_url": "http://127.0.0.1:5232/" if kind == "caldav" else None,
        "secret": SECRET,
        "blocking_calendars": json.dumps([_calendar_id(kind)]),
        "destination_calendar": None,
        "sync_state": "{}",
        "last_synced_at": now,
        "full_synced_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _calendar_id(kind: str) -> str:
    return f"bench-{kind}-calendar"


def _blocks(
    rng: random.Random, days: list[date], zone: ZoneInfo, connections: list[Row], now: datetime
) -> list[Row]:
    """The blocks, the three calendars taking turns, never inside a day's clear windows."""
    clear = {day: _clear_windows(rng) for day in days}
    blocks: list[Row] = []
    while len(blocks) < AVAILABILITY_BUSY_BLOCKS:
        day, length = rng.choice(days), rng.choice(BLOCK_QUARTERS)
        first = rng.randrange(DAY_QUARTERS - length + 1)
        if clear[day].intersection(range(first, first + length)):
            continue
        connection = connections[len(blocks) % len(connections)]
        kind, calendar_id = connection["kind"], _calendar_id(connection["kind"])
        event_id = f"bench-{kind}-event-{len(blocks)}"
        start = _at(day, first, zone)
        blocks.append(
            {
                "id": uuid.uuid4(),
                "provider_id": connection["provider_id"],
                "source": kind,
                "external_id": block_key(connection["id"], calendar_id, event_id),
                "start_at": start,
                "end_at": start + timedelta(minutes=15 * length),
                "created_at": now,
                "connection_id": connection["id"],
                "calendar_id": calendar_id,
                "resource": event_id,
            }
        )
    return blocks


def _clear_windows(rng: random.Random) -> set[int]:
    """Two windows of working hours, one after the other, that no block touches."""
    one, two = rng.choice(CLEAR_WINDOW_QUARTERS), rng.choice(CLEAR_WINDOW_QUARTERS)
    first = rng.randrange(WORK_FIRST, WORK_END - one - two + 1)
    second = rng.randrange(first + one, WORK_END - two + 1)
    return set(range(first, first + one)) | set(range(second, second + two))


def _at(day: date, quarter: int, zone: ZoneInfo) -> datetime:
    """The start of the day's `quarter`-th quarter-hour after DAY_START, in UTC."""
    local = datetime.combine(day, DAY_START, zone) + timedelta(minutes=15 * quarter)
    return local.astimezone(UTC)
