"""Where each reminder's delay went, read from its booking's Temporal history.

From the instant it fell due to the moment the database says it left, in turn:
  timer armed late     the timer's end (when the server took it + its timeout) after the
                       instant: the workflow counts the timeout from its task's start time
  timer fired late     the server fired it after that end
  workflow task        the worker started the workflow task the firing made
  activity scheduled   the worker completed that task, asking for tell_people
  activity started     a worker's activity slot took it
  sent                 the activity rendered, recorded and sent it (sent_at in the database)
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.stats import latency_ms

STAGES = (
    "timer armed late",
    "timer fired late",
    "workflow task",
    "activity scheduled",
    "activity started",
    "sent",
)
CONCURRENCY = 10
# A timer whose end is this close to the instant is the reminder's (the others are hours off).
NEAR = timedelta(seconds=60)


async def trace(client: Client, sent: Mapping[UUID, datetime], due: datetime) -> dict[str, Any]:
    """p50 / p99 / max milliseconds of each stage, over the bookings whose history shows them."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def marks(booking_id: UUID, sent_at: datetime) -> list[datetime] | None:
        async with gate:
            history = await client.get_workflow_handle(f"booking-{booking_id}").fetch_history()
        return _marks(history.events, due, sent_at)

    found = await asyncio.gather(*(marks(b, at) for b, at in sent.items()))
    traced = [instants for instants in found if instants is not None]
    stages = []
    for i, name in enumerate(STAGES):
        gaps = [(m[i + 1] - m[i]).total_seconds() for m in traced]
        figures = latency_ms(gaps)
        stages.append({"stage": name, **{q: figures[q] for q in ("p50", "p99", "max")}})
    return {"traced": len(traced), "of": len(sent), "stages": stages}


def _marks(events: Sequence[Any], due: datetime, sent_at: datetime) -> list[datetime] | None:
    """The instants that bound each stage, or None if the history does not show them all."""
    by_id = {event.event_id: event for event in events}
    fired = next(
        (
            e
            for e in events
            if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED
            and abs(_end(by_id[e.timer_fired_event_attributes.started_event_id]) - due) < NEAR
        ),
        None,
    )
    if fired is None:
        return None
    after = [e for e in events if e.event_id > fired.event_id]
    task = _first(after, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)
    scheduled = next(
        (
            e
            for e in after
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and e.activity_task_scheduled_event_attributes.activity_type.name == "tell_people"
        ),
        None,
    )
    if task is None or scheduled is None:
        return None
    started = next(
        (
            e
            for e in after
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            and e.activity_task_started_event_attributes.scheduled_event_id == scheduled.event_id
        ),
        None,
    )
    if started is None:
        return None
    timer = by_id[fired.timer_fired_event_attributes.started_event_id]
    return [due, _end(timer), _when(fired), _when(task), _when(scheduled), _when(started), sent_at]


def _first(events: Sequence[Any], kind: int) -> Any:
    return next((e for e in events if e.event_type == kind), None)


def _when(event: Any) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)  # type: ignore[no-any-return]


def _end(timer_started: Any) -> datetime:
    """When a timer is due to fire: the server's start time plus its timeout."""
    timeout = timer_started.timer_started_event_attributes.start_to_fire_timeout
    return _when(timer_started) + timeout.ToTimedelta()  # type: ignore[no-any-return]
