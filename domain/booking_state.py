"""The booking state machine: which statuses exist, which hold the slot, which moves are legal."""

from __future__ import annotations

from enum import StrEnum


class BookingStatus(StrEnum):
    # Before the slot is held; the workflow alone knows these two.
    REQUESTED = "requested"
    REJECTED = "rejected"
    # Stored on the appointment row.
    AWAITING_PAYMENT = "awaiting_payment"
    AWAITING_APPROVAL = "awaiting_approval"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    PAYMENT_FAILED = "payment_failed"
    DECLINED = "declined"
    # Shown, never stored: the workflow has the cancellation and is undoing the booking.
    CANCELLING = "cancelling"


STORED_STATUSES = frozenset(BookingStatus) - {
    BookingStatus.REQUESTED,
    BookingStatus.REJECTED,
    BookingStatus.CANCELLING,
}

# Statuses whose appointment occupies its slot: the database refuses overlaps among these.
ACTIVE_STATUSES = frozenset(
    {BookingStatus.AWAITING_PAYMENT, BookingStatus.AWAITING_APPROVAL, BookingStatus.CONFIRMED}
)

# Active statuses that are only a hold: past hold_expires_at they free the slot.
HOLD_STATUSES = frozenset({BookingStatus.AWAITING_PAYMENT, BookingStatus.AWAITING_APPROVAL})

TERMINAL_STATUSES = frozenset(
    {
        BookingStatus.REJECTED,
        BookingStatus.COMPLETED,
        BookingStatus.NO_SHOW,
        BookingStatus.CANCELLED,
        BookingStatus.EXPIRED,
        BookingStatus.PAYMENT_FAILED,
        BookingStatus.DECLINED,
    }
)

_TRANSITIONS: dict[BookingStatus, frozenset[BookingStatus]] = {
    # A hold's outcome; or the workflow cancelled or failing before the hold answered.
    BookingStatus.REQUESTED: frozenset(
        {
            BookingStatus.REJECTED,
            BookingStatus.AWAITING_PAYMENT,
            BookingStatus.AWAITING_APPROVAL,
            BookingStatus.CONFIRMED,
            BookingStatus.CANCELLED,
        }
    ),
    BookingStatus.AWAITING_PAYMENT: frozenset(
        {
            BookingStatus.AWAITING_APPROVAL,
            BookingStatus.CONFIRMED,
            BookingStatus.EXPIRED,
            BookingStatus.PAYMENT_FAILED,
            BookingStatus.CANCELLED,
        }
    ),
    BookingStatus.AWAITING_APPROVAL: frozenset(
        {
            BookingStatus.CONFIRMED,
            BookingStatus.DECLINED,
            BookingStatus.EXPIRED,
            BookingStatus.CANCELLED,
        }
    ),
    BookingStatus.CONFIRMED: frozenset(
        {BookingStatus.COMPLETED, BookingStatus.NO_SHOW, BookingStatus.CANCELLED}
    ),
}


def can_move(current: BookingStatus, target: BookingStatus) -> bool:
    """Whether a booking in `current` may move to `target` (the workflow's `_set_status`
    enforces these)."""
    return target in _TRANSITIONS.get(current, frozenset())
