"""One workflow per calendar connection: read its calendars now, then every period, and at
once when signalled; stop when the grant breaks or the connection is removed."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.announcements import beside

with workflow.unsafe.imports_passed_through():
    from activities.calendar_sync import CalendarSyncActivities
    from contract.calendars import ConnectionStatus, SyncReport, SyncRequest
    from contract.notifications import ProviderNotice
    from workflows.search_attributes import CALENDAR_SYNC_STATUS

SYNC_TIMEOUT = timedelta(minutes=5)
# 5xx and connection errors back off exponentially; a 429's Retry-After sets the next delay.
SYNC_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=30),
)
# Each sync adds a handful of events: a fresh history long before it grows large.
SYNCS_PER_RUN = 200
ENDS = (ConnectionStatus.BROKEN.value, "gone")


def workflow_id(connection_id: object) -> str:
    return f"calendar-sync-{connection_id}"


@workflow.defn
class CalendarSyncWorkflow:
    @workflow.init
    def __init__(self, request: SyncRequest) -> None:
        self._requested = False
        self._stopped = False
        self._last: SyncReport | None = None
        self._syncs = 0

    @workflow.run
    async def run(self, request: SyncRequest) -> SyncReport:
        while True:
            self._requested = False
            report = await workflow.execute_activity_method(
                CalendarSyncActivities.sync_calendars,
                request.connection_id,
                summary="Read the connection's calendars",
                start_to_close_timeout=SYNC_TIMEOUT,
                retry_policy=SYNC_RETRY,
            )
            self._last, self._syncs = report, self._syncs + 1
            workflow.upsert_search_attributes([CALENDAR_SYNC_STATUS.value_set(report.status)])
            for notice in report.notices:
                await self._notify(notice)
            if report.status in ENDS:
                return report
            with contextlib.suppress(TimeoutError):  # the period is over: sync again
                await workflow.wait_condition(
                    lambda: self._requested or self._stopped,
                    timeout=timedelta(seconds=request.period_seconds),
                    timeout_summary="until the next sync",
                )
            if self._stopped:
                return report
            if self._syncs >= SYNCS_PER_RUN or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(request)

    async def _notify(self, notice: ProviderNotice) -> None:
        """Each notice once (its key); a message never fails the sync."""
        await beside(
            CalendarSyncActivities.notify_provider,
            notice,
            summary=f"Tell the provider: {notice.kind.replace('_', ' ')}",
            what=f"notice {notice.key}",
        )

    @workflow.signal
    def sync_now(self) -> None:
        """Read the calendars at once (`POST /calendar/sync/initiate`, a choice of calendars)."""
        self._requested = True

    @workflow.signal
    def stop(self) -> None:
        """The connection is being removed."""
        self._stopped = True

    @workflow.query
    def last_sync(self) -> SyncReport | None:
        return self._last
