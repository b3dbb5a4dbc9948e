"""Booking latency, contention for one slot, and availability: repeated, timed per request."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx
from sqlalchemy import func, select

from bench.availability_calendar import (
    AVAILABILITY_APPOINTMENTS,
    AVAILABILITY_BUSY_BLOCKS,
    CALENDAR_KINDS,
)
from bench.procstat import measured
from bench.rawhttp import KeepAliveGet
from bench.rawhttp import Response as RawResponse
from bench.seed import BenchData, Customer, Offer
from bench.stats import latency_ms, spread
from db.engine import Database
from db.models import Appointment
from domain.booking_state import ACTIVE_STATUSES

Result = dict[str, Any]
R = TypeVar("R")
TRANSPORT_ERROR = 0


async def book(
    http: httpx.AsyncClient, customer: Customer, offer: Offer, start: Any
) -> tuple[int, float, Any]:
    """POST /appointments: (status code, seconds, JSON body or None); status 0 if it broke."""
    body = {"service_id": str(offer.service_id), "start": start.isoformat()}
    began = time.perf_counter()
    try:
        response = await http.post("/appointments", json=body, headers=customer.headers)
    except httpx.TransportError as err:
        # Counted as status 0: the outcome is unknown to the client.
        return TRANSPORT_ERROR, time.perf_counter() - began, {"error": repr(err)}
    elapsed = time.perf_counter() - began
    try:
        payload = response.json()
    except ValueError:
        payload = None
    return response.status_code, elapsed, payload


async def open_connections(http: httpx.AsyncClient, n: int) -> None:
    """Open `n` keep-alive connections first, so no measured request pays for a handshake.

    Call it right before measuring: the client drops connections idle for KEEPALIVE_S.
    """
    await asyncio.gather(*(http.get("/health") for _ in range(n)))


async def booking_latency(
    http: httpx.AsyncClient,
    data: BenchData,
    pids: Mapping[str, int],
    *,
    clients: int,
    requests: int,
    repetitions: int,
    booked: list[str] | None = None,
) -> Result:
    """`clients` concurrent customers each booking one slot after another, `requests` in all.

    The workflow ids of the bookings made go to `booked` when it is given.
    """
    runs: list[Result] = []
    for _ in range(repetitions):
        await open_connections(http, clients)
        runs.append(await _latency_run(http, data, pids, clients, requests, booked))
        await asyncio.sleep(0.5)
    return {
        "clients": clients,
        "requests_per_repetition": requests,
        **{q: spread(r[q] for r in runs) for q in ("p50", "p95", "p99")},
        "per_second": spread(r["per_second"] for r in runs),
        "errors": sum(n for r in runs for s, n in r["statuses"].items() if s != "201"),
        "repetitions": runs,
    }


async def _latency_run(
    http: httpx.AsyncClient,
    data: BenchData,
    pids: Mapping[str, int],
    clients: int,
    requests: int,
    booked: list[str] | None,
) -> Result:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    remaining = iter(range(requests))

    async def client(customer: Customer) -> None:
        for _ in remaining:
            offer, start = data.booking.next()
            status, elapsed, body = await book(http, customer, offer, start)
            statuses[status] += 1
            latencies.append(elapsed)
            if booked is not None and status == 201:
                booked.append(f"booking-{body['id']}")

    with measured(pids) as cpu:
        await asyncio.gather(*(client(c) for c in data.customers[:clients]))
    return {
        **latency_ms(latencies),
        "requests": len(latencies),
        "per_second": len(latencies) / cpu.wall_s,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "cpu_ms_per_request": cpu.per_op_ms(len(latencies)),
        "busy_cores": round(cpu.busy_cores(), 2),
    }


async def contention(
    http: httpx.AsyncClient, db: Database, data: BenchData, *, requests: int, repetitions: int
) -> Result:
    """`requests` different customers ask for the same slot at once; a fresh slot per race."""
    if len(data.customers) < requests:
        raise ValueError(f"the race needs {requests} customers, {len(data.customers)} seeded")
    runs: list[Result] = []
    for _ in range(repetitions):
        await open_connections(http, requests)
        runs.append(await _race(http, db, data, requests))
        await asyncio.sleep(0.5)
    return {
        "requests": requests,
        "winners": [r["winners"] for r in runs],
        "conflicts": [r["conflicts"] for r in runs],
        "other": [sum(r["other"].values()) for r in runs],
        "leaked_holds": [r["leaked_holds"] for r in runs],
        "one_winner_every_race": all(r["winners"] == 1 for r in runs),
        **{q: spread(r[q] for r in runs) for q in ("p50", "p99")},
        "repetitions": runs,
    }


async def _race(http: httpx.AsyncClient, db: Database, data: BenchData, requests: int) -> Result:
    offer, start = data.contention.next()
    gate = asyncio.Event()

    async def contender(customer: Customer) -> tuple[int, float, Any]:
        await gate.wait()
        return await book(http, customer, offer, start)

    tasks = [asyncio.create_task(contender(c)) for c in data.customers[:requests]]
    await asyncio.sleep(0)
    gate.set()
    answers = await asyncio.gather(*tasks)
    statuses = Counter(status for status, _, _ in answers)
    winners = statuses.get(201, 0)
    # Give any straggling hold (a 503 whose workflow went on) a moment to land first.
    if set(statuses) - {201, 409}:
        await asyncio.sleep(2)
    active = await _active_rows(db, offer, start)
    return {
        "slot": start.isoformat(),
        "winners": winners,
        "conflicts": statuses.get(409, 0),
        "other": {str(k): v for k, v in statuses.items() if k not in (201, 409)},
        "active_rows": active,
        "leaked_holds": active - winners,
        **latency_ms([elapsed for _, elapsed, _ in answers]),
    }


async def _active_rows(db: Database, offer: Offer, start: Any) -> int:
    async with db.session() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.provider_id == offer.provider_id,
                Appointment.start_at == start,
                Appointment.status.in_(ACTIVE_STATUSES),
            )
        )
    return int(found or 0)


async def availability(
    http: httpx.AsyncClient, data: BenchData, *, requests: int, repetitions: int
) -> Result:
    """GET the availability of 90 days full of appointments and busy blocks, one at a time."""
    offer = data.availability
    url = f"/providers/{offer.provider_id}/availability"
    params = {
        "service_id": str(offer.service_id),
        "from": data.availability_from.isoformat(),
        "to": data.availability_to.isoformat(),
        "tz": offer.timezone,
    }
    described = {
        "days": (data.availability_to - data.availability_from).days + 1,
        "appointments": AVAILABILITY_APPOINTMENTS,
        "busy_blocks": AVAILABILITY_BUSY_BLOCKS,
        "calendars": list(CALENDAR_KINDS),
        "from": data.availability_from.isoformat(),
        "to": data.availability_to.isoformat(),
    }
    try:
        probe = await http.get(url, params=params)
    except httpx.HTTPError as err:
        return {"available": False, "reason": f"GET {url} failed: {err!r}", **described}
    if probe.status_code != 200:
        return {
            "available": False,
            "reason": f"GET {url} answered {probe.status_code}: {probe.text[:200]}",
            **described,
        }
    slots = probe.json().get("count")

    def lean_ok(response: RawResponse) -> None:
        # A whole, well-formed answer with the same slots.
        if response.status != 200 or json.loads(response.body)["count"] != slots:
            raise RuntimeError(
                f"availability answered {response.status} mid-run: {response.body[:200]!r}"
            )

    def httpx_ok(answer: httpx.Response) -> None:
        if answer.status_code != 200:
            raise RuntimeError(f"availability answered {answer.status_code} mid-run")

    runs: list[Result] = []
    through_httpx: list[Result] = []
    async with KeepAliveGet(str(http.base_url), url, params) as lean:
        for _ in range(repetitions):
            runs.append(await one_at_a_time(lean.get, lean_ok, requests))
            through_httpx.append(
                await one_at_a_time(lambda: http.get(url, params=params), httpx_ok, requests)
            )
    return {
        "available": True,
        **described,
        "free_slots": slots,
        "client": "minimal HTTP/1.1 keep-alive (bench/rawhttp.py)",
        **{q: spread(r[q] for r in runs) for q in ("p50", "p95", "p99")},
        "repetitions": runs,
        "httpx": {q: spread(r[q] for r in through_httpx) for q in ("p50", "p95", "p99")},
        "httpx_repetitions": through_httpx,
    }


async def one_at_a_time(
    request: Callable[[], Awaitable[R]], check: Callable[[R], None], requests: int
) -> Result:
    """Latencies of `requests` calls made one after another; each answer is checked outside
    its sample."""
    latencies = []
    for _ in range(requests):
        began = time.perf_counter()
        answer = await request()
        latencies.append(time.perf_counter() - began)
        check(answer)
    return {**latency_ms(latencies), "requests": len(latencies)}
