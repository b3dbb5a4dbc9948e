"""The Temporal Schedules the system runs on: today the booking reconciler."""

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
from workflows.reconciler import ReconcilerWorkflow


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


async def ensure_reconciler_schedule(client: Client, settings: Settings) -> None:
    """Create the reconciler's schedule, or bring an existing one to these settings; an
    operator's pause survives the update."""
    schedule = reconciler_schedule(settings)
    try:
        await client.create_schedule(RECONCILER_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:

        def keep_state(current: ScheduleUpdateInput) -> ScheduleUpdate:
            kept = dataclasses.replace(schedule, state=current.description.schedule.state)
            return ScheduleUpdate(schedule=kept)

        await client.get_schedule_handle(RECONCILER_SCHEDULE_ID).update(keep_state)
