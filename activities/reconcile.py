"""The reconciler's activities: read candidates, ask Temporal about their workflows, fix rows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.payments.port import PaymentGateway
from contract.reconcile import (
    CandidatePage,
    CandidateQuery,
    PaymentsVoided,
    ReconcileStep,
    WorkflowCheck,
    WorkflowPresence,
    WorkflowState,
    WorkflowStates,
)
from db import booking_lifecycle, reconcile
from db.engine import Database
from domain.timezones import utc_now

# Describes in flight at once: enough to check a page quickly, few enough to spare the server.
DESCRIBE_CONCURRENCY = 10


def void_idempotency_key(intent_id: str) -> str:
    return f"reconciler:{intent_id}:void"


class ReconcileActivities:
    def __init__(
        self,
        db: Database,
        client: Client,
        payments: PaymentGateway,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._client = client
        self._payments = payments
        self._clock = clock

    @activity.defn
    async def find_reconcile_candidates(self, query: CandidateQuery) -> CandidatePage:
        candidates = await reconcile.find_candidates(self._db, query, now=self._clock())
        return CandidatePage(candidates=tuple(candidates))

    @activity.defn
    async def check_booking_workflows(self, check: WorkflowCheck) -> WorkflowStates:
        limit = asyncio.Semaphore(DESCRIBE_CONCURRENCY)

        async def state_of(booking_id: UUID) -> WorkflowState:
            async with limit:
                return await self._workflow_state(booking_id)

        states = await asyncio.gather(*(state_of(b) for b in check.booking_ids))
        return WorkflowStates(states=tuple(states))

    async def _workflow_state(self, booking_id: UUID) -> WorkflowState:
        handle = self._client.get_workflow_handle(f"booking-{booking_id}")
        try:
            described = await handle.describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return WorkflowState(booking_id=booking_id, presence=WorkflowPresence.MISSING)
            raise
        if described.status == WorkflowExecutionStatus.RUNNING:
            return WorkflowState(booking_id=booking_id, presence=WorkflowPresence.RUNNING)
        closed_as = described.status.name.lower() if described.status else None
        return WorkflowState(
            booking_id=booking_id, presence=WorkflowPresence.CLOSED, closed_as=closed_as
        )

    @activity.defn
    async def expire_orphaned_hold(self, step: ReconcileStep) -> bool:
        now = self._clock()
        return await reconcile.expire_lapsed_hold(
            self._db, step.booking_id, now=now, cutoff=now - step.grace
        )

    @activity.defn
    async def void_orphaned_payments(self, step: ReconcileStep) -> PaymentsVoided:
        """Cancel or refund every payment of the booking not yet voided; the gateway's refusals
        (an unknown intent) are non-retryable and reach the workflow as such."""
        intents = await reconcile.open_payment_intents(self._db, step.booking_id)
        for intent_id in intents:
            void = await self._payments.cancel_or_refund(intent_id, void_idempotency_key(intent_id))
            await booking_lifecycle.record_payment_void(self._db, void, now=self._clock())
        return PaymentsVoided(count=len(intents))

    @activity.defn
    async def complete_orphaned_booking(self, step: ReconcileStep) -> bool:
        now = self._clock()
        return await reconcile.complete_ended_booking(
            self._db, step.booking_id, now=now, cutoff=now - step.grace
        )

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.find_reconcile_candidates,
            self.check_booking_workflows,
            self.expire_orphaned_hold,
            self.void_orphaned_payments,
            self.complete_orphaned_booking,
        ]
