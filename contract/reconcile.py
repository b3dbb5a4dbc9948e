"""The reconciler's messages: what it looks at, what it asks Temporal, and the report it returns."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from contract.messages import Model
from domain.booking_state import BookingStatus

RECONCILER_SCHEDULE_ID = "booking-reconciler"
EXPIRED_BY_RECONCILER = "reconciler: the booking's workflow is gone and its hold lapsed"
MAX_PROBLEMS = 50


class Finding(StrEnum):
    """Why a row is a candidate, decided against one `now`; only the first two are fixed."""

    LAPSED_HOLD = "lapsed_hold"
    ENDED = "ended"
    OPEN_HOLD = "open_hold"
    UNDER_WAY = "under_way"
    UPCOMING = "upcoming"


class WorkflowPresence(StrEnum):
    RUNNING = "running"
    CLOSED = "closed"
    MISSING = "missing"


class ReconcileProblem(Model):
    """A booking the reconciler could not fix; ids and statuses only, never personal data."""

    booking_id: UUID
    status: BookingStatus
    problem: str


class ReconcileReport(Model):
    examined: int = 0
    live: int = 0
    released: int = 0
    voided: int = 0
    completed: int = 0
    # Every booking left for an operator; `problems` lists the first MAX_PROBLEMS of them.
    unresolved: int = 0
    problems: tuple[ReconcileProblem, ...] = Field(default=(), max_length=MAX_PROBLEMS)


class ReconcileRun(Model):
    """One run of the reconciler; `after` and `carried` continue a run that continued-as-new."""

    grace: timedelta = Field(gt=timedelta(0))
    batch_size: int = Field(default=200, gt=0, le=1000)
    pages_per_run: int = Field(default=10, gt=0)
    # Only this provider's bookings: an operator's targeted run (and the tests').
    provider_id: UUID | None = None
    after: UUID | None = None
    carried: ReconcileReport = ReconcileReport()


class CandidateQuery(Model):
    grace: timedelta
    limit: int = Field(gt=0)
    provider_id: UUID | None = None
    after: UUID | None = None


class Candidate(Model):
    booking_id: UUID
    status: BookingStatus
    finding: Finding


class CandidatePage(Model):
    candidates: tuple[Candidate, ...]


class WorkflowCheck(Model):
    booking_ids: tuple[UUID, ...]


class WorkflowState(Model):
    booking_id: UUID
    presence: WorkflowPresence
    # The closed run's status in lower case (`completed`, `terminated`, ...), or None.
    closed_as: str | None = None


class WorkflowStates(Model):
    states: tuple[WorkflowState, ...]


class ReconcileStep(Model):
    """Fix one booking, if it is still what the reconciler found."""

    booking_id: UUID
    grace: timedelta


class PaymentsVoided(Model):
    count: int
