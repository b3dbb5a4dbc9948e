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

# Domain outcomes, not outages: retrying them cannot help.
NON_RETRYABLE = [SLOT_UNAVAILABLE, SLOT_NOT_BOOKABLE, HOLD_LOST, NOT_RESCHEDULABLE]
