"""The table on stdout, the targets with met / not met, and the JSON file."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from bench import report_public, report_sync
from bench.report_format import num as _num
from bench.report_format import spread as _spread
from bench.report_format import target as _target

TARGET_RATIO = 0.8
TARGET_BOOKING_P50_MS = 60.0
TARGET_BOOKING_CLIENTS = 10
TARGET_AVAILABILITY_P50_MS = 20.0
TARGET_REMINDER_P99_S = 2.0


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue with the measured median and whether it is met."""
    found: list[dict[str, Any]] = []
    if "saga_throughput" in results:
        found += _main_targets(results)
    if "availability" in results:
        found.append(_availability_target(results["availability"]))
    if "contention" in results:
        found.append(_contention_target(results["contention"]))
    if "punctuality" in results:
        found.append(_punctuality_target(results["punctuality"], results["meta"]["cpu_count"]))
    if "calendar_sync" in results:
        found += [report_sync.sync_target(a) for a in results["calendar_sync"]["adapters"]]
    found += report_public.targets(results)
    return found


def _main_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    ratio = results["saga_throughput"]["ratio_to_baseline"]["median"]
    found.append(_target("saga throughput >= 0.8 x no-op baseline", ratio, ratio >= TARGET_RATIO))
    if not ratio >= TARGET_RATIO:
        ours = _cpu_total(results["saga_throughput"])
        base = _cpu_total(results["baseline"])
        found[-1]["bound"] = (
            f"CPU: {ours:.0f} ms per confirmed saga against the baseline's {base:.0f} ms, on "
            f"{results['meta']['cpu_count']} CPUs shared by every process (see --profile)"
        )
    at_ten = next(
        (r for r in results["booking_latency"] if r["clients"] == TARGET_BOOKING_CLIENTS), None
    )
    p50 = at_ten["p50"]["median"] if at_ten else math.nan
    found.append(
        _target("POST /appointments p50 < 60 ms at 10 clients", p50, p50 < TARGET_BOOKING_P50_MS)
    )
    floor = results.get("booking_floor")
    if p50 >= TARGET_BOOKING_P50_MS and floor and at_ten:
        engine = floor["p50"]["median"]
        cpus = results["meta"]["cpu_count"]
        bound = (
            f"the engine alone (a no-op update-with-start in our shape, no database, no HTTP) "
            f"takes {engine:.0f} ms p50 at {floor['clients']} clients on these {cpus} CPUs"
            if engine >= TARGET_BOOKING_P50_MS
            else f"our code: the engine alone takes {engine:.0f} ms p50 at {floor['clients']} "
            "clients (see --profile)"
        )
        runs = _cpu_runs(at_ten, "cpu_ms_per_request")
        if runs:
            # Little's law: clients = throughput x latency, and throughput <= CPUs / CPU each.
            per_booking = statistics.median(
                sum(ms for name, ms in r.items() if name != "bench") for r in runs
            )
            wait = TARGET_BOOKING_CLIENTS * per_booking / cpus
            bound += (
                f"; and each booking costs the stack {per_booking:.0f} ms of CPU, so "
                f"{TARGET_BOOKING_CLIENTS} clients on {cpus} CPUs wait {wait:.0f} ms on average "
                "at the least"
            )
        found[-1]["bound"] = bound
    return found


def _availability_target(available: dict[str, Any]) -> dict[str, Any]:
    name = "availability p50 < 20 ms"
    if not available["available"]:
        return {"target": name, "measured": None, "status": "not measured"}
    p50 = available["p50"]["median"]
    return _target(name, p50, p50 < TARGET_AVAILABILITY_P50_MS)


def _contention_target(race: dict[str, Any]) -> dict[str, Any]:
    clean = (
        race["one_winner_every_race"]
        and not any(race["leaked_holds"])
        and all(c == race["requests"] - 1 for c in race["conflicts"])
    )
    return _target("exactly one winner in every race", race["winners"], clean)


def _punctuality_target(section: dict[str, Any], cpus: int) -> dict[str, Any]:
    name = f"reminder p99 < {TARGET_REMINDER_P99_S:g} s after its instant"
    p99 = section["delay_ms"]["p99"] / 1000
    missing = section["missing"]
    found = _target(name, p99, p99 < TARGET_REMINDER_P99_S and not missing)
    if missing:
        found["failure"] = (
            f"{missing} of {section['expected']} reminders not recorded "
            f"{section['within_s']:g} s after their instant"
        )
    elif not p99 < TARGET_REMINDER_P99_S:
        stages = section["trace"]["stages"]
        delays = [stage for stage in stages if not stage.get("margin")]
        worst = max(delays, key=lambda s: s["p99"], default=None)
        busiest = max(section["cores"].items(), key=lambda kv: kv[1], default=("-", 0.0))
        found["bound"] = (
            f"CPU: {section['busy_cores']:.2f} of {cpus} CPUs busy (busiest: {busiest[0]} "
            f"{busiest[1]:.2f}) for the {section['window_s']:g} s from the instant until every "
            f"reminder was seen sent; CPU ms per reminder "
            f"{_per_op(section['cpu_ms_per_reminder'])}"
        )
        if worst:
            found["bound"] += f"; the longest stage at p99: {worst['stage']}, {worst['p99']:.0f} ms"
    return found


def table(results: dict[str, Any]) -> str:
    meta, plan = results["meta"], results["plan"]
    lines = [
        f"Booking benchmark: {meta['db_backend'] or 'no stack'}, {meta['cpu_count']} CPUs, "
        f"Python {meta['python']}, temporalio {meta['temporalio']}, {plan['name']} mode",
        _repetitions(results),
    ]
    if "saga_throughput" in results:
        lines += _main_lines(results)
    if "availability" in results:
        lines += ["", *_availability_lines(results["availability"])]
    lines += report_public.lines(results)
    if "punctuality" in results:
        lines += _punctuality_lines(results["punctuality"])
    if "calendar_sync" in results:
        lines += report_sync.sync_lines(results["calendar_sync"])
    lines += ["", "Targets"]
    width = max((len(t["target"]) for t in results["targets"]), default=0) + 2
    for target in results["targets"]:
        measured = target["measured"]
        shown = _num(measured, 2) if isinstance(measured, float) else str(measured)
        lines.append(f"  {target['target']:<{width}}{shown:>14}   {target['status']}")
        if "bound" in target:
            lines.append(f"      bounded by {target['bound']}")
        if "failure" in target:
            lines.append(f"      {target['failure']}")
        if "note" in target:
            lines.append(f"      {target['note']}")
    return "\n".join(lines)


def _repetitions(results: dict[str, Any]) -> str:
    plan = results["plan"]
    if plan["repetitions"] <= 1:
        return "one repetition of each figure (quick: checks the harness, not a measurement)"
    if not results.keys() & {
        "saga_throughput",
        "availability",
        "availability_load",
        "provider_search",
        "login_latency",
        "limiter",
    }:
        return "every figure from one run"
    return f"every figure: min / median / max over {plan['repetitions']} repetitions"


def _main_lines(results: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "Booking latency, POST /appointments -> 201 (ms)",
        f"  {'clients':>7}  {'p50':>24}  {'p95':>24}  {'p99':>24}  {'req/s':>18}  errors",
    ]
    for row in results["booking_latency"]:
        lines.append(
            f"  {row['clients']:>7}  {_spread(row['p50']):>24}  {_spread(row['p95']):>24}  "
            f"{_spread(row['p99']):>24}  {_spread(row['per_second']):>18}  {row['errors']}"
        )
    floor = results.get("booking_floor")
    if floor:
        lines.append(
            f"  engine floor at {floor['clients']} clients ({floor['shape']}): "
            f"p50 {_spread(floor['p50'])} ms"
        )
    saga, base = results["saga_throughput"], results["baseline"]
    same = base.get("same_shape")
    lines += [
        "",
        f"Saga throughput, confirmed bookings/s ({saga['clients']} customers, "
        f"{_num(saga['window_s'], 0)} s window, book -> pay -> confirmed)",
        f"  {'ours':<24}{_spread(saga['per_second'], 2):>24}"
        f"   saga p50 {_spread(saga['saga_p50_ms'], 0)} ms, failures {saga['failures']}",
        f"  {'no-op baseline':<24}{_spread(base['per_second'], 2):>24}"
        f"   saga p50 {_spread(base['saga_p50_ms'], 0)} ms, failures {base['failures']}",
        f"  {'ratio ours / baseline':<24}{_spread(saga['ratio_to_baseline'], 2):>24}",
        f"  CPU ms per saga, ours:     {_cpu(saga)}",
        f"  CPU ms per saga, baseline: {_cpu(base)}",
    ]
    if same:
        lines += [
            f"  {'no-op, our shape':<24}{_spread(same['per_second'], 2):>24}"
            f"   saga p50 {_spread(same['saga_p50_ms'], 0)} ms, failures {same['failures']}"
            "  (local activities, unsandboxed)",
            f"  {'ratio ours / our shape':<24}{_spread(saga['ratio_to_same_shape'], 2):>24}",
            f"  CPU ms per saga, our shape: {_cpu(same)}",
        ]
    race = results["contention"]
    lines += [
        "",
        f"Contention, {race['requests']} concurrent requests for one slot (per race)",
        f"  winners {race['winners']}   409s {race['conflicts']}   other {race['other']}   "
        f"leaked holds {race['leaked_holds']}",
        f"  p50 {_spread(race['p50'])} ms   p99 {_spread(race['p99'])} ms",
    ]
    return lines


def _availability_lines(available: dict[str, Any]) -> list[str]:
    if not available["available"]:
        return [f"Availability: not measured: {available['reason']}"]
    calendars = len(available.get("calendars", ()))
    return [
        f"Availability, {available['days']} days, {available['appointments']} appointments, "
        f"{available['busy_blocks']} busy blocks from {calendars} calendars "
        f"({available['free_slots']} free slots)",
        f"  p50 {_spread(available['p50'])} ms   p95 {_spread(available['p95'])} ms   "
        f"p99 {_spread(available['p99'])} ms   (minimal HTTP/1.1 client)",
        f"  through httpx, the client's own CPU included: "
        f"p50 {_spread(available['httpx']['p50'])} ms   "
        f"p99 {_spread(available['httpx']['p99'])} ms",
    ]


def _punctuality_lines(section: dict[str, Any]) -> list[str]:
    delay, trace = section["delay_ms"], section["trace"]
    lines = [
        "",
        f"Reminder punctuality, {section['expected']} bookings, every reminder due at "
        f"{section['due'][11:19]} UTC ({section['spread']})",
        f"  delay after the instant: p50 {_num(delay['p50'], 0)} ms   "
        f"p99 {_num(delay['p99'], 0)} ms   max {_num(delay['max'], 0)} ms   "
        f"({section['reminders']} recorded, {section['missing']} missing, "
        f"{section['unsent']} unsent)",
        f"  bookings made in {section['making_s']:g} s ({section['calibration_per_second']:g}/s "
        f"calibrated), the last confirmed {section['slack_s']:g} s before the instant; "
        f"failures {sum(section['failures'].values())}, "
        f"confirmed after it {section['confirmed_after_due']}",
        f"  from the instant until all were seen sent ({section['window_s']:g} s): "
        f"{section['busy_cores']:.2f} busy cores, CPU ms per reminder "
        f"{_per_op(section['cpu_ms_per_reminder'])}",
        f"  where the delay goes ({trace['traced']} of {trace['of']} histories, ms)",
        f"    {'':<49}{'p50':>8}  {'p99':>8}  {'max':>8}",
    ]
    lines += [
        f"    {stage['stage']:<49}{_num(stage['p50'], 0):>8}  {_num(stage['p99'], 0):>8}  "
        f"{_num(stage['max'], 0):>8}"
        for stage in trace["stages"]
    ]
    return lines


def _per_op(cpu_ms: dict[str, float]) -> str:
    """Each process's CPU ms per operation, with their total."""
    parts = [f"{name} {ms:.0f}" for name, ms in cpu_ms.items() if ms >= 0.5]
    return f"total {sum(cpu_ms.values()):.0f} = " + ", ".join(parts)


def _cpu(section: dict[str, Any]) -> str:
    """Median over repetitions of each process's CPU ms per confirmed saga."""
    runs = _cpu_runs(section)
    if not runs:
        return "-"
    names = [n for n in runs[0] if statistics.median(r.get(n, 0) for r in runs) >= 0.5]
    parts = [f"{n} {statistics.median(r.get(n, 0) for r in runs):.0f}" for n in names]
    return f"total {_cpu_total(section):.0f} = " + ", ".join(parts)


def _cpu_total(section: dict[str, Any]) -> float:
    """Median over repetitions of all processes' CPU ms per confirmed saga."""
    runs = _cpu_runs(section)
    return statistics.median(sum(r.values()) for r in runs) if runs else math.nan


def _cpu_runs(section: dict[str, Any], key: str = "cpu_ms_per_saga") -> list[dict[str, float]]:
    return [r[key] for r in section["repetitions"] if r.get(key)]


def _finite(value: Any) -> Any:
    """NaN is not JSON: write null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(results), indent=2, default=str) + "\n")
