"""The reconciler: bookings whose workflow is gone get their lapsed hold released or their ended
appointment completed; what it cannot decide safely it reports to an operator."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.types import MethodAsyncSingleParam

with workflow.unsafe.imports_passed_through():
    from activities.reconcile import ReconcileActivities
    from contract.reconcile import (
        MAX_PROBLEMS,
        Candidate,
        CandidatePage,
        CandidateQuery,
        Finding,
        ReconcileProblem,
        ReconcileReport,
        ReconcileRun,
        ReconcileStep,
        WorkflowCheck,
        WorkflowPresence,
        WorkflowState,
    )

STEP_TIMEOUT = timedelta(seconds=30)
# A page of describes, DESCRIBE_CONCURRENCY at a time.
CHECK_TIMEOUT = timedelta(minutes=2)
# A run that cannot reach the database or Temporal fails; the next scheduled run tries again.
# The gateway's refusals arrive as non-retryable ApplicationErrors and are reported, not retried.
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
)

FixStep = MethodAsyncSingleParam[ReconcileActivities, ReconcileStep, bool]

_UNFIXABLE = {
    Finding.OPEN_HOLD: "a hold without a running workflow whose deadline has not passed",
    Finding.UNDER_WAY: "a confirmed appointment under way without a running workflow",
    Finding.UPCOMING: "a confirmed upcoming appointment without a running workflow",
}


@workflow.defn
class ReconcilerWorkflow:
    def __init__(self) -> None:
        self._report = ReconcileReport()

    @workflow.run
    async def run(self, run: ReconcileRun) -> ReconcileReport:
        self._report = run.carried
        after = run.after
        for _ in range(run.pages_per_run):
            page = await self._next_page(run, after)
            await self._reconcile_page(page, run)
            if len(page.candidates) < run.batch_size:
                return self._finish()
            after = page.candidates[-1].booking_id
        workflow.logger.info("reconciler continues after booking %s", after)
        workflow.continue_as_new(run.model_copy(update={"after": after, "carried": self._report}))

    async def _next_page(self, run: ReconcileRun, after: UUID | None) -> CandidatePage:
        query = CandidateQuery(
            grace=run.grace, limit=run.batch_size, provider_id=run.provider_id, after=after
        )
        return await workflow.execute_activity_method(
            ReconcileActivities.find_reconcile_candidates,
            query,
            summary=f"Find up to {run.batch_size} bookings to check",
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
        )

    async def _reconcile_page(self, page: CandidatePage, run: ReconcileRun) -> None:
        if not page.candidates:
            return
        checked = await workflow.execute_activity_method(
            ReconcileActivities.check_booking_workflows,
            WorkflowCheck(booking_ids=tuple(c.booking_id for c in page.candidates)),
            summary=f"Ask Temporal about {len(page.candidates)} booking workflows",
            start_to_close_timeout=CHECK_TIMEOUT,
            retry_policy=STEP_RETRY,
        )
        states = {state.booking_id: state for state in checked.states}
        for candidate in page.candidates:
            self._count("examined")
            state = states[candidate.booking_id]
            if state.presence == WorkflowPresence.RUNNING:
                self._count("live")
            elif candidate.finding == Finding.LAPSED_HOLD:
                await self._release_hold(candidate, state, run)
            elif candidate.finding == Finding.ENDED:
                await self._complete(candidate, state, run)
            else:
                self._report_problem(candidate, f"{_UNFIXABLE[candidate.finding]} ({_gone(state)})")

    async def _release_hold(
        self, candidate: Candidate, state: WorkflowState, run: ReconcileRun
    ) -> None:
        step = ReconcileStep(booking_id=candidate.booking_id, grace=run.grace)
        try:
            released = await self._step(
                ReconcileActivities.expire_orphaned_hold, step, "Expire the lapsed hold"
            )
        except ActivityError as err:
            self._report_problem(candidate, f"releasing the lapsed hold failed: {_cause(err)}")
            return
        if not released:
            self._report_problem(candidate, "the hold changed while it was being released")
            return
        self._count("released")
        workflow.logger.info("released lapsed hold %s (%s)", candidate.booking_id, _gone(state))
        try:
            voided = await workflow.execute_activity_method(
                ReconcileActivities.void_orphaned_payments,
                step,
                summary="Cancel or refund the expired hold's payments",
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=STEP_RETRY,
            )
        except ActivityError as err:
            self._report_problem(
                candidate, f"hold released, but its payment was not voided: {_cause(err)}"
            )
            return
        self._count("voided", voided.count)

    async def _complete(
        self, candidate: Candidate, state: WorkflowState, run: ReconcileRun
    ) -> None:
        step = ReconcileStep(booking_id=candidate.booking_id, grace=run.grace)
        try:
            completed = await self._step(
                ReconcileActivities.complete_orphaned_booking, step, "Complete the ended booking"
            )
        except ActivityError as err:
            self._report_problem(candidate, f"completing the ended booking failed: {_cause(err)}")
            return
        if not completed:
            self._report_problem(candidate, "the booking changed while it was being completed")
            return
        self._count("completed")
        workflow.logger.info("completed ended booking %s (%s)", candidate.booking_id, _gone(state))

    async def _step(self, activity: FixStep, step: ReconcileStep, summary: str) -> bool:
        return await workflow.execute_activity_method(
            activity,
            step,
            summary=summary,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
        )

    def _count(self, name: str, by: int = 1) -> None:
        self._report = self._report.model_copy(update={name: getattr(self._report, name) + by})

    def _report_problem(self, candidate: Candidate, problem: str) -> None:
        self._count("unresolved")
        workflow.logger.warning(
            "booking %s (%s): %s", candidate.booking_id, candidate.status, problem
        )
        if len(self._report.problems) < MAX_PROBLEMS:
            listed = ReconcileProblem(
                booking_id=candidate.booking_id, status=candidate.status, problem=problem
            )
            self._report = self._report.model_copy(
                update={"problems": (*self._report.problems, listed)}
            )

    def _finish(self) -> ReconcileReport:
        report = self._report
        workflow.logger.info(
            "reconciler: examined %d, live %d, released %d, voided %d, completed %d, unresolved %d",
            report.examined,
            report.live,
            report.released,
            report.voided,
            report.completed,
            report.unresolved,
        )
        return report


def _gone(state: WorkflowState) -> str:
    if state.presence == WorkflowPresence.MISSING:
        return "workflow not found"
    return f"workflow {state.closed_as or 'closed'}"


def _cause(err: ActivityError) -> str:
    return str(err.cause) if err.cause is not None else str(err)
