"""The Temporal Schedules the system runs on: the booking reconciler and data retention."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from config import Settings
from contract.reconcile import RECONCILER_SCHEDULE_ID, ReconcileRun
from contract.retention import RETENTION_SCHEDULE_ID, RetentionPeriods, RetentionRun
from workflows.reconciler import ReconcilerWorkflow
from workflows.retention import RetentionWorkflow


def reconciler_schedule(settings: Settings) -> Schedule:
    run = ReconcileRun(grace=timedelta(minutes=settings.reconcile_grace_minutes))
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReconcilerWorkflow.run,
            run,
            # The schedule appends the scheduled time to this id.
            id=RECONCILER_SCHEDULE_ID,
            task_queue=settings.temporal_task_queue,
            static_summary="Fix or report bookings whose workflow is gone",
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(minutes=settings.reconcile_interval_minutes))
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


def retention_schedule(settings: Settings) -> Schedule:
    periods = RetentionPeriods(
        message_days=settings.retention_message_days,
        payment_event_days=settings.retention_payment_event_days,
        calendar_authorization_days=settings.retention_calendar_authorization_days,
    )
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RetentionWorkflow.run,
            RetentionRun(periods=periods),
            id=RETENTION_SCHEDULE_ID,
            task_queue=settings.temporal_task_queue,
            static_summary="Purge personal data past its retention period",
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(hours=settings.retention_interval_hours))
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_reconciler_schedule(client: Client, settings: Settings) -> None:
    """Create the reconciler's schedule, or bring an existing one to these settings; an
    operator's pause survives the update."""
    await _ensure(client, RECONCILER_SCHEDULE_ID, reconciler_schedule(settings))


async def ensure_retention_schedule(client: Client, settings: Settings) -> None:
    """The retention workflow's schedule, as `ensure_reconciler_schedule` makes its own."""
    await _ensure(client, RETENTION_SCHEDULE_ID, retention_schedule(settings))


async def _ensure(client: Client, schedule_id: str, schedule: Schedule) -> None:
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:

        def keep_state(current: ScheduleUpdateInput) -> ScheduleUpdate:
            kept = dataclasses.replace(schedule, state=current.description.schedule.state)
            return ScheduleUpdate(schedule=kept)

        await client.get_schedule_handle(schedule_id).update(keep_state)
