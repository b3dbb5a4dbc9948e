"""The public, rate-limited endpoints' part of the report: provider search, availability under
load, login, and what the rate limiter costs them."""

from __future__ import annotations

from typing import Any

from bench.report_format import spread as _spread
from bench.report_format import target as _target

TARGET_SEARCH_P50_MS = 50.0
TARGET_LIMITER_ADDED_PCT = 10.0


def search_target(section: dict[str, Any]) -> dict[str, Any]:
    """The slowest variant's median p50 against the target."""
    name = (
        f"provider search p50 < {TARGET_SEARCH_P50_MS:g} ms "
        f"({section['providers']:,} providers x {section['services_each']} services)"
    )
    p50 = max(v["p50"]["median"] for v in section["variants"])
    return _target(name, p50, p50 < TARGET_SEARCH_P50_MS)


def limiter_target(section: dict[str, Any]) -> dict[str, Any]:
    """The larger of login's and booking's added p50, limits on against off, in percent."""
    name = f"login and booking p50 within {TARGET_LIMITER_ADDED_PCT:g} % with limits on"
    added = max(section[kind]["added_pct"]["median"] for kind in ("login", "booking"))
    found = _target(name, added, added < TARGET_LIMITER_ADDED_PCT)
    found["note"] = (
        "limiter per check in process: "
        + ", ".join(
            f"{c['storage']} p50 {c['p50_us']:.0f} us"
            if c["available"]
            else f"{c['storage']} not measured ({c['reason']})"
            for c in section["in_process"]
        )
        + " (a booking makes one check, a login two)"
    )
    return found


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    if "provider_search" in results:
        found.append(search_target(results["provider_search"]))
    if "limiter" in results:
        found.append(limiter_target(results["limiter"]))
    return found


def lines(results: dict[str, Any]) -> list[str]:
    """The rows of whichever of these sections the run has."""
    found: list[str] = []
    if "availability_load" in results:
        found += ["", *_load_lines(results["availability_load"])]
    if "provider_search" in results:
        found += ["", *_search_lines(results["provider_search"])]
    if "login_latency" in results:
        found += ["", *_login_lines(results["login_latency"])]
    if "limiter" in results:
        found += ["", *_limiter_lines(results["limiter"])]
    return found


def _load_lines(load: dict[str, Any]) -> list[str]:
    return [
        f"Availability at {load['clients']} concurrent clients, the same 90 days "
        f"({load['window_s']:g} s each, minimal HTTP/1.1 client)",
        f"  req/s {_spread(load['per_second'])}   p50 {_spread(load['p50'])} ms   "
        f"p99 {_spread(load['p99'])} ms   errors {load['errors']}",
    ]


def _search_lines(section: dict[str, Any]) -> list[str]:
    rows = [
        f"Provider search, GET /providers, {section['providers']:,} providers x "
        f"{section['services_each']} services, page of {section['page']} (ms, minimal "
        "HTTP/1.1 client)",
        f"  {'':<32}{'count':>6}  {'p50':>20}  {'p95':>20}  {'p99':>20}  {'API CPU ms':>20}",
    ]
    rows += [
        f"  {v['name']:<32}{v['count']:>6}  {_spread(v['p50']):>20}  {_spread(v['p95']):>20}  "
        f"{_spread(v['p99']):>20}  {_spread(v['api_cpu_ms']):>20}"
        for v in section["variants"]
    ]
    busy = max(r["other_busy_cores"] for v in section["variants"] for r in v["repetitions"])
    rows.append(
        "  API CPU ms: the API process's CPU per request, which other load on the machine "
        f"does not inflate as it does latency (other processes kept up to {busy:.2f} cores busy)"
    )
    return rows


def _login_lines(rows: list[dict[str, Any]]) -> list[str]:
    found = [
        "Login latency, POST /auth/login -> 200 (ms; argon2 in a thread pool)",
        f"  {'clients':>7}  {'p50':>24}  {'p95':>24}  {'p99':>24}  {'req/s':>18}",
    ]
    found += [
        f"  {r['clients']:>7}  {_spread(r['p50']):>24}  {_spread(r['p95']):>24}  "
        f"{_spread(r['p99']):>24}  {_spread(r['per_second']):>18}"
        for r in rows
    ]
    return found


def _limiter_lines(section: dict[str, Any]) -> list[str]:
    found = [
        f"Rate limits on against off, one request at a time, taking turns "
        f"({section['requests_per_repetition']} each a side, ms)",
        f"  {'':<10}{'p50 on':>22}  {'p50 off':>22}  {'p99 on':>22}  {'p99 off':>22}  added p50",
    ]
    for kind in ("login", "booking"):
        on, off = section[kind]["on"], section[kind]["off"]
        found.append(
            f"  {kind:<10}{_spread(on['p50']):>22}  {_spread(off['p50']):>22}  "
            f"{_spread(on['p99']):>22}  {_spread(off['p99']):>22}  "
            f"{_spread(section[kind]['added_pct'])} %"
        )
    for check in section["in_process"]:
        if check["available"]:
            found.append(
                f"  one check in process, {check['storage']}: p50 {check['p50_us']:.1f} us   "
                f"p99 {check['p99_us']:.1f} us   mean {check['mean_us']:.1f} us "
                f"({check['checks']} checks)"
            )
        else:
            found.append(f"  one check in process, {check['storage']}: {check['reason']}")
    return found
