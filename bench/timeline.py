"""Where a booking's wall time goes, read from its Temporal history: step by step, median."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from itertools import pairwise
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.stats import percentile


def _name(event: Any) -> str:
    kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    if event.HasField("activity_task_scheduled_event_attributes"):
        kind += f"[{event.activity_task_scheduled_event_attributes.activity_type.name}]"
    return kind


def _when(event: Any) -> datetime:
    return event.event_time.ToDatetime()


async def gaps(
    client: Client, workflow_ids: Iterable[str], until: str, nth: int = 1
) -> list[dict[str, Any]]:
    """Median / max milliseconds between consecutive history events, up to the nth `until`.

    `until` is an event type such as WORKFLOW_EXECUTION_UPDATE_COMPLETED (the early return
    of POST /appointments) or ACTIVITY_TASK_COMPLETED after the signal.
    """
    steps: dict[int, list[float]] = defaultdict(list)
    labels: dict[int, str] = {}
    totals: list[float] = []
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        events = list(history.events)
        first = _when(events[0])
        seen = 0
        for i, (before, after) in enumerate(pairwise(events)):
            labels.setdefault(i, f"{_name(before)} -> {_name(after)}")
            steps[i].append((_when(after) - _when(before)).total_seconds() * 1000)
            if EventType.Name(after.event_type).removeprefix("EVENT_TYPE_") == until:
                seen += 1
            if seen == nth:
                totals.append((_when(after) - first).total_seconds() * 1000)
                break
    rows = [{"step": labels[i], **_figures(values)} for i, values in sorted(steps.items())]
    if totals:
        rows.append({"step": f"TOTAL started -> {until}", **_figures(totals)})
    return rows


def _figures(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values), 2),
        "p90_ms": round(percentile(values, 90), 2),
        "max_ms": round(max(values), 2),
    }


def render(title: str, rows: list[dict[str, Any]]) -> str:
    lines = [title, f"  {'median ms':>10} {'p90 ms':>9} {'max ms':>9}  step"]
    lines += [
        f"  {r['median_ms']:>10.1f} {r['p90_ms']:>9.1f} {r['max_ms']:>9.1f}  {r['step']}"
        for r in rows
    ]
    return "\n".join(lines)
