"""Live availability: how long a change takes to reach every open SSE subscriber.

Subscribers hold GET /providers/{id}/availability/events open on one provider of their own; the
bench then writes a hold straight through db/holds.py, as the worker does, one at a time, each
on a date of its own, and times from the hold's commit until each subscriber has read its
`changed` event. The subscribers are raw sockets that only scan for the event's date: the
bench's CPU is spent on the server, not on parsing in the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bench.seed import BenchData, one_provider
from bench.stats import latency_ms, spread
from contract.messages import HoldRequest
from db import holds
from db.engine import Database

NAME = "change reaches 200 SSE subscribers p99 < 1 s"
TARGET_SUBSCRIBERS = 200
TARGET_P99_S = 1.0
ZONE = "Asia/Tokyo"  # the dates in the events are the provider's, not UTC's
RECEIVE_TIMEOUT_S = 10.0
# Each hold waits a random moment first, so it does not fall in step with the feed's reading
# that delivered the one before (SQLite's feed is read every 250 ms).
JITTER_S = 0.3


class Subscriber:
    """One SSE connection: the time it read each date's `changed` event."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self._address = (host, port)
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode("ascii")
        self.received: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def open(self, heard: Callable[[str], None]) -> None:
        reader, writer = await asyncio.open_connection(*self._address)
        writer.write(self._request)
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"availability events answered {status!r}")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass  # headers: subscribed before they were sent
        self._task = asyncio.create_task(self._read(reader, writer, heard))

    async def _read(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        heard: Callable[[str], None],
    ) -> None:
        try:
            while line := await reader.readline():
                if line.startswith(b"data: {"):
                    now = time.perf_counter()
                    for day in json.loads(line[6:]).get("dates") or ():
                        if day not in self.received:
                            self.received[day] = now
                            heard(day)
        finally:
            writer.close()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def sse_fanout(
    base_url: str,
    db: Database,
    data: BenchData,
    *,
    subscribers: int,
    changes: int,
    repetitions: int,
) -> dict[str, Any]:
    """`changes` holds per repetition, each timed from its commit to every subscriber."""
    offer = await one_provider(db, ZONE)
    parts = urlsplit(base_url)
    assert parts.hostname is not None and parts.port is not None
    path = f"/providers/{offer.provider_id}/availability/events"
    streams = [Subscriber(parts.hostname, parts.port, path) for _ in range(subscribers)]
    counts: dict[str, int] = {}
    everyone: dict[str, asyncio.Event] = {}

    def heard(day: str) -> None:
        counts[day] = counts.get(day, 0) + 1
        if counts[day] == subscribers and day in everyone:
            everyone[day].set()

    first_day = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=3)
    customer = data.customers[0].user_id
    jitter = random.Random(14)
    runs: list[dict[str, Any]] = []
    try:
        await asyncio.gather(*(stream.open(heard) for stream in streams))
        for repetition in range(repetitions):
            took: list[float] = []
            for n in range(changes):
                day = first_day + timedelta(days=repetition * changes + n)
                start = datetime.combine(day, datetime.min.time(), ZoneInfo(ZONE)) + timedelta(
                    hours=10
                )
                everyone[day.isoformat()] = asyncio.Event()
                await asyncio.sleep(jitter.uniform(0, JITTER_S))
                await holds.hold_slot(
                    db,
                    HoldRequest(
                        booking_id=uuid.uuid4(),
                        provider_id=offer.provider_id,
                        service_id=offer.service_id,
                        customer_id=customer,
                        start=start,
                        customer_timezone=None,
                        payment_deadline=datetime.now(UTC) + timedelta(minutes=15),
                    ),
                    now=datetime.now(UTC),
                )
                committed = time.perf_counter()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(everyone[day.isoformat()].wait(), RECEIVE_TIMEOUT_S)
                took += [
                    s.received[day.isoformat()] - committed
                    for s in streams
                    if day.isoformat() in s.received
                ]
            missed = subscribers * changes - len(took)
            runs.append({**latency_ms(took), "deliveries": len(took), "missed": missed})
    finally:
        await asyncio.gather(*(stream.close() for stream in streams))
    return {
        "subscribers": subscribers,
        "changes": changes,
        "feed": "PostgreSQL LISTEN/NOTIFY" if db.dialect == "postgresql" else "SQLite table polled",
        **{q: spread(r[q] for r in runs) for q in ("p50", "p99", "max")},
        "missed": sum(r["missed"] for r in runs),
        "repetitions": runs,
    }


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's target, in seconds, with the spread as its note (bench/report.py prints
    every target's note)."""
    section = results.get("sse")
    if section is None:
        return []
    p99_s = section["p99"]["median"] / 1000
    met = section["missed"] == 0 and p99_s < TARGET_P99_S
    found: dict[str, Any] = {
        "target": NAME,
        "measured": p99_s,
        "status": "met" if met else "NOT MET",
        "note": (
            f"{section['subscribers']} subscribers x {section['changes']} holds, "
            f"{section['feed']}: p50 {_ms(section['p50'])}, p99 {_ms(section['p99'])}, "
            f"max {_ms(section['max'])} ms (min / median / max over repetitions), "
            f"{section['missed']} deliveries missed"
        ),
    }
    if section["subscribers"] != TARGET_SUBSCRIBERS:
        found["note"] += f"; the target is for {TARGET_SUBSCRIBERS} subscribers"
    return [found]


def _ms(figure: dict[str, Any]) -> str:
    return " / ".join(f"{figure[k]:.1f}" for k in ("min", "median", "max"))
