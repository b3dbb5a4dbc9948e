"""Failure types that cross the activity/workflow/API boundary as `ApplicationError.type`."""

SLOT_UNAVAILABLE = "SlotUnavailable"
SLOT_NOT_BOOKABLE = "SlotNotBookable"
HOLD_LOST = "HoldLost"
NOT_RESCHEDULABLE = "NotReschedulable"
# Validator refusals of the booking workflow's updates.
NOT_CANCELLABLE = "NotCancellable"
NOT_AWAITING_APPROVAL = "NotAwaitingApproval"
# The booking ended, but an undo step failed for good: an operator must finish it.
COMPENSATION_INCOMPLETE = "CompensationIncomplete"

RESCHEDULE_LIMIT_REACHED = "RescheduleLimitReached"
# The customer already has as many unpaid holds open as one may (MAX_OPEN_HOLDS).
TOO_MANY_HOLDS = "TooManyHolds"
# The database refused a write for its data (too long, out of range): no retry can change that.
DATA_REJECTED = "DataRejected"

# Domain outcomes, not outages: retrying them cannot help.
NON_RETRYABLE = [
    SLOT_UNAVAILABLE,
    SLOT_NOT_BOOKABLE,
    HOLD_LOST,
    NOT_RESCHEDULABLE,
    RESCHEDULE_LIMIT_REACHED,
    DATA_REJECTED,
    TOO_MANY_HOLDS,
]

# A refusal the caller hears, by failure type: the stable `code` a client reads (api/errors.py
# gives each its HTTP status). A scheduling rule's refusal carries its own code instead.
REFUSALS = {
    SLOT_UNAVAILABLE: "slot_unavailable",
    SLOT_NOT_BOOKABLE: "slot_not_bookable",
    NOT_CANCELLABLE: "not_cancellable",
    NOT_RESCHEDULABLE: "not_reschedulable",
    NOT_AWAITING_APPROVAL: "not_awaiting_approval",
    RESCHEDULE_LIMIT_REACHED: "reschedule_limit_reached",
    TOO_MANY_HOLDS: "too_many_holds",
}
