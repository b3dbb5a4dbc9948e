"""The rate limiter's cost, measured two ways in the same run.

- In process: RateLimiter.check against memory:// and the local Redis, per check.
- End to end: POST /auth/login and POST /appointments, one at a time, taking turns between the
  stack's API (limits on, set far above the bench's rate) and a second API process on the same
  database and Temporal with RATE_LIMITS_ENABLED=false, so drift on the shared machine falls on
  both alike.

LIMITS_ENV is what the bench's stack runs with: every limit on, none ever reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import redis.asyncio
from limits import parse_many

from api.rate_limiter import RateLimiter, Rule
from bench.scenarios import book, open_connections
from bench.seed import PASSWORD, BenchData
from bench.stack import Stack
from bench.stats import latency_ms, spread
from devstack import processes

NEVER_REACHED = "1000000/minute"
LIMITS_ENV = {
    "RATE_LIMITS_ENABLED": "true",
    "RATE_LIMIT_LOGIN_ACCOUNT": NEVER_REACHED,
    "RATE_LIMIT_LOGIN_IP": NEVER_REACHED,
    "RATE_LIMIT_REGISTER_IP": NEVER_REACHED,
    "RATE_LIMIT_BOOKING_CUSTOMER": NEVER_REACHED,
    "RATE_LIMIT_SEARCH_IP": NEVER_REACHED,
    # Not a rate limit, but the latency scenarios keep many unpaid holds per customer.
    "MAX_OPEN_HOLDS": "1000000",
}
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
# Callers the in-process checks take turns as: each one's window grows as a real one would.
CALLERS = 20


async def check_cost(url: str, checks: int) -> dict[str, Any]:
    """Microseconds per RateLimiter.check (one hit of a moving window) with storage at `url`."""
    storage = url.split(":", 1)[0]
    if storage.startswith("redis") and not await _redis_answers(url):
        return {"storage": storage, "available": False, "reason": f"no Redis at {url}"}
    limiter = RateLimiter.from_url(
        url,
        {Rule.BOOKING_CUSTOMER: parse_many(NEVER_REACHED)},
        key_prefix=f"bench-limits-{uuid.uuid4().hex}",
    )
    callers = [uuid.uuid4().hex for _ in range(CALLERS)]
    took: list[float] = []
    try:
        for i in range(checks + CALLERS):
            began = time.perf_counter()
            await limiter.check(Rule.BOOKING_CUSTOMER, callers[i % CALLERS])
            if i >= CALLERS:  # the first of each caller creates its window
                took.append(time.perf_counter() - began)
    finally:
        await limiter.aclose()
    us = [s * 1e6 for s in took]
    return {
        "storage": storage,
        "available": True,
        "checks": len(us),
        "p50_us": statistics.median(us),
        "p99_us": latency_ms(took)["p99"] * 1000,
        "mean_us": statistics.fmean(us),
    }


async def _redis_answers(url: str) -> bool:
    client = redis.asyncio.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(await client.ping())
    except (OSError, redis.RedisError):
        return False
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def unlimited_api(stack: Stack) -> AsyncIterator[str]:
    """A second API process like the stack's, with the rate limits off; its base URL."""
    port = processes.free_port()
    env = {**stack.env, "RATE_LIMITS_ENABLED": "false"}
    api = processes.api(port, env, stack.workdir / "api-unlimited.log").start()
    try:
        base_url = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(processes.wait_until_ready, base_url, api, 60)
        yield base_url
    finally:
        api.stop(timeout=5)


Timed = Callable[[httpx.AsyncClient], Awaitable[float]]


async def on_and_off(
    stack: Stack, data: BenchData, *, requests: int, repetitions: int
) -> dict[str, Any]:
    """Login and booking latency with the limits on and off, taking turns, one at a time."""
    turn = iter(range(1 << 30))

    async def login(http: httpx.AsyncClient) -> float:
        customer = data.customers[next(turn) % len(data.customers)]
        form = {"username": customer.email, "password": PASSWORD}
        began = time.perf_counter()
        answer = await http.post("/auth/login", data=form)
        took = time.perf_counter() - began
        if answer.status_code != 200:
            raise RuntimeError(f"POST /auth/login answered {answer.status_code}: {answer.text}")
        return took

    async def booking(http: httpx.AsyncClient) -> float:
        offer, start = data.booking.next()
        status, took, body = await book(http, data.customers[0], offer, start)
        if status != 201:
            raise RuntimeError(f"POST /appointments answered {status}: {body}")
        return took

    found: dict[str, Any] = {"requests_per_repetition": requests}
    async with (
        unlimited_api(stack) as other_url,
        httpx.AsyncClient(base_url=stack.base_url, timeout=60) as limited,
        httpx.AsyncClient(base_url=other_url, timeout=60) as unlimited,
    ):
        for name, timed in (("login", login), ("booking", booking)):
            for http in (limited, unlimited, limited, unlimited):  # the new API's first answers
                await timed(http)
            runs = [await _turns(timed, limited, unlimited, requests) for _ in range(repetitions)]
            found[name] = {
                side: {q: spread(r[side][q] for r in runs) for q in ("p50", "p95", "p99")}
                for side in ("on", "off")
            }
            found[name]["added_pct"] = spread(r["added_pct"] for r in runs)
            found[name]["repetitions"] = runs
    return found


async def _turns(
    timed: Timed, limited: httpx.AsyncClient, unlimited: httpx.AsyncClient, requests: int
) -> dict[str, Any]:
    await open_connections(limited, 1)
    await open_connections(unlimited, 1)
    on: list[float] = []
    off: list[float] = []
    for i in range(requests):
        pair = ((limited, on), (unlimited, off))
        for http, into in pair if i % 2 == 0 else reversed(pair):
            into.append(await timed(http))
    with_limits, without = latency_ms(on), latency_ms(off)
    return {
        "on": with_limits,
        "off": without,
        "added_pct": 100 * (with_limits["p50"] / without["p50"] - 1),
    }


async def login_latency(
    base_url: str, data: BenchData, *, clients: int, requests: int, repetitions: int
) -> dict[str, Any]:
    """POST /auth/login from `clients` at once, `requests` in all; argon2 is most of each."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        runs = [await _logins(http, data, clients, requests) for _ in range(repetitions)]
    return {
        "clients": clients,
        "requests_per_repetition": requests,
        **{q: spread(r[q] for r in runs) for q in ("p50", "p95", "p99", "per_second")},
        "repetitions": runs,
    }


async def _logins(
    http: httpx.AsyncClient, data: BenchData, clients: int, requests: int
) -> dict[str, Any]:
    await open_connections(http, clients)
    remaining = iter(range(requests))
    took: list[float] = []

    async def client() -> None:
        for i in remaining:
            customer = data.customers[i % len(data.customers)]
            form = {"username": customer.email, "password": PASSWORD}
            began = time.perf_counter()
            answer = await http.post("/auth/login", data=form)
            took.append(time.perf_counter() - began)
            if answer.status_code != 200:
                raise RuntimeError(f"POST /auth/login answered {answer.status_code}")

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return {**latency_ms(took), "per_second": len(took) / (time.perf_counter() - began)}
