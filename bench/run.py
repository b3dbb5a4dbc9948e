"""One benchmark run against a running stack: seed, warm up, then every scenario in turn."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import httpx
import temporalio
from temporalio.client import Client

from bench import limiter, report, scenarios, search, sse, throughput, whatif
from bench.availability_load import availability_load
from bench.calendar_sync import calendar_sync
from bench.plan import Plan
from bench.punctuality import punctuality
from bench.seed import PASSWORD, BenchData, seed
from bench.stack import ROOT, Stack
from bench.stats import spread
from db.engine import Database
from workflows.client import connect


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def pids(stack: Stack) -> dict[str, int]:
    found = {name: p.process.pid for name, p in stack.app_processes.items() if p.process}
    return {**found, "bench": os.getpid()}


# Below uvicorn's 5 s keep-alive: reusing a connection the server is closing breaks a request.
KEEPALIVE_S = 3.0


def http_client(stack: Stack, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=KEEPALIVE_S,
    )
    return httpx.AsyncClient(base_url=stack.base_url, timeout=60, limits=limits)


async def prepare(stack: Stack, db: Database, plan: Plan, http: httpx.AsyncClient) -> BenchData:
    """Seed the data, sign one customer in for real, and check the booking path answers."""
    progress("seeding providers, customers and the 90-day calendar")
    data = await seed(
        db,
        stack.settings,
        providers=plan.providers,
        customers=plan.customers,
        reminding=plan.reminder_bookings,
    )
    first = data.customers[0]
    login = await http.post("/auth/login", data={"username": first.email, "password": PASSWORD})
    if login.status_code != 200:
        raise RuntimeError(f"POST /auth/login answered {login.status_code}: {login.text}")
    first.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    return data


async def run(
    stack: Stack, plan: Plan, *, poll_interval: float, only: str | None = None
) -> dict[str, Any]:
    """Every scenario in turn, or with `only` ("availability", "availability-load", "search",
    "limits", "sse", "punctuality") that one alone."""
    db = Database.from_settings(stack.settings)
    temporal = await connect(stack.settings)
    watched = pids(stack)
    results: dict[str, Any] = {"meta": meta(stack), "plan": asdict(plan)}
    try:
        async with http_client(stack, plan.race_requests + 10) as http:
            data = await prepare(stack, db, plan, http)
            progress("warming up (bookings, payments and no-op sagas)")
            rounds = plan.warmup_rounds
            await throughput.warm_up(throughput.http_saga(http, data, poll_interval), 5, rounds)
            await throughput.warm_up(throughput.noop_saga(temporal), 5, rounds)

            if only in (None, "availability"):
                progress(
                    f"availability ({plan.repetitions} x {plan.availability_requests} requests)"
                )
                results["availability"] = await scenarios.availability(
                    http, data, requests=plan.availability_requests, repetitions=plan.repetitions
                )
            if only in (None, "availability-load"):
                progress(f"availability at {plan.load_clients} clients ({plan.load_window_s:g} s)")
                results["availability_load"] = await availability_load(
                    stack.base_url,
                    data,
                    clients=plan.load_clients,
                    window_s=plan.load_window_s,
                    repetitions=plan.repetitions,
                )
            if only in (None, "search"):
                await _search(stack, db, plan, results)
            if only in (None, "sse"):
                progress(
                    f"live availability ({plan.sse_subscribers} SSE subscribers, "
                    f"{plan.repetitions} x {plan.sse_changes} holds)"
                )
                results["sse"] = await sse.sse_fanout(
                    stack.base_url,
                    db,
                    data,
                    subscribers=plan.sse_subscribers,
                    changes=plan.sse_changes,
                    repetitions=plan.repetitions,
                )
            if only in (None, "limits"):
                await _limits(stack, plan, data, results)
            if only is None:
                await _measure(
                    stack, plan, http, db, temporal, data, watched, poll_interval, results
                )
            if only in (None, "punctuality"):
                progress(
                    f"reminder punctuality ({plan.reminder_bookings} bookings, reminders due at "
                    "once)"
                )
                stack.check_alive()
                results["punctuality"] = await punctuality(
                    http,
                    temporal,
                    db,
                    data,
                    watched,
                    bookings=plan.reminder_bookings,
                    clients=plan.saga_clients,
                    within_s=plan.reminders_within_s,
                    prepare_s=stack.settings.reminder_prepare_seconds,
                    poll_interval=poll_interval,
                    say=progress,
                )
    finally:
        await db.dispose()
    if only is None:
        results["calendar_sync"] = await calendar_sync(plan.calendar_events, say=progress)
    results["targets"] = report.targets(results) + sse.targets(results)
    return results


async def run_calendar_sync(plan: Plan) -> dict[str, Any]:
    """The calendar sync scenario alone: it needs the adapters and their servers, no stack."""
    results: dict[str, Any] = {"meta": meta(None), "plan": asdict(plan)}
    results["calendar_sync"] = await calendar_sync(plan.calendar_events, say=progress)
    results["targets"] = report.targets(results)
    return results


async def _search(stack: Stack, db: Database, plan: Plan, results: dict[str, Any]) -> None:
    day = search.search_day()
    progress(f"seeding {plan.search_providers} providers for the search")
    await search.seed_search(db, plan.search_providers, day)
    progress(f"provider search ({plan.repetitions} x {plan.search_requests} requests a variant)")
    results["provider_search"] = await search.provider_search(
        stack.base_url,
        pids(stack)["api"],
        day,
        providers=plan.search_providers,
        requests=plan.search_requests,
        repetitions=plan.repetitions,
    )


async def _limits(stack: Stack, plan: Plan, data: BenchData, results: dict[str, Any]) -> None:
    """Login latency, then the limiter's cost: in process, and limits on against off."""
    results["login_latency"] = []
    for clients, requests in plan.login_requests.items():
        progress(f"login latency at {clients} clients ({plan.repetitions} x {requests})")
        results["login_latency"].append(
            await limiter.login_latency(
                stack.base_url,
                data,
                clients=clients,
                requests=requests,
                repetitions=plan.repetitions,
            )
        )
    progress(f"the limiter's cost ({plan.limiter_checks} checks a storage, limits on and off)")
    results["limiter"] = {
        "in_process": [
            await limiter.check_cost(url, plan.limiter_checks)
            for url in ("memory://", limiter.LOCAL_REDIS)
        ],
        **await limiter.on_and_off(
            stack, data, requests=plan.limiter_requests, repetitions=plan.repetitions
        ),
    }


async def _measure(
    stack: Stack,
    plan: Plan,
    http: httpx.AsyncClient,
    db: Database,
    temporal: Client,
    data: BenchData,
    watched: dict[str, int],
    poll_interval: float,
    results: dict[str, Any],
) -> None:
    """Booking latency, the engine floor, saga throughput and contention."""
    results["booking_latency"] = []
    for clients, requests in plan.latency_requests.items():
        progress(f"booking latency at {clients} clients ({plan.repetitions} x {requests})")
        stack.check_alive()
        results["booking_latency"].append(
            await scenarios.booking_latency(
                http,
                data,
                watched,
                clients=clients,
                requests=requests,
                repetitions=plan.repetitions,
            )
        )
    requests = plan.latency_requests[report.TARGET_BOOKING_CLIENTS]
    progress(f"engine floor: no-op update-with-start at 10 clients ({requests} each)")
    floor = [
        await whatif.early_return_at(
            temporal, report.TARGET_BOOKING_CLIENTS, requests, **throughput.OUR_SHAPE
        )
        for _ in range(plan.repetitions)
    ]
    results["booking_floor"] = {
        "clients": report.TARGET_BOOKING_CLIENTS,
        "shape": "no-op update-with-start, local activities, unsandboxed",
        "p50": spread(floor),
    }
    progress(
        f"saga throughput and no-op baseline ({plan.repetitions} x "
        f"{plan.saga_window_s:g} s each, {plan.saga_clients} customers)"
    )
    stack.check_alive()
    ours, baseline = await throughput.throughput_pair(
        http,
        temporal,
        data,
        watched,
        clients=plan.saga_clients,
        warmup=plan.saga_warmup_s,
        window=plan.saga_window_s,
        repetitions=plan.repetitions,
        poll_interval=poll_interval,
    )
    ratios = [
        o["per_second"] / b["per_second"] if b["per_second"] else float("nan")
        for o, b in zip(ours["repetitions"], baseline["repetitions"], strict=True)
    ]
    same_shape = baseline["same_shape"]["repetitions"]
    to_same_shape = [
        o["per_second"] / b["per_second"] if b["per_second"] else float("nan")
        for o, b in zip(ours["repetitions"], same_shape, strict=True)
    ]
    results["saga_throughput"] = {
        **ours,
        "ratio_to_baseline": spread(ratios),
        "ratio_to_same_shape": spread(to_same_shape),
    }
    results["baseline"] = baseline
    progress(f"contention ({plan.repetitions} races of {plan.race_requests} requests)")
    stack.check_alive()
    results["contention"] = await scenarios.contention(
        http, db, data, requests=plan.race_requests, repetitions=plan.repetitions
    )


def meta(stack: Stack | None) -> dict[str, Any]:
    """The run's circumstances; without a stack (the calendar sync alone), no database."""
    return {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "db_backend": stack.backend if stack else None,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "temporalio": temporalio.__version__,
        "temporal_cli": _output([stack.temporal.args[0], "--version"]) if stack else "",
        "git_commit": _output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "git_dirty": bool(_output(["git", "-C", str(ROOT), "status", "--porcelain"])),
        "overrides": {k: v for k, v in stack.env.items() if k not in BASE_ENV} if stack else {},
    }


BASE_ENV = {
    *limiter.LIMITS_ENV,
    "ENVIRONMENT",
    "DATABASE_URL",
    "TEMPORAL_ADDRESS",
    "TEMPORAL_TASK_QUEUE",
    "PAYMENT_GATEWAY",
}


def _output(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
