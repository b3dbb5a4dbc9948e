"""The retention workflow: purge what is past its retention period, a batch at a time, until
nothing is left or the run's batches are spent (the next scheduled run goes on)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.retention import RetentionActivities
    from contract.retention import Purged, RetentionBatch, RetentionRun

PURGE_TIMEOUT = timedelta(minutes=2)
# A database that stays down fails the run; the next scheduled run tries again.
PURGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
)


@workflow.defn
class RetentionWorkflow:
    @workflow.run
    async def run(self, run: RetentionRun) -> Purged:
        total = Purged()
        batch = RetentionBatch(periods=run.periods, batch_size=run.batch_size)
        for _ in range(run.max_batches):
            purged = await workflow.execute_activity_method(
                RetentionActivities.purge_past_retention,
                batch,
                summary=f"Purge up to {run.batch_size} rows of each kind past retention",
                start_to_close_timeout=PURGE_TIMEOUT,
                retry_policy=PURGE_RETRY,
            )
            total += purged
            if purged.most() < run.batch_size:
                break
        workflow.logger.info(
            "retention: %d messages emptied, %d payment events and %d calendar "
            "authorizations deleted",
            total.messages,
            total.payment_events,
            total.calendar_authorizations,
        )
        return total
