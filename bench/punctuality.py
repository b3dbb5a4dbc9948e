"""Reminder punctuality: bookings whose reminders all fall due at one instant, and how late each
reminder left, read from the database.

Every booking goes through the API as in the saga throughput (book, sandbox payment,
confirmed). Booking i goes to a reminder provider's service k (bench/seed.py), which reminds
60 + k minutes before the start, and starts 60 + k minutes after `due`: every reminder falls due
at `due`, the first second of one minute (the slot grid is whole minutes, so they cannot be
spread within it). `due` is the first whole minute after a timed calibration batch says the
bookings will be made (with room to spare) plus REMINDER_PREPARE_SECONDS, so that each is
confirmed before its reminder is prepared, as a booking made days ahead is.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from temporalio.client import Client

from bench import reminder_trace
from bench.procstat import measured
from bench.scenarios import open_connections
from bench.seed import REMINDER_SERVICES, BenchData, Offer, Reminding
from bench.stats import latency_ms
from bench.throughput import SagaFailed, Window, confirmed_booking
from contract.notifications import Delivery, Kind
from db.engine import Database
from db.models import Appointment, Notification, Service
from domain.reminders import leads_from_text

# The calibration's pace, this much slower, plus a margin: when the bookings will all be made.
SAFETY = 1.5
MARGIN_S = 5.0
CALIBRATION_ROUNDS = 2
POLL_S = 0.5

Slot = tuple[Offer, datetime]
Result = dict[str, Any]


@dataclass
class Made:
    # Booking id -> when the client saw it confirmed (epoch seconds).
    confirmed: dict[uuid.UUID, float] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def reminder_slots(
    reminding: Sequence[Sequence[Reminding]], due: datetime, count: int
) -> list[Slot]:
    """`count` slots whose reminders all fall due at `due`, the providers taking turns."""
    turns = [p[k] for k in range(REMINDER_SERVICES) for p in reminding if k < len(p)]
    if len(turns) < count:
        raise ValueError(f"{count} reminder bookings asked for, {len(turns)} services seeded")
    return [(r.offer, due + timedelta(minutes=r.lead_minutes)) for r in turns[:count]]


async def punctuality(
    http: httpx.AsyncClient,
    temporal: Client,
    db: Database,
    data: BenchData,
    pids: Mapping[str, int],
    *,
    bookings: int,
    clients: int,
    within_s: float,
    prepare_s: float,
    poll_interval: float,
    say: Callable[[str], None] = lambda _: None,
) -> Result:
    """Make `bookings` bookings whose reminders fall due at one instant; time each reminder."""
    calibration = await _make(
        http,
        data,
        [data.booking.next() for _ in range(CALIBRATION_ROUNDS * clients)],
        clients,
        poll_interval,
    )
    if not calibration.confirmed:
        raise RuntimeError(f"no calibration booking was confirmed: {dict(calibration.failures)}")
    pace = len(calibration.confirmed) / calibration.seconds
    # Every booking made (and its reminders' timers armed) before the reminders are prepared.
    making_s = SAFETY * bookings / pace + MARGIN_S
    ready_by = datetime.now(UTC) + timedelta(seconds=making_s + prepare_s)
    due = ready_by.replace(second=0, microsecond=0) + timedelta(minutes=1)
    say(f"making {bookings} bookings whose reminders fall due at {due:%H:%M:%S} UTC")
    slots = reminder_slots(data.reminding, due, bookings)
    made = await _make(http, data, slots, clients, poll_interval)
    if not made.confirmed:
        raise RuntimeError(f"no reminder booking was confirmed: {dict(made.failures)}")
    late = {booking for booking, at in made.confirmed.items() if at >= due.timestamp()}
    expected = set(made.confirmed) - late
    providers = {offer.provider_id for offer, _ in slots}
    say(
        f"made in {made.seconds:.0f} s; waiting {due.timestamp() - time.time():.0f} s for the "
        f"reminders' instant, then up to {within_s:.0f} s for the reminders"
    )
    await asyncio.sleep(max(0.0, due.timestamp() - time.time()))
    with measured(pids) as cpu:
        rows = await _wait_for_reminders(db, providers, expected, due.timestamp() + within_s)
    delays, dues, early = [], set(), 0
    for row in rows:
        due_at = row.start_at - timedelta(minutes=leads_from_text(row.reminder_offsets)[0])
        dues.add(due_at)
        delays.append(((row.sent_at or row.created_at) - due_at).total_seconds())
        early += row.sent_at is not None and row.sent_at < due_at
    sent = {row.appointment_id: row.sent_at for row in rows if row.sent_at is not None}
    return {
        "bookings": bookings,
        "confirmed": len(made.confirmed),
        "failures": dict(made.failures),
        "confirmed_after_due": len(late),
        "due": due.isoformat(),
        "spread": "all due at the first second of one minute",
        "due_instants": len(dues),
        "calibration_per_second": round(pace, 2),
        "making_s": round(made.seconds, 1),
        "slack_s": round(due.timestamp() - max(made.confirmed.values()), 1),
        "expected": len(expected),
        "reminders": len(rows),
        "missing": len(expected - {row.appointment_id for row in rows}),
        "unsent": sum(row.sent_at is None for row in rows),
        # Sent before their instant: prepared reminders wait for it, so never any.
        "early": early,
        "within_s": within_s,
        "delay_ms": latency_ms(delays),
        "window_s": round(cpu.wall_s, 1),
        "busy_cores": round(cpu.busy_cores(), 2),
        "cores": {name: round(s / cpu.wall_s, 2) for name, s in cpu.cpu_s.items() if cpu.wall_s},
        "cpu_ms_per_reminder": cpu.per_op_ms(len(rows)),
        "trace": await reminder_trace.trace(temporal, sent, due),
    }


async def _make(
    http: httpx.AsyncClient,
    data: BenchData,
    slots: Sequence[Slot],
    clients: int,
    poll_interval: float,
) -> Made:
    """Book, pay and see confirmed every slot, `clients` customers at a time."""
    made = Made()
    remaining = iter(slots)

    async def customer(index: int) -> None:
        seen = Window()
        for offer, start in remaining:
            try:
                booking_id = await confirmed_booking(
                    http, data.customers[index], offer, start, seen, poll_interval
                )
            except (SagaFailed, httpx.HTTPError) as err:
                made.failures[str(err) or type(err).__name__] += 1
            else:
                made.confirmed[uuid.UUID(booking_id)] = time.time()

    await open_connections(http, clients)
    began = time.perf_counter()
    await asyncio.gather(*(customer(i) for i in range(clients)))
    made.seconds = time.perf_counter() - began
    return made


async def _wait_for_reminders(
    db: Database, providers: set[uuid.UUID], expected: set[uuid.UUID], deadline: float
) -> list[Any]:
    """The reminder rows of the `expected` bookings, once each has one and none is pending,
    or as they are at `deadline` (epoch seconds)."""
    query = (
        select(
            Notification.appointment_id,
            Notification.status,
            Notification.created_at,
            Notification.sent_at,
            Appointment.start_at,
            Service.reminder_offsets,
        )
        .join(Appointment, Appointment.id == Notification.appointment_id)
        .join(Service, Service.id == Appointment.service_id)
        .where(
            Notification.kind == Kind.REMINDER.value, Appointment.provider_id.in_(list(providers))
        )
    )
    while True:
        async with db.reading() as connection:
            found = await connection.execute(query)
        # Only the bookings this scenario made and saw confirmed in time count.
        rows = [row for row in found if row.appointment_id in expected]
        settled = {row.appointment_id for row in rows} >= expected and all(
            row.status != Delivery.PENDING for row in rows
        )
        if settled or time.time() >= deadline:
            return rows
        await asyncio.sleep(POLL_S)
