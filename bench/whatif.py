"""What-if runs for `--profile`: what the engine costs here, and what each change would save.

The no-op saga in variants (search attributes like the booking saga's, local activities, no
sandbox), and the CPU cost of each kind of request the app answers.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from temporalio.client import Client

from bench import scenarios, throughput
from bench.noop_worker import UNSANDBOXED_SUFFIX
from bench.procstat import measured
from bench.seed import PASSWORD, BenchData
from bench.stack import NOOP_TASK_QUEUE

SEQUENTIAL = 20

VARIANTS: dict[str, dict[str, Any]] = {
    "no-op baseline (3 activities, sandboxed)": {},
    "+ search attributes and summaries as the saga": {"search_attributes": True},
    "local activities": {"local_activities": True},
    "no sandbox": {"task_queue": NOOP_TASK_QUEUE + UNSANDBOXED_SUFFIX},
    "local activities, no sandbox": {
        "local_activities": True,
        "task_queue": NOOP_TASK_QUEUE + UNSANDBOXED_SUFFIX,
    },
}


async def variants(
    client: Client, pids: Mapping[str, int], *, clients: int, window: float
) -> list[dict[str, Any]]:
    rows = []
    for name, options in VARIANTS.items():
        saga = throughput.noop_saga(client, **options)
        await throughput.warm_up(saga, 5, 1)
        alone = throughput.Window()
        for _ in range(SEQUENTIAL):
            await saga(0, alone)
        run = await throughput._run_window(saga, clients, 1.0, window, pids)
        at_ten = await early_return_at(client, 10, 100, **options)
        rows.append(
            {
                "variant": name,
                "early_return_p50_ms_1_client": statistics.median(alone.early_return) * 1000,
                "early_return_p50_ms_10_clients": at_ten,
                "per_second": run["per_second"],
                "cpu_ms_per_saga": run["cpu_ms_per_saga"],
            }
        )
    return rows


async def early_return_at(client: Client, clients: int, requests: int, **options: Any) -> float:
    """p50 ms of the update-with-start alone (what POST /appointments waits for) at `clients`."""
    latencies: list[float] = []
    handles = []
    remaining = iter(range(requests))

    async def one_client() -> None:
        for _ in remaining:
            began = time.perf_counter()
            handles.append(await throughput.start_noop(client, **options))
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(one_client() for _ in range(clients)))
    # Let them finish, so they do not linger on the server during the next measurement.
    await asyncio.gather(*(throughput.finish_noop(handle) for handle in handles))
    return statistics.median(latencies) * 1000


async def request_costs(
    http: httpx.AsyncClient, data: BenchData, pids: Mapping[str, int], n: int = SEQUENTIAL
) -> list[dict[str, Any]]:
    """CPU ms per request in each process, one request at a time."""
    customer = data.customers[1]
    booked: list[dict[str, Any]] = []

    async def post_booking() -> None:
        offer, start = data.booking.next()
        status, _, body = await scenarios.book(http, customer, offer, start)
        if status == 201:
            booked.append(body)

    async def pay() -> None:
        body = booked[len(paid)]
        paid.append(
            await http.post(
                f"/sandbox/payments/{body['payment']['intent_id']}/succeed",
                headers=customer.headers,
            )
        )

    async def get_booking() -> None:
        await http.get(f"/appointments/{booked[0]['id']}", headers=customer.headers)

    async def login() -> None:
        await http.post("/auth/login", data={"username": customer.email, "password": PASSWORD})

    offer = data.availability
    params = {
        "service_id": str(offer.service_id),
        "from": data.availability_from.isoformat(),
        "to": data.availability_to.isoformat(),
        "tz": offer.timezone,
    }

    async def health() -> None:
        await http.get("/health")

    async def availability() -> None:
        await http.get(f"/providers/{offer.provider_id}/availability", params=params)

    paid: list[Any] = []
    requests: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("POST /appointments (hold + payment intent)", post_booking),
        ("POST /sandbox/payments/{id}/succeed (+ confirm)", pay),
        ("GET /appointments/{id} (workflow query)", get_booking),
        ("GET /providers/{id}/availability (90 days)", availability),
        ("POST /auth/login (argon2)", login),
        ("GET /health", health),
    ]
    rows = []
    for name, request in requests:
        latencies = []
        with measured(pids) as cpu:
            for _ in range(n):
                began = time.perf_counter()
                await request()
                latencies.append(time.perf_counter() - began)
            if name.startswith("POST /sandbox"):
                await asyncio.sleep(0.5)  # let the confirmations the payments set off finish
        rows.append(
            {
                "request": name,
                "p50_ms": statistics.median(latencies) * 1000,
                "cpu_ms": cpu.per_op_ms(n),
            }
        )
    return rows


def render_variants(rows: list[dict[str, Any]], ours: dict[str, Any] | None) -> str:
    lines = [
        "what-if: the no-op saga in variants (20 customers, 10 s window)",
        "  (early return = update-with-start until the update answers, p50 at 1 and 10 clients)",
        f"  {'variant':<48}{'sagas/s':>8}{'early@1':>10}{'early@10':>10}  CPU ms per saga",
    ]
    for r in [*rows, *([ours] if ours else [])]:
        lines.append(
            f"  {r['variant']:<48}{r['per_second']:>8.2f}"
            f"{r['early_return_p50_ms_1_client']:>8.1f}ms"
            f"{r['early_return_p50_ms_10_clients']:>8.1f}ms  {_cpu(r['cpu_ms_per_saga'])}"
        )
    return "\n".join(lines)


def render_costs(rows: list[dict[str, Any]]) -> str:
    lines = [
        "request costs, one at a time",
        f"  {'request':<50}{'p50':>8}  CPU ms per request",
    ]
    lines += [f"  {r['request']:<50}{r['p50_ms']:>6.1f}ms  {_cpu(r['cpu_ms'])}" for r in rows]
    return "\n".join(lines)


def _cpu(per_process: Mapping[str, float]) -> str:
    shown = {k: v for k, v in per_process.items() if v >= 0.5}
    total = sum(per_process.values())
    return f"total {total:.0f}: " + ", ".join(f"{k} {v:.0f}" for k, v in shown.items())
