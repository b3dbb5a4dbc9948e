"""The Temporal calls the API makes for calendar sync: start a connection's sync, sync it now,
stop it. An unreachable engine is BookingEngineUnavailable (503), as for bookings."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from contract.calendars import ConnectionStatus, SyncRequest
from workflows import search_attributes
from workflows.calendar_sync import CalendarSyncWorkflow, workflow_id
from workflows.client import SIGNAL_TIMEOUT, WorkflowNotFound, call_engine


class CalendarSyncClient:
    def __init__(self, client: Client, task_queue: str, period: timedelta) -> None:
        self._client = client
        self._task_queue = task_queue
        self._period = period

    async def start(self, connection_id: UUID, provider_id: UUID) -> None:
        """Start the connection's sync (a running one is left as it is, and told to sync now)."""
        handle = await call_engine(
            self._client.start_workflow(
                CalendarSyncWorkflow.run,
                SyncRequest(
                    connection_id=connection_id,
                    period_seconds=int(self._period.total_seconds()),
                ),
                id=workflow_id(connection_id),
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(search_attributes.PROVIDER_ID, str(provider_id)),
                        SearchAttributePair(
                            search_attributes.CALENDAR_SYNC_STATUS, ConnectionStatus.ACTIVE.value
                        ),
                    ]
                ),
                static_summary="Calendar sync of one connection",
            )
        )
        await call_engine(handle.signal(CalendarSyncWorkflow.sync_now, rpc_timeout=SIGNAL_TIMEOUT))

    async def sync_now(self, connection_id: UUID, provider_id: UUID) -> None:
        """Sync at once; a sync that had ended (a restart of the engine, say) starts again."""
        handle = self._client.get_workflow_handle(workflow_id(connection_id))
        try:
            await call_engine(
                handle.signal(CalendarSyncWorkflow.sync_now, rpc_timeout=SIGNAL_TIMEOUT)
            )
        except WorkflowNotFound:
            await self.start(connection_id, provider_id)

    async def stop(self, connection_id: UUID) -> None:
        handle = self._client.get_workflow_handle(workflow_id(connection_id))
        try:
            await call_engine(handle.signal(CalendarSyncWorkflow.stop, rpc_timeout=SIGNAL_TIMEOUT))
        except WorkflowNotFound:
            return
