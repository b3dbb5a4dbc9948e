"""The bench's verdicts: each target met or not from the run's own figures, and what bounds an
unmet one, computed from the same run."""

from __future__ import annotations

from typing import Any

from bench import report


def _spread(value: float) -> dict[str, Any]:
    return {"min": value, "median": value, "max": value, "runs": [value, value, value]}


def _results(*, ratio: float, p50_at_ten: float, availability: float) -> dict[str, Any]:
    saga_cpu = {"api": 12.0, "worker": 28.0, "temporal": 40.0, "bench": 5.0}
    booking_cpu = {"api": 10.0, "worker": 22.0, "temporal": 21.0, "bench": 3.0}
    return {
        "meta": {"cpu_count": 2},
        "saga_throughput": {
            "ratio_to_baseline": _spread(ratio),
            "repetitions": [{"cpu_ms_per_saga": saga_cpu}] * 3,
        },
        "baseline": {"repetitions": [{"cpu_ms_per_saga": {"temporal": 50.0, "noop": 30.0}}] * 3},
        "booking_latency": [
            {
                "clients": 10,
                "p50": _spread(p50_at_ten),
                "repetitions": [{"cpu_ms_per_request": booking_cpu}] * 3,
            }
        ],
        "booking_floor": {"clients": 10, "p50": _spread(200.0)},
        "availability": {"available": True, "p50": _spread(availability)},
        "contention": {
            "requests": 200,
            "winners": [1, 1, 1],
            "conflicts": [199, 199, 199],
            "leaked_holds": [0, 0, 0],
            "one_winner_every_race": True,
        },
    }


def test_met_targets_say_met_and_carry_no_bound() -> None:
    found = report.targets(_results(ratio=0.95, p50_at_ten=45.0, availability=15.0))
    assert [t["status"] for t in found] == ["met"] * 4
    assert not any("bound" in t for t in found)


def test_an_unmet_booking_latency_names_the_engine_floor_and_the_queueing_bound() -> None:
    found = report.targets(_results(ratio=0.7, p50_at_ten=400.0, availability=25.0))
    ratio, booking, availability, race = found
    assert [t["status"] for t in found] == ["NOT MET", "NOT MET", "NOT MET", "met"]
    # The saga's CPU against the baseline's, per confirmed saga, all processes counted.
    assert "85 ms per confirmed saga against the baseline's 80 ms" in ratio["bound"]
    assert "takes 200 ms p50 at 10 clients" in booking["bound"]
    # 10 clients x (10 + 22 + 21) ms of the stack's CPU (not the bench client's) / 2 CPUs.
    assert "costs the stack 53 ms of CPU" in booking["bound"]
    assert "wait 265 ms on average at the least" in booking["bound"]
    assert "bound" not in availability and race["measured"] == [1, 1, 1]


def test_a_race_with_two_winners_is_not_met() -> None:
    results = _results(ratio=0.9, p50_at_ten=45.0, availability=15.0)
    results["contention"].update(winners=[1, 2, 1], one_winner_every_race=False)
    assert report.targets(results)[-1]["status"] == "NOT MET"


def _punctuality(p99_ms: float, missing: int = 0) -> dict[str, Any]:
    stages = [
        {"stage": "timer fired late", "p50": 5.0, "p99": 40.0, "max": 50.0},
        {"stage": "activity started", "p50": 900.0, "p99": p99_ms - 200, "max": p99_ms},
        # Time to spare, the longest figure of all, never the longest stage of a delay.
        {
            "stage": "started before the instant",
            "p50": 9e4,
            "p99": 1.2e5,
            "max": 1.2e5,
            "margin": True,
        },
    ]
    return {
        "expected": 1000,
        "missing": missing,
        "within_s": 300.0,
        "delay_ms": {"p50": 1000.0, "p95": p99_ms, "p99": p99_ms, "max": p99_ms},
        "busy_cores": 1.97,
        "cores": {"worker": 1.0, "temporal": 0.95, "bench": 0.02},
        "window_s": 12.5,
        "cpu_ms_per_reminder": {"worker": 14.0, "temporal": 9.0, "bench": 0.2},
        "trace": {"traced": 1000, "of": 1000, "stages": stages},
    }


def test_reminders_under_two_seconds_at_p99_are_met_and_alone_with_only_punctuality() -> None:
    found = report.targets({"meta": {"cpu_count": 2}, "punctuality": _punctuality(1500.0)})
    assert [(t["target"], t["measured"], t["status"]) for t in found] == [
        ("reminder p99 < 2 s after its instant", 1.5, "met")
    ]


def test_late_reminders_name_the_busy_cpus_and_the_longest_stage() -> None:
    results = _results(ratio=0.95, p50_at_ten=45.0, availability=15.0)
    results["punctuality"] = _punctuality(9000.0)
    late = report.targets(results)[-1]
    assert late["status"] == "NOT MET" and late["measured"] == 9.0
    assert "1.97 of 2 CPUs busy (busiest: worker 1.00) for the 12.5 s" in late["bound"]
    assert "CPU ms per reminder total 23 = worker 14, temporal 9" in late["bound"]
    assert late["bound"].endswith("the longest stage at p99: activity started, 8800 ms")


def test_a_reminder_never_recorded_is_not_met_whatever_the_delays() -> None:
    found = report.targets({"meta": {"cpu_count": 2}, "punctuality": _punctuality(100.0, 3)})
    assert found[0]["status"] == "NOT MET"
    assert found[0]["failure"] == "3 of 1000 reminders not recorded 300 s after their instant"


def test_availability_alone_has_its_target_and_its_lines() -> None:
    available = {
        "available": True,
        "days": 90,
        "appointments": 1000,
        "busy_blocks": 5000,
        "calendars": ["google", "microsoft", "caldav"],
        "free_slots": 400,
        "p50": _spread(12.0),
        "p95": _spread(15.0),
        "p99": _spread(18.0),
        "httpx": {"p50": _spread(13.0), "p99": _spread(19.0)},
    }
    results = {
        "meta": _meta(),
        "plan": {"name": "full", "repetitions": 3},
        "availability": available,
    }
    results["targets"] = report.targets(results)
    assert [(t["target"], t["status"]) for t in results["targets"]] == [
        ("availability p50 < 20 ms", "met")
    ]
    assert "5000 busy blocks from 3 calendars (400 free slots)" in report.table(results)


def _adapter(
    kind: str, *, pages: int = 1, auth: int = 0, saw_change: bool = True, full: bool = False
) -> dict[str, Any]:
    def sync(requests: int, pages: int, busy: int, full_listing: bool) -> dict[str, Any]:
        return {
            "requests": requests,
            "pages": pages,
            "auth": auth,
            "busy": busy,
            "removed": 0,
            "full_listing": full_listing,
            "seconds": 0.5,
        }

    return {
        "adapter": kind,
        "events": 10000,
        "page_size": 250,
        "auth_is": "the login challenge",
        "full": sync(40 + auth, 40, 10000, True),
        "incremental": sync(pages + auth, pages, 1 if saw_change else 0, full),
        "saw_change": saw_change,
    }


def _synced(*adapters: dict[str, Any]) -> dict[str, Any]:
    return {
        "meta": _meta(db_backend=None),
        "plan": {"name": "full", "repetitions": 3},
        "calendar_sync": {
            "events": 10000,
            "change": "one event moved half an hour later",
            "adapters": list(adapters),
        },
    }


def _meta(db_backend: str | None = "sqlite") -> dict[str, Any]:
    return {"db_backend": db_backend, "cpu_count": 2, "python": "3.11", "temporalio": "1"}


def test_an_incremental_sync_in_one_page_is_met_and_an_auth_round_trip_is_said() -> None:
    found = report.targets(_synced(_adapter("google"), _adapter("caldav", auth=1)))
    assert [(t["target"], t["measured"], t["status"]) for t in found] == [
        ("google: incremental sync after one change in one page", 1, "met"),
        ("caldav: incremental sync after one change in one page", 1, "met"),
    ]
    assert "note" not in found[0]
    assert found[1]["note"] == (
        "2 requests in all: 1 for pages, 1 for authentication (the login challenge)"
    )


def test_two_pages_a_missed_change_or_a_full_listing_are_not_met() -> None:
    found = report.targets(
        _synced(
            _adapter("google", pages=2),
            _adapter("microsoft", saw_change=False),
            _adapter("caldav", full=True),
        )
    )
    assert [t["status"] for t in found] == ["NOT MET"] * 3
    assert "failure" not in found[0]
    assert found[1]["failure"] == "the incremental answer did not hold the changed event"
    assert found[2]["failure"] == "the incremental sync fell back to a full listing"


def test_the_calendar_sync_table_has_a_row_per_adapter_and_no_stack() -> None:
    results = _synced(_adapter("google"), _adapter("caldav", auth=1))
    results["targets"] = report.targets(results)
    table = report.table(results)
    assert table.startswith("Booking benchmark: no stack, 2 CPUs")
    rows = [line.split() for line in table.splitlines()]
    google, caldav = (row for row in rows if row[:1] in (["google"], ["caldav"]))
    # adapter, page size, full: requests pages auth busy s, incremental: the same and removed.
    assert " ".join(google) == "google 250 40 40 0 10000 0.50 1 1 0 1 0 0.50"
    assert caldav[2:5] == ["41", "40", "1"] and caldav[7:10] == ["2", "1", "1"]


def _public(*, search_p50: float, login_added: float, booking_added: float) -> dict[str, Any]:
    def variant(name: str, p50: float) -> dict[str, Any]:
        figures = {q: _spread(p50 * k) for q, k in (("p50", 1), ("p95", 1.2), ("p99", 1.5))}
        runs = [{"other_busy_cores": 0.4}] * 3
        return {
            "name": name,
            "count": 1800,
            **figures,
            "api_cpu_ms": _spread(8.0),
            "repetitions": runs,
        }

    def sides(p50_off: float, added: float) -> dict[str, Any]:
        on = {"p50": _spread(p50_off * (1 + added / 100)), "p99": _spread(p50_off * 2)}
        off = {"p50": _spread(p50_off), "p99": _spread(p50_off * 2)}
        return {"on": on, "off": off, "added_pct": _spread(added)}

    return {
        "meta": _meta(),
        "plan": {"name": "full", "repetitions": 3},
        "provider_search": {
            "providers": 2000,
            "services_each": 3,
            "page": 20,
            "variants": [variant("by service", 9.0), variant("by service and date", search_p50)],
        },
        "availability_load": {
            "clients": 50,
            "window_s": 10.0,
            "per_second": _spread(55.0),
            "p50": _spread(800.0),
            "p99": _spread(2100.0),
            "errors": 0,
        },
        "login_latency": [
            {
                "clients": 1,
                "p50": _spread(90.0),
                "p95": _spread(95.0),
                "p99": _spread(99.0),
                "per_second": _spread(10.0),
            }
        ],
        "limiter": {
            "requests_per_repetition": 20,
            "login": sides(90.0, login_added),
            "booking": sides(40.0, booking_added),
            "in_process": [
                {"storage": "memory", "available": True, "checks": 500, "p50_us": 4.2}
                | {"p99_us": 9.0, "mean_us": 5.0},
                {"storage": "redis", "available": False, "reason": "no Redis at redis://x"},
            ],
        },
    }


def test_search_and_the_limiter_are_targets_measured_by_their_worst_figure() -> None:
    found = report.targets(_public(search_p50=30.0, login_added=2.0, booking_added=-1.0))
    assert [(t["target"], t["measured"], t["status"]) for t in found] == [
        ("provider search p50 < 50 ms (2,000 providers x 3 services)", 30.0, "met"),
        ("login and booking p50 within 10 % with limits on", 2.0, "met"),
    ]
    assert found[1]["note"] == (
        "limiter per check in process: memory p50 4 us, redis not measured (no Redis at "
        "redis://x) (a booking makes one check, a login two)"
    )
    slow = report.targets(_public(search_p50=55.0, login_added=3.0, booking_added=12.5))
    assert [(t["measured"], t["status"]) for t in slow] == [(55.0, "NOT MET"), (12.5, "NOT MET")]


def test_the_public_endpoints_rows_are_in_the_table() -> None:
    results = _public(search_p50=30.0, login_added=2.0, booking_added=-1.0)
    results["targets"] = report.targets(results)
    table = report.table(results)
    assert "every figure: min / median / max over 3 repetitions" in table
    assert "Availability at 50 concurrent clients" in table
    assert "req/s 55.0 / 55.0 / 55.0   p50 800.0 / 800.0 / 800.0 ms" in table
    assert "GET /providers, 2,000 providers x 3 services, page of 20" in table
    assert "by service and date" in table and "1800" in table and "8.0 / 8.0 / 8.0" in table
    assert "(other processes kept up to 0.40 cores busy)" in table
    assert "Login latency, POST /auth/login" in table
    assert "2.0 / 2.0 / 2.0 %" in table
    assert "one check in process, memory: p50 4.2 us" in table
    assert "one check in process, redis: no Redis at redis://x" in table
