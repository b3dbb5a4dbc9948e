"""Availability under load: many clients asking for the 90-day calendar at once, for a while."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from bench.rawhttp import KeepAliveGet
from bench.seed import BenchData
from bench.stats import latency_ms, spread


async def availability_load(
    base_url: str, data: BenchData, *, clients: int, window_s: float, repetitions: int
) -> dict[str, Any]:
    """`clients` keep-alive connections each asking again as soon as answered, for `window_s`:
    requests per second and the latency spread."""
    offer = data.availability
    url = f"/providers/{offer.provider_id}/availability"
    params = {
        "service_id": str(offer.service_id),
        "from": data.availability_from.isoformat(),
        "to": data.availability_to.isoformat(),
        "tz": offer.timezone,
    }
    runs = [await _run(base_url, url, params, clients, window_s) for _ in range(repetitions)]
    return {
        "clients": clients,
        "window_s": window_s,
        "client": "minimal HTTP/1.1 keep-alive (bench/rawhttp.py)",
        **{q: spread(r[q] for r in runs) for q in ("per_second", "p50", "p99")},
        "errors": sum(r["errors"] for r in runs),
        "repetitions": runs,
    }


async def _run(
    base_url: str, url: str, params: dict[str, str], clients: int, window_s: float
) -> dict[str, Any]:
    took: list[float] = []
    errors = 0
    async with contextlib.AsyncExitStack() as stack:
        ones = [
            await stack.enter_async_context(KeepAliveGet(base_url, url, params))
            for _ in range(clients)
        ]
        first = await ones[0].get()
        if first.status != 200 or not json.loads(first.body)["count"]:
            raise RuntimeError(f"availability answered {first.status}: {first.body[:200]!r}")
        began = time.perf_counter()
        deadline = began + window_s

        async def client(lean: KeepAliveGet) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                answer = await lean.get()
                took.append(time.perf_counter() - start)
                # The same slots every time: the same length, without parsing on these CPUs.
                if answer.status != 200 or len(answer.body) != len(first.body):
                    errors += 1

        await asyncio.gather(*(client(lean) for lean in ones))
        elapsed = time.perf_counter() - began
    return {
        **latency_ms(took),
        "requests": len(took),
        "per_second": len(took) / elapsed,
        "errors": errors,
    }
