"""What `make dev` prints once the stack is up: where everything is and a booking to paste."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from config import get_settings
from db import seed
from db.engine import Database
from db.schedule import open_slots


async def first_free_start(db: Database, after: datetime) -> datetime:
    """The first demo consultation slot after `after`, as the availability endpoint offers it."""
    for week in range(8):
        start = after + timedelta(weeks=week)
        slots = await open_slots(
            db, seed.PROVIDER_ID, seed.CONSULTATION_ID, start, start + timedelta(weeks=1), after
        )
        if slots:
            return slots[0].start.astimezone(ZoneInfo(seed.PROVIDER_TIMEZONE))
    raise LookupError("no free demo slot in the next eight weeks")


def banner(
    api_port: int, ui_port: int, example_start: datetime, caldav_port: int, caldav_password: str
) -> str:
    api = f"http://localhost:{api_port}"
    worker_port = get_settings().worker_metrics_port
    worker_metrics = f"http://localhost:{worker_port}/metrics" if worker_port else "off"
    return f"""
  The booking stack is up.

    Booking page {api}/   (the demo provider: {api}/book/{seed.PROVIDER_ID})
    Dashboard    {api}/dashboard   (providers sign in there)
    API          {api}            (interactive docs: {api}/docs)
    Temporal UI  http://localhost:{ui_port}   (filter: BookingStatus="confirmed")
    Metrics      API {api}/metrics, worker {worker_metrics}
    Demo logins  customer {seed.CUSTOMER_EMAIL} / {seed.CUSTOMER_PASSWORD}
                 provider {seed.PROVIDER_EMAIL} / {seed.PROVIDER_PASSWORD}

  Book the demo consultation ($50.00, 30 min, {seed.PROVIDER_TIMEZONE}) from another terminal:

    TOKEN=$(curl -s {api}/auth/login -d username={seed.CUSTOMER_EMAIL} \\
        -d password={seed.CUSTOMER_PASSWORD} | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
    curl -s {api}/appointments -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
        -d '{{"service_id": "{seed.CONSULTATION_ID}", "start": "{example_start.isoformat()}"}}' | tee booking.json
    # pay through the sandbox checkout (it signs the event and delivers it as the webhook does)
    curl -s -X POST {api}/sandbox/payments/$(python3 -c 'import json; print(json.load(open("booking.json"))["payment"]["intent_id"])')/succeed -H "Authorization: Bearer $TOKEN"
    curl -s {api}/appointments/$(python3 -c 'import json; print(json.load(open("booking.json"))["id"])') -H "Authorization: Bearer $TOKEN"

  Connect the demo provider's calendar (a local CalDAV server) so bookings appear in it and
  its meetings block slots:

    PTOKEN=$(curl -s {api}/auth/login -d username={seed.PROVIDER_EMAIL} \\
        -d password={seed.PROVIDER_PASSWORD} | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
    curl -s {api}/calendar/connections/caldav -H "Authorization: Bearer $PTOKEN" \\
        -H 'Content-Type: application/json' \\
        -d '{{"url": "http://127.0.0.1:{caldav_port}/", "username": "{seed.PROVIDER_EMAIL}", "password": "{caldav_password}"}}'

  Google and Outlook are local stand-ins here: start the sign-in, then let
  devstack.consent play the browser that consents and lands on our callback:

    URL=$(curl -s -X POST {api}/calendar/connections/google -H "Authorization: Bearer $PTOKEN" \\
        | python3 -c 'import sys,json; print(json.load(sys.stdin)["authorization_url"])')
    .venv/bin/python -m devstack.consent "$URL"      # the same with .../connections/microsoft

  Press Ctrl-C to stop everything.
"""
