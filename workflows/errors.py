"""Failure types that cross the activity/workflow/API boundary as `ApplicationError.type`."""

SLOT_UNAVAILABLE = "SlotUnavailable"
SLOT_NOT_BOOKABLE = "SlotNotBookable"
HOLD_LOST = "HoldLost"
NOT_RESCHEDULABLE = "NotReschedulable"

# Domain outcomes, not outages: retrying them cannot help.
NON_RETRYABLE = [SLOT_UNAVAILABLE, SLOT_NOT_BOOKABLE, HOLD_LOST, NOT_RESCHEDULABLE]
