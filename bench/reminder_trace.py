"""Where each reminder's delay went, read from its booking's Temporal history.

A reminder's timer ends up to REMINDER_PREPARE_SECONDS before its instant (at it, with 0); from
that end, in turn:
  timer fired late            the server fired it after its end (its start + its timeout)
  workflow task               the worker started the workflow task the firing made
  activity scheduled          the worker completed that task, asking for tell_people
  activity started            a worker's activity slot took it; it renders and records the
                              message, then waits for the instant
then, against the instant:
  started before the instant  how much time the activity had (negative: it started late)
  sent after the instant      sent_at in the database, after the instant
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

STAGES = ("timer fired late", "workflow task", "activity scheduled", "activity started")
CONCURRENCY = 10
ATTEMPTS, AGAIN_S = 10, 0.5
# The reminder's timer ends this long before the instant at most (REMINDER_PREPARE_SECONDS'
# bound), or at most this long after (armed late); the booking's other timers are further off.
BEFORE, AFTER = timedelta(seconds=600), timedelta(seconds=60)


async def trace(client: Client, sent: Mapping[UUID, datetime], due: datetime) -> dict[str, Any]:
    """p50 / p99 / max milliseconds of each stage, over the bookings whose history shows them."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def marks(booking_id: UUID, sent_at: datetime) -> list[datetime] | None:
        # The message is recorded sent inside its activity, a moment before the activity's
        # completion (and with it, its ActivityTaskStarted event) reaches the history.
        for _ in range(ATTEMPTS):
            async with gate:
                handle = client.get_workflow_handle(f"booking-{booking_id}")
                history = await handle.fetch_history()
            found = _marks(history.events, due, sent_at)
            if found is not None or not _activity_open(history.events):
                return found
            await asyncio.sleep(AGAIN_S)
        return None

    found = await asyncio.gather(*(marks(b, at) for b, at in sent.items()))
    traced = [instants for instants in found if instants is not None]
    stages = []
    for i, name in enumerate(STAGES):
        stages.append(_stage(name, [(m[i + 1] - m[i]).total_seconds() for m in traced]))
    stages.append(
        _stage("started before the instant", [(due - m[4]).total_seconds() for m in traced])
    )
    stages.append(_stage("sent after the instant", [(m[5] - due).total_seconds() for m in traced]))
    return {"traced": len(traced), "of": len(sent), "stages": stages}


def _stage(name: str, seconds: list[float]) -> dict[str, Any]:
    figures = latency_ms(seconds)
    return {"stage": name, **{q: figures[q] for q in ("p50", "p99", "max")}}


def _marks(events: Sequence[Any], due: datetime, sent_at: datetime) -> list[datetime] | None:
    """The instants that bound each stage, or None if the history does not show them all."""
    by_id = {event.event_id: event for event in events}
    fired = next(
        (
            e
            for e in reversed(events)
            if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED
            and due - BEFORE
            < _end(by_id[e.timer_fired_event_attributes.started_event_id])
            < due + AFTER
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
    return [_end(timer), _when(fired), _when(task), _when(scheduled), _when(started), sent_at]


def _activity_open(events: Sequence[Any]) -> bool:
    """Whether an activity the history scheduled has not closed in it yet."""
    scheduled = {
        e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    closing = (
        ("activity_task_completed_event_attributes", EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED),
        ("activity_task_failed_event_attributes", EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED),
        ("activity_task_timed_out_event_attributes", EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT),
        ("activity_task_canceled_event_attributes", EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED),
    )
    for attributes, kind in closing:
        for e in events:
            if e.event_type == kind:
                scheduled.discard(getattr(e, attributes).scheduled_event_id)
    return bool(scheduled)


def _first(events: Sequence[Any], kind: int) -> Any:
    return next((e for e in events if e.event_type == kind), None)


def _when(event: Any) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)  # type: ignore[no-any-return]


def _end(timer_started: Any) -> datetime:
    """When a timer is due to fire: the server's start time plus its timeout."""
    timeout = timer_started.timer_started_event_attributes.start_to_fire_timeout
    return _when(timer_started) + timeout.ToTimedelta()  # type: ignore[no-any-return]
