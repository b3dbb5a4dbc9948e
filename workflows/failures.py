"""How the booking workflow reads a failed step, and what it tells the caller."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as StepTimedOut

StepFailure = ActivityError | ApplicationError | StepTimedOut


def refusal(
    err: StepFailure, answered: tuple[str, ...], otherwise: str, otherwise_type: str
) -> ApplicationError:
    """What the caller is told when a step on its behalf failed: the step's own refusal if it is
    one of the `answered` types (its message, code and type), else `otherwise`."""
    cause = application_failure(err)
    if cause is not None and cause.type in answered:
        return ApplicationError(cause.message, *cause.details, type=cause.type, non_retryable=True)
    return ApplicationError(otherwise, type=otherwise_type, non_retryable=True)


def application_failure(err: StepFailure) -> ApplicationError | None:
    """The activity's own ApplicationError. A regular activity's failure arrives wrapped in an
    ActivityError; a local activity's arrives as the ApplicationError itself."""
    cause = err.cause if isinstance(err, ActivityError) else err
    return cause if isinstance(cause, ApplicationError) else None
