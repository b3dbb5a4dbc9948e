"""What `make dev` prints once the stack is up: where everything is and a booking to paste."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from db import seed
from db.engine import Database
from db.models import Appointment
from domain.booking_state import ACTIVE_STATUSES


async def first_free_start(db: Database, after: datetime) -> datetime:
    """The first demo consultation start after `after` (weekdays 10:00-16:00) not yet taken."""
    zone = ZoneInfo(seed.PROVIDER_TIMEZONE)
    async with db.session() as session:
        taken = set(
            await session.scalars(
                select(Appointment.start_at).where(
                    Appointment.provider_id == seed.PROVIDER_ID,
                    Appointment.status.in_(ACTIVE_STATUSES),
                    Appointment.start_at >= after,
                )
            )
        )
    day = after.astimezone(zone).date()
    for offset in range(60):
        local_day = day + timedelta(days=offset)
        if local_day.weekday() >= 5:
            continue
        for hour in (10, 11, 14, 15, 16):
            start = datetime.combine(local_day, time(hour), zone)
            if start > after and not any(abs(start - t) < timedelta(minutes=40) for t in taken):
                return start
    raise LookupError("no free demo slot in the next 60 days")


def banner(api_port: int, ui_port: int, example_start: datetime) -> str:
    api = f"http://localhost:{api_port}"
    return f"""
  The booking stack is up.

    API          {api}            (interactive docs: {api}/docs)
    Temporal UI  http://localhost:{ui_port}   (filter: BookingStatus="confirmed")
    Demo logins  customer {seed.CUSTOMER_EMAIL} / {seed.CUSTOMER_PASSWORD}
                 provider {seed.PROVIDER_EMAIL} / {seed.PROVIDER_PASSWORD}

  Book the demo consultation ($50.00, 30 min, {seed.PROVIDER_TIMEZONE}) from another terminal:

    TOKEN=$(curl -s {api}/auth/login -d username={seed.CUSTOMER_EMAIL} \\
        -d password={seed.CUSTOMER_PASSWORD} | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
    curl -s {api}/appointments -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
        -d '{{"service_id": "{seed.CONSULTATION_ID}", "start": "{example_start.isoformat()}"}}' | tee booking.json
    # pay through the sandbox checkout (a signed webhook reaches POST /payments/webhook)
    curl -s -X POST {api}/sandbox/payments/$(python3 -c 'import json; print(json.load(open("booking.json"))["payment"]["intent_id"])')/succeed
    curl -s {api}/appointments/$(python3 -c 'import json; print(json.load(open("booking.json"))["id"])') -H "Authorization: Bearer $TOKEN"

  Press Ctrl-C to stop everything.
"""
