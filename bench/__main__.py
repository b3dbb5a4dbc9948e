"""`python -m bench`: start a fresh stack, measure it, print the table and write the JSON.

python -m bench                 full run on SQLite (a few minutes)
python -m bench --db postgres   on a new database of the server DATABASE_URL names
python -m bench --quick         small counts, about a minute: checks the harness works
python -m bench --profile       py-spy on the API and the worker during the hot paths
python -m bench --only punctuality   the reminder punctuality scenario alone
python -m bench --only availability  the 90-day availability scenario alone
python -m bench --only availability-load   that calendar from 50 clients at once
python -m bench --only search        provider search over 2,000 providers alone
python -m bench --only limits        login latency and the rate limiter's cost alone
python -m bench --only sse           a change reaching 200 open SSE subscribers alone
python -m bench --only calendars     the calendar sync's request counts alone (no stack)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.limiter import LIMITS_ENV
from bench.plan import FULL, QUICK
from bench.runner import run_interruptible
from bench.signals import Interrupted, install_sigterm
from bench.stack import ROOT, running_stack

RESULTS = ROOT / "bench" / "results"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--quick", action="store_true", help="small counts, about a minute")
    parser.add_argument(
        "--json",
        type=Path,
        help="where to write the results (default: bench/results/<time>-<db>-<mode>.json)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of the table: py-spy profiles of the API and worker on the hot paths",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the API and worker, e.g. --set DATABASE_POOL_SIZE=20",
    )
    parser.add_argument(
        "--poll-ms",
        type=float,
        default=50,
        help="poll interval of GET /appointments/{id} when the checkout answered before confirm",
    )
    parser.add_argument(
        "--only",
        choices=(
            "availability",
            "availability-load",
            "calendars",
            "limits",
            "punctuality",
            "search",
            "sse",
        ),
        help="run this scenario alone (after the seeding and the warm-up; calendars needs neither)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs and the database")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    install_sigterm()
    plan = QUICK if args.quick else FULL
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    # Every rate limit on, and far above what the bench asks: it measures, it is never refused.
    extra_env = {
        **LIMITS_ENV,
        "REMINDER_PREPARE_SECONDS": str(plan.reminder_prepare_s),
        **dict(item.split("=", 1) for item in args.set),
    }
    name = f"{stamp}-{args.db}-{plan.name}.json"
    try:
        if args.only == "calendars":
            from bench.run import run_calendar_sync

            name = f"{stamp}-calendars-{plan.name}.json"
            results = asyncio.run(run_calendar_sync(plan))
        else:
            with running_stack(args.db, extra_env=extra_env, keep=args.keep) as stack:
                if args.profile:
                    from bench.profiling import profile

                    outdir = RESULTS / f"profile-{stamp}-{args.db}"
                    outdir.mkdir(parents=True, exist_ok=True)
                    work = profile(stack, plan, outdir, poll_interval=args.poll_ms / 1000)
                    print(run_interruptible(stack, work))
                    return 0
                from bench.run import run

                measuring = run(stack, plan, poll_interval=args.poll_ms / 1000, only=args.only)
                results = run_interruptible(stack, measuring)
    except (KeyboardInterrupt, Interrupted):
        print("bench: interrupted; every process it started is stopped", file=sys.stderr)
        return 130
    path = args.json or RESULTS / name
    report.write_json(results, path)
    print(report.table(results))
    print(f"\nresults written to {path}")
    return 1 if _broken(results) else 0


def _broken(results: dict[str, Any]) -> bool:
    """A race without exactly one winner, a leaked hold, a reminder never recorded, or an
    incremental calendar sync that missed the change."""
    race = results.get("contention")
    if race and (not race["one_winner_every_race"] or any(race["leaked_holds"])):
        print("bench: a race did not have exactly one winner and no leaked hold", file=sys.stderr)
        return True
    reminders = results.get("punctuality")
    if reminders and reminders["missing"]:
        print(
            f"bench: {reminders['missing']} of {reminders['expected']} reminders were never "
            "recorded",
            file=sys.stderr,
        )
        return True
    adapters = results.get("calendar_sync", {}).get("adapters", [])
    missed = [a["adapter"] for a in adapters if not a["saw_change"]]
    if missed:
        print(f"bench: an incremental sync missed the change: {', '.join(missed)}", file=sys.stderr)
        return True
    return False


if __name__ == "__main__":
    sys.exit(main())
