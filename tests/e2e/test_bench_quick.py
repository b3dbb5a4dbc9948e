"""`python -m bench --quick` works end to end. Its times are never asserted: only its shape,
that the race for one slot had exactly one winner, that every reminder was recorded, and that
each calendar adapter's incremental sync found the one change."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICK_BUDGET_S = 300  # --quick takes about a minute; this only stops a hung run


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _spread_ok(figure: dict[str, Any]) -> bool:
    return all(_is_number(figure[k]) for k in ("min", "median", "max"))


@pytest.mark.e2e
def test_quick_bench_runs_and_the_race_has_one_winner(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=QUICK_BUDGET_S,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    results = json.loads(out.read_text())

    assert results["meta"]["cpu_count"] >= 1 and results["meta"]["db_backend"] == "sqlite"
    assert {row["clients"] for row in results["booking_latency"]} == {1, 10, 50}
    for row in results["booking_latency"]:
        assert all(_spread_ok(row[q]) for q in ("p50", "p95", "p99")), row
        assert row["errors"] == 0, row

    saga, baseline = results["saga_throughput"], results["baseline"]
    assert _spread_ok(saga["per_second"]) and saga["per_second"]["median"] > 0
    assert _spread_ok(baseline["per_second"]) and baseline["per_second"]["median"] > 0
    assert _spread_ok(saga["ratio_to_baseline"])

    race = results["contention"]
    assert race["requests"] == 200
    assert race["winners"] and all(w == 1 for w in race["winners"]), race["repetitions"]
    assert all(c == 200 - 1 for c in race["conflicts"]), race["repetitions"]
    assert all(leaked == 0 for leaked in race["leaked_holds"]), race["repetitions"]
    assert _spread_ok(race["p99"])

    availability = results["availability"]
    assert availability["available"], availability
    assert _spread_ok(availability["p50"]) and _spread_ok(availability["p99"])
    assert _spread_ok(availability["httpx"]["p50"])
    assert availability["free_slots"] > 0
    assert availability["busy_blocks"] == 5000 and len(availability["calendars"]) == 3

    reminders = results["punctuality"]
    bookings = results["plan"]["reminder_bookings"]
    assert reminders["confirmed"] == bookings and reminders["confirmed_after_due"] == 0, reminders
    assert reminders["reminders"] == bookings and reminders["missing"] == 0, reminders
    assert reminders["due_instants"] == 1, reminders
    # Prepared ahead (the API's default REMINDER_PREPARE_SECONDS), sent at the instant: none early.
    assert reminders["unsent"] == 0 and reminders["early"] == 0, reminders
    assert all(_is_number(reminders["delay_ms"][q]) for q in ("p50", "p99", "max")), reminders
    assert reminders["trace"]["traced"] == bookings, reminders["trace"]

    calendars = results["calendar_sync"]
    events = results["plan"]["calendar_events"]
    assert {a["adapter"] for a in calendars["adapters"]} == {"google", "microsoft", "caldav"}
    for adapter in calendars["adapters"]:
        full, incremental = adapter["full"], adapter["incremental"]
        assert full["full_listing"] and full["busy"] == events, adapter
        assert full["requests"] >= full["pages"] >= 1, adapter
        assert adapter["saw_change"] and not incremental["full_listing"], adapter
        assert incremental["requests"] >= incremental["pages"] >= 1, adapter

    search = results["provider_search"]
    assert search["providers"] == 2000 and search["services_each"] == 3
    for variant in search["variants"]:
        assert variant["count"] > 0 and variant["shown"] == search["page"], variant
        assert _spread_ok(variant["p50"]), variant

    load = results["availability_load"]
    assert load["clients"] == 50 and load["errors"] == 0, load
    assert _spread_ok(load["per_second"]) and _spread_ok(load["p99"])

    assert {row["clients"] for row in results["login_latency"]} == {1, 10}
    limiter = results["limiter"]
    assert all(_spread_ok(limiter[kind]["added_pct"]) for kind in ("login", "booking"))
    assert [check["storage"] for check in limiter["in_process"]] == ["memory", "redis"]

    live = results["sse"]
    assert live["subscribers"] == 200 and live["missed"] == 0, live
    assert _spread_ok(live["p50"]) and _spread_ok(live["p99"]), live

    statuses = {target["status"] for target in results["targets"]}
    assert statuses <= {"met", "NOT MET", "not measured"}
    assert len(results["targets"]) == 8 + len(calendars["adapters"])
    assert "Targets" in finished.stdout
