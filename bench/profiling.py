"""`python -m bench --profile`: where POST /appointments and a whole saga spend their time.

Printed, and written with py-spy's raw stacks under bench/results/profile-*/:
1. Temporal histories of bookings and sagas (1 and 10 clients): wall time between events;
2. CPU milliseconds per request in each process (API, worker, Temporal server, the rest);
3. py-spy (sampling) of the API and the worker during availability, booking latency at
   10 clients and a saga throughput window, summed by library and by function;
4. what-if variants of the no-op saga: what local activities or no sandbox would save.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from bench import flame, scenarios, throughput, timeline, whatif
from bench.plan import Plan
from bench.procstat import measured
from bench.run import http_client, pids, prepare, progress
from bench.seed import BenchData
from bench.stack import Stack
from db.engine import Database
from workflows.client import connect

SEQUENTIAL = 20


@contextlib.contextmanager
def py_spy(targets: Mapping[str, int], outdir: Path, label: str) -> Iterator[dict[str, Path]]:
    """Sample each named process until the block ends; yields the raw files."""
    exe = str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        exe = shutil.which("py-spy") or "py-spy"
    files = {name: outdir / f"{label}-{name}.txt" for name in targets}
    spies = []
    for name, pid in targets.items():
        log = (outdir / f"{label}-{name}.py-spy.log").open("wb")
        args = [exe, "record", "-p", str(pid), "-o", str(files[name]), "-f", "raw"]
        args += ["-r", str(flame.RATE), "--nolineno", "--full-filenames", "--nonblocking"]
        spies.append((subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT), log))
    time.sleep(1)  # py-spy attaches
    try:
        yield files
    finally:
        for spy, _ in spies:
            spy.send_signal(signal.SIGINT)
        for spy, log in spies:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
            log.close()


async def _sequential_bookings(http: httpx.AsyncClient, data: BenchData) -> list[str]:
    ids = []
    for _ in range(SEQUENTIAL):
        offer, start = data.booking.next()
        status, _, body = await scenarios.book(http, data.customers[0], offer, start)
        if status == 201:
            ids.append(f"booking-{body['id']}")
    return ids


async def _sequential_sagas(
    http: httpx.AsyncClient, data: BenchData, poll_interval: float
) -> tuple[throughput.Window, list[float]]:
    saga = throughput.http_saga(http, data, poll_interval)
    window = throughput.Window()
    seconds = []
    for _ in range(SEQUENTIAL):
        began = time.perf_counter()
        await saga(0, window)
        seconds.append(time.perf_counter() - began)
    return window, seconds


async def profile(stack: Stack, plan: Plan, outdir: Path, *, poll_interval: float) -> str:
    db = Database.from_settings(stack.settings)
    temporal = await connect(stack.settings)
    watched = pids(stack)
    report: list[str] = [f"profile of the {stack.backend} stack; raw files in {outdir}"]
    try:
        async with http_client(stack, plan.race_requests + 10) as http:
            data = await prepare(stack, db, plan, http)
            progress("warming up")
            await throughput.warm_up(throughput.http_saga(http, data, poll_interval), 5, 2)
            await throughput.warm_up(throughput.noop_saga(temporal), 5, 2)

            progress(f"{SEQUENTIAL} sequential bookings and sagas for their histories")
            with measured(watched) as cpu:
                booked = await _sequential_bookings(http, data)
            report += [
                "",
                timeline.render(
                    "POST /appointments at 1 client, history of the early return",
                    await timeline.gaps(temporal, booked, "WORKFLOW_EXECUTION_UPDATE_COMPLETED"),
                ),
                f"  CPU ms per booking: {cpu.per_op_ms(len(booked))}",
            ]
            with measured(watched) as cpu:
                sagas, seconds = await _sequential_sagas(http, data, poll_interval)
            early_p50 = statistics.median(sagas.early_return) * 1000
            report += [
                "",
                timeline.render(
                    "whole saga at 1 client (book, pay, confirmed), history",
                    await timeline.gaps(temporal, sagas.ids, "TIMER_STARTED", nth=2),
                ),
                f"  client-side saga time median {sorted(seconds)[len(seconds) // 2] * 1000:.0f}"
                f" ms; CPU ms per saga: {cpu.per_op_ms(len(sagas.ids))}",
            ]
            noop_ids = await _sequential_noops(temporal)
            report += [
                "",
                timeline.render(
                    "no-op baseline saga at 1 client, history",
                    await timeline.gaps(temporal, noop_ids, "WORKFLOW_EXECUTION_COMPLETED"),
                ),
            ]

            progress("100 bookings at 10 clients for their histories")
            at_ten: list[str] = []
            with measured(watched) as cpu:
                run = await scenarios.booking_latency(
                    http, data, watched, clients=10, requests=100, repetitions=1, booked=at_ten
                )
            report += [
                "",
                timeline.render(
                    f"POST /appointments at 10 clients (p50 {run['p50']['median']:.0f} ms), "
                    "history of the early return",
                    await timeline.gaps(temporal, at_ten, "WORKFLOW_EXECUTION_UPDATE_COMPLETED"),
                ),
                f"  CPU ms per booking: {cpu.per_op_ms(len(at_ten))}",
            ]
            progress("request costs, one request at a time")
            report += ["", whatif.render_costs(await whatif.request_costs(http, data, watched))]
            sampled, ours = await _sampled(data, http, temporal, watched, outdir, poll_interval)
            report += sampled
            ours["early_return_p50_ms_1_client"] = early_p50
            progress("what-if variants of the no-op saga (about a minute)")
            rows = await whatif.variants(temporal, watched, clients=20, window=10)
            report += ["", whatif.render_variants(rows, ours)]
    finally:
        await db.dispose()
    text = "\n".join(report)
    (outdir / "summary.txt").write_text(text + "\n")
    return text


async def _sequential_noops(temporal: Any) -> list[str]:
    saga = throughput.noop_saga(temporal)
    window = throughput.Window()
    for _ in range(SEQUENTIAL):
        await saga(0, window)
    return window.ids


async def _sampled(
    data: BenchData,
    http: httpx.AsyncClient,
    temporal: Any,
    watched: Mapping[str, int],
    outdir: Path,
    poll_interval: float,
) -> tuple[list[str], dict[str, Any]]:
    report: list[str] = []
    python = {name: watched[name] for name in ("api", "worker")}
    progress("py-spy: availability, 50 requests one at a time")
    with py_spy({"api": watched["api"]}, outdir, "availability") as files:
        available = await scenarios.availability(http, data, requests=50, repetitions=1)
    if available["available"]:
        report += ["", f"== availability, 90 days: p50 {available['p50']['median']:.1f} ms"]
        report += [flame.render("-- api", flame.summarize(files["api"]))]
    progress("py-spy: booking latency at 10 clients, 300 requests")
    with py_spy(python, outdir, "booking") as files, measured(watched) as cpu:
        run = await scenarios.booking_latency(
            http, data, watched, clients=10, requests=300, repetitions=1
        )
    at_ten = run["p50"]["median"]
    report += ["", f"== POST /appointments at 10 clients: p50 {at_ten:.1f} ms"]
    report += [f"   CPU s in the window: {cpu.cpu_s} over {cpu.wall_s:.1f} s wall"]
    for name, path in files.items():
        report += [flame.render(f"-- {name}", flame.summarize(path))]

    progress("py-spy: saga throughput, 20 customers, 10 s")
    with py_spy(python, outdir, "saga") as files:
        ours, _ = await throughput.throughput_pair(
            http,
            temporal,
            data,
            watched,
            clients=20,
            warmup=1,
            window=10,
            repetitions=1,
            poll_interval=poll_interval,
            baseline=False,
        )
    report += ["", f"== saga throughput: {ours['per_second']['median']:.2f} confirmed/s"]
    report += [f"   CPU ms per saga: {ours['repetitions'][0]['cpu_ms_per_saga']}"]
    for name, path in files.items():
        report += [flame.render(f"-- {name}", flame.summarize(path))]

    progress("py-spy: no-op baseline, 20 customers, 10 s")
    with py_spy({"noop_worker": watched["noop_worker"]}, outdir, "noop") as files:
        _, base = await throughput.throughput_pair(
            http,
            temporal,
            data,
            watched,
            clients=20,
            warmup=1,
            window=10,
            repetitions=1,
            poll_interval=poll_interval,
            ours=False,
        )
    report += ["", f"== no-op baseline: {base['per_second']['median']:.2f} completed/s"]
    report += [f"   CPU ms per saga: {base['repetitions'][0]['cpu_ms_per_saga']}"]
    for name, path in files.items():
        report += [flame.render(f"-- {name}", flame.summarize(path))]
    run = ours["repetitions"][0]
    return report, {
        "variant": "ours (booking saga over HTTP)",
        "early_return_p50_ms_10_clients": at_ten,
        "per_second": run["per_second"],
        "cpu_ms_per_saga": run["cpu_ms_per_saga"],
    }
