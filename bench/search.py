"""Provider search over SEARCH_PROVIDERS providers with SEARCH_SERVICES services each, seeded
straight into the database, timed one request at a time.

The providers work weekdays 09:00-17:00 in four zones; on the searched date a tenth of them
are on holiday and each of the others has BUSY_PER_PROVIDER busy blocks that day, so a search
with a date reads real calendars for its page.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from bench.procstat import measured
from bench.rawhttp import KeepAliveGet
from bench.rawhttp import Response as RawResponse
from bench.scenarios import one_at_a_time
from bench.stats import spread
from db.engine import Database
from db.models import ExternalBusyBlock, Holiday, ProviderProfile, Service, User, WorkingHours

SEARCH_PROVIDERS = 2000
SEARCH_SERVICES = ("Massage", "Physiotherapy", "Sports therapy")
SEARCH_ZONES = ("America/New_York", "Europe/Berlin", "Asia/Tokyo", "UTC")
SEARCH_TEXT = "massage"
SEARCH_ZONE = "America/New_York"
PAGE = 20
HOLIDAY_EVERY = 10
BUSY_PER_PROVIDER = 3
Row = dict[str, Any]


def search_day() -> date:
    """A weekday a week or more ahead, in the searchers' zone."""
    day = datetime.now(ZoneInfo(SEARCH_ZONE)).date() + timedelta(days=7)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return day


async def seed_search(db: Database, providers: int, day: date) -> None:
    """The providers, their services, weekly hours, holidays and busy blocks on `day`."""
    now = datetime.now(UTC)
    rows: dict[type, list[Row]] = {
        k: [] for k in (User, ProviderProfile, Service, WorkingHours, Holiday, ExternalBusyBlock)
    }
    for i in range(providers):
        user_id, provider_id = uuid.uuid4(), uuid.uuid4()
        zone = SEARCH_ZONES[i % len(SEARCH_ZONES)]
        rows[User].append(_user(user_id, now))
        rows[ProviderProfile].append(
            {
                "id": provider_id,
                "user_id": user_id,
                "display_name": f"Search provider {i:05d}",
                "timezone": zone,
                "auto_confirm": True,
                "created_at": now,
            }
        )
        rows[Service] += [_service(provider_id, name, now) for name in SEARCH_SERVICES]
        rows[WorkingHours] += [
            {
                "id": uuid.uuid4(),
                "provider_id": provider_id,
                "weekday": d,
                "start_time": time(9),
                "end_time": time(17),
            }
            for d in range(5)
        ]
        if i % HOLIDAY_EVERY == 0:
            rows[Holiday].append(
                {"id": uuid.uuid4(), "provider_id": provider_id, "day": day, "name": "off"}
            )
            continue
        for k in range(BUSY_PER_PROVIDER):
            start = datetime.combine(day, time(9 + 2 * k, 30 * (i % 2)), ZoneInfo(zone))
            rows[ExternalBusyBlock].append(
                {
                    "id": uuid.uuid4(),
                    "provider_id": provider_id,
                    "source": "google",
                    "external_id": f"search-{provider_id.hex}-{k}",
                    "start_at": start,
                    "end_at": start + timedelta(minutes=90),
                    "created_at": now,
                }
            )
    async with db.session() as session, session.begin():
        for kind, kept in rows.items():
            if kept:
                await session.execute(insert(kind), kept)


def _user(user_id: uuid.UUID, now: datetime) -> Row:
    return {
        "id": user_id,
        "email": f"search-provider-{user_id.hex[:16]}@bench.example.com",
        "password_hash": "!",
        "full_name": "Search Provider",
        "phone": None,
        "role": "provider",
        "created_at": now,
    }


def _service(provider_id: uuid.UUID, name: str, now: datetime) -> Row:
    return {
        "id": uuid.uuid4(),
        "provider_id": provider_id,
        "name": name,
        "duration_minutes": 60,
        "price_amount": 8000,
        "currency": "USD",
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 15,
        "slot_interval_minutes": 30,
        "min_notice_minutes": 60,
        "horizon_days": 90,
        "max_per_day": None,
        "reminder_offsets": "1440,60",
        "active": True,
        "created_at": now,
    }


def variants(day: date, providers: int) -> dict[str, dict[str, str]]:
    """The searches timed, by name: their query parameters."""
    dated = {"service": SEARCH_TEXT, "date": day.isoformat(), "tz": SEARCH_ZONE}
    last_page = max(0, providers - providers // HOLIDAY_EVERY - PAGE)
    return {
        "by service": {"service": SEARCH_TEXT, "limit": str(PAGE)},
        "by service and date": {**dated, "limit": str(PAGE)},
        "by service and date, last page": {**dated, "limit": str(PAGE), "offset": str(last_page)},
    }


async def provider_search(
    base_url: str,
    api_pid: int,
    day: date,
    *,
    providers: int,
    requests: int,
    repetitions: int,
) -> dict[str, Any]:
    """Each variant's latency, one request at a time over one keep-alive connection, and the
    API process's CPU per request."""
    found: dict[str, Any] = {
        "providers": providers,
        "services_each": len(SEARCH_SERVICES),
        "date": day.isoformat(),
        "page": PAGE,
        "client": "minimal HTTP/1.1 keep-alive (bench/rawhttp.py)",
        "variants": [],
    }
    for name, params in variants(day, providers).items():
        runs: list[dict[str, Any]] = []
        async with KeepAliveGet(base_url, "/providers", params) as lean:
            first = await lean.get()
            _check(first)
            answer = json.loads(first.body)
            for _ in range(repetitions):
                with measured({"api": api_pid}) as cpu:
                    run = await one_at_a_time(lean.get, _check, requests)
                # Robust to other load on the machine, as latency is not.
                run["api_cpu_ms"] = cpu.per_op_ms(requests)["api"]
                run["other_busy_cores"] = round(cpu.cpu_s["other"] / cpu.wall_s, 2)
                runs.append(run)
        found["variants"].append(
            {
                "name": name,
                "params": params,
                "count": answer["count"],
                "shown": len(answer["data"]),
                **{q: spread(r[q] for r in runs) for q in ("p50", "p95", "p99", "api_cpu_ms")},
                "repetitions": runs,
            }
        )
    return found


def _check(response: RawResponse) -> None:
    if response.status != 200:
        raise RuntimeError(f"GET /providers answered {response.status}: {response.body[:200]!r}")
