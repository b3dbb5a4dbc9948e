"""Saga throughput end to end, and the no-op baseline driven the same way on the same server.

N customers loop over whole sagas. Loops start together; the first `warmup` seconds are not
counted; a saga counts when it is seen confirmed inside the `window` that follows. After the
window no new saga starts and the ones in flight are finished (uncounted), so repetitions do
not overlap.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from bench.noop import NoopBooking, NoopPayment
from bench.noop_worker import UNSANDBOXED_SUFFIX
from bench.noop_workflow import NoopBookingWorkflow
from bench.procstat import measured
from bench.scenarios import book, open_connections
from bench.seed import BenchData, Customer, Offer
from bench.stack import NOOP_TASK_QUEUE
from bench.stats import latency_ms, spread
from workflows import search_attributes as attributes

CONFIRM_WITHIN = 30.0
DRAIN_WITHIN = 60.0


class SagaFailed(Exception):
    pass


@dataclass
class Window:
    counted: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    polls: int = 0
    sagas: int = 0
    ids: list[str] = field(default_factory=list)
    early_return: list[float] = field(default_factory=list)


Saga = Callable[[int, Window], Awaitable[None]]


async def _run_window(
    saga: Saga, clients: int, warmup: float, window: float, pids: Mapping[str, int]
) -> dict[str, Any]:
    result = Window()
    stop = asyncio.Event()

    async def customer(index: int) -> None:
        while not stop.is_set():
            began = time.perf_counter()
            try:
                await saga(index, result)
            except (SagaFailed, httpx.HTTPError) as err:
                result.failures[str(err) or type(err).__name__] += 1
                await asyncio.sleep(0.1)
                continue
            done = time.perf_counter()
            if counting_from <= done < counting_to:
                result.counted.append(done - began)

    started = time.perf_counter()
    counting_from, counting_to = started + warmup, started + warmup + window
    loops = [asyncio.create_task(customer(i)) for i in range(clients)]
    await asyncio.sleep(warmup)
    with measured(pids) as cpu:
        await asyncio.sleep(window)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*loops), DRAIN_WITHIN)
    confirmed = len(result.counted)
    return {
        "confirmed": confirmed,
        "per_second": confirmed / window,
        "saga_ms": latency_ms(result.counted),
        "early_return_ms": latency_ms(result.early_return),
        "failures": dict(result.failures),
        "polls_per_saga": round(result.polls / result.sagas, 2) if result.sagas else None,
        "cpu_ms_per_saga": cpu.per_op_ms(confirmed),
        "busy_cores": round(cpu.busy_cores(), 2),
    }


def _summary(runs: list[dict[str, Any]], clients: int, window: float) -> dict[str, Any]:
    return {
        "clients": clients,
        "window_s": window,
        "per_second": spread(r["per_second"] for r in runs),
        "saga_p50_ms": spread(r["saga_ms"]["p50"] for r in runs),
        "saga_p99_ms": spread(r["saga_ms"]["p99"] for r in runs),
        "failures": sum(sum(r["failures"].values()) for r in runs),
        "repetitions": runs,
    }


def http_saga(http: httpx.AsyncClient, data: BenchData, poll_interval: float) -> Saga:
    """Book the next slot, pay, and wait until the booking is confirmed (`confirmed_booking`)."""

    async def saga(index: int, seen: Window) -> None:
        offer, start = data.booking.next()
        await confirmed_booking(http, data.customers[index], offer, start, seen, poll_interval)

    return saga


async def confirmed_booking(
    http: httpx.AsyncClient,
    customer: Customer,
    offer: Offer,
    start: datetime,
    seen: Window,
    poll_interval: float,
) -> str:
    """Book; pay through the sandbox checkout, which answers once the booking has acted on the
    payment; poll GET /appointments/{id} only when that answer is not yet "confirmed".

    Returns the booking's id; raises SagaFailed when a step fails or it is not confirmed."""
    status, elapsed, booked = await book(http, customer, offer, start)
    seen.early_return.append(elapsed)
    if status != 201:
        raise SagaFailed(f"book {status}")
    paid = await http.post(
        f"/sandbox/payments/{booked['payment']['intent_id']}/succeed", headers=customer.headers
    )
    receipt = paid.json() if paid.status_code == 200 else {}
    if not receipt.get("webhook", {}).get("body", {}).get("handled"):
        raise SagaFailed(f"pay {paid.status_code}")
    seen.sagas += 1
    seen.ids.append(f"booking-{booked['id']}")
    # The sandbox checkout answers once the booking has acted on the payment.
    if (receipt.get("booking") or {}).get("status") == "confirmed":
        return str(booked["id"])
    deadline = time.perf_counter() + CONFIRM_WITHIN
    while time.perf_counter() < deadline:
        await asyncio.sleep(poll_interval)
        seen.polls += 1
        state = await http.get(f"/appointments/{booked['id']}", headers=customer.headers)
        if state.status_code == 200 and state.json()["status"] == "confirmed":
            return str(booked["id"])
    raise SagaFailed("not confirmed in time")


async def start_noop(
    client: Client,
    *,
    task_queue: str = NOOP_TASK_QUEUE,
    local_activities: bool = False,
    search_attributes: bool = False,
) -> WorkflowHandle[Any, Any]:
    """Update-with-start of one no-op saga; returns once the update answers (the early return)."""
    booking = NoopBooking(
        booking_id=uuid.uuid4(),
        local_activities=local_activities,
        search_attributes=search_attributes,
    )
    metadata: dict[str, Any] = {}
    if search_attributes:
        metadata["search_attributes"] = attributes.initial(
            status="requested",
            provider_id=booking.booking_id,
            service_id=booking.booking_id,
            start=datetime.now(UTC),
        )
        metadata["static_summary"] = f"No-op booking {booking.booking_id}"
    start = WithStartWorkflowOperation(
        NoopBookingWorkflow.run,
        booking,
        id=f"bench-noop-{booking.booking_id}",
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        **metadata,
    )
    await client.execute_update_with_start_workflow(
        NoopBookingWorkflow.wait_until_held, start_workflow_operation=start
    )
    return await start.workflow_handle()


async def finish_noop(handle: WorkflowHandle[Any, Any]) -> None:
    """Pay the no-op saga and wait until it has confirmed and completed."""
    await handle.signal(NoopBookingWorkflow.payment_succeeded, NoopPayment(intent_id="pi_noop"))
    await handle.result()


def noop_saga(client: Client, **options: Any) -> Saga:
    """One no-op saga straight through the Temporal client: start+update, signal, result."""

    async def saga(index: int, seen: Window) -> None:
        seen.sagas += 1
        try:
            began = time.perf_counter()
            handle = await start_noop(client, **options)
            seen.early_return.append(time.perf_counter() - began)
            seen.ids.append(handle.id)
            await finish_noop(handle)
        except Exception as err:
            raise SagaFailed(type(err).__name__) from err

    return saga


async def warm_up(saga: Saga, clients: int, rounds: int) -> None:
    """Run a few sagas first: imports, caches, pools and sticky queues all warm."""
    for _ in range(rounds):
        await asyncio.gather(*(saga(i, Window()) for i in range(clients)))


async def throughput_pair(
    http: httpx.AsyncClient,
    client: Client,
    data: BenchData,
    pids: Mapping[str, int],
    *,
    clients: int,
    warmup: float,
    window: float,
    repetitions: int,
    poll_interval: float,
    ours: bool = True,
    baseline: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ours and the baseline, interleaved window by window so drift hits both alike.

    The baseline is the issue's: the saga's shape with three regular activities, sandboxed.
    Beside it, the same no-op in the shape our worker runs (local activities, no sandbox), so
    the table also shows what the engine alone does with that shape."""
    our_saga, noop = http_saga(http, data, poll_interval), noop_saga(client)
    same_shape = noop_saga(client, **OUR_SHAPE)
    our_runs, baseline_runs, same_shape_runs = [], [], []
    for _ in range(repetitions):
        if ours:
            await open_connections(http, clients)
            our_runs.append(await _run_window(our_saga, clients, warmup, window, pids))
        if baseline:
            baseline_runs.append(await _run_window(noop, clients, warmup, window, pids))
            same_shape_runs.append(await _run_window(same_shape, clients, warmup, window, pids))
    return (
        {**_summary(our_runs, clients, window), "poll_interval_ms": poll_interval * 1000},
        {
            **_summary(baseline_runs, clients, window),
            "same_shape": _summary(same_shape_runs, clients, window),
        },
    )


# How the app's worker runs the saga: local activities for the hot steps, no sandbox.
OUR_SHAPE: dict[str, Any] = {
    "local_activities": True,
    "task_queue": NOOP_TASK_QUEUE + UNSANDBOXED_SUFFIX,
}
