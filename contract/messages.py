"""The saga's contract: every workflow, update, signal, query and activity takes one of these."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.booking_state import BookingStatus


class Model(BaseModel):
    model_config = ConfigDict(frozen=True)


# Who asked for a step, for the audit log: a role, and the account when one signed in.
ActorRole = Literal["customer", "provider", "admin", "system"]


class Money(Model):
    """An amount in the currency's minor units (cents), never a float."""

    amount: int = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class BookingInput(Model):
    booking_id: UUID
    provider_id: UUID
    service_id: UUID
    customer_id: UUID
    start: AwareDatetime
    customer_timezone: str | None = None
    # From settings at request time: the workflow itself must not read configuration.
    payment_timeout: timedelta = timedelta(minutes=15)
    approval_timeout: timedelta = timedelta(hours=48)
    # Each move adds to the history of a workflow that may live for months: it is capped.
    max_reschedules: int = 10
    # The service's reminder lead times, in minutes before the start.
    reminder_leads_minutes: tuple[int, ...] = (24 * 60, 60)
    # How long before its instant a reminder is rendered and recorded, to be sent at the
    # instant (REMINDER_PREPARE_SECONDS): a burst of reminders due at one instant is prepared
    # over the seconds before it instead of queueing after it. 0: prepared at the instant.
    reminder_prepare_seconds: int = 0
    # The API request that made the booking, for the audit log.
    request_id: str | None = None


class BookingRef(Model):
    booking_id: UUID


class HoldRequest(Model):
    booking_id: UUID
    provider_id: UUID
    service_id: UUID
    customer_id: UUID
    start: AwareDatetime
    customer_timezone: str | None
    # When an unpaid hold lapses; decided by the workflow, whose timer enforces it.
    payment_deadline: AwareDatetime
    request_id: str | None = None


class Hold(Model):
    booking_id: UUID
    start: AwareDatetime
    end: AwareDatetime
    price: Money
    status: BookingStatus
    hold_expires_at: AwareDatetime | None
    # The provider confirms each booking by hand (auto_confirm off).
    needs_approval: bool = False


class ReleaseRequest(Model):
    booking_id: UUID
    status: BookingStatus
    # The system's account of why the booking ended.
    reason: str
    # The canceller's own words, kept apart from the system's reason.
    note: str | None = None
    actor_id: UUID | None = None
    actor_role: ActorRole = "system"
    request_id: str | None = None


class PaymentIntentRequest(Model):
    booking_id: UUID
    price: Money
    idempotency_key: str
    description: str


class PaymentIntent(Model):
    id: str
    client_secret: str
    amount: int
    currency: str
    status: str
    gateway: str


class VoidPaymentRequest(Model):
    booking_id: UUID
    intent_id: str
    idempotency_key: str
    reason: str


class PaymentVoid(Model):
    """What undoing a payment did: nothing was paid (canceled) or the money went back (refunded)."""

    intent_id: str
    outcome: Literal["canceled", "refunded", "already_void"]
    refunded_amount: int = 0


class PaymentEvent(Model):
    """A verified payment event from the gateway's webhook, as the workflow receives it."""

    event_id: str
    intent_id: str
    booking_id: UUID
    succeeded: bool
    amount: int
    currency: str
    failure_message: str | None = None


class IntentRef(Model):
    intent_id: str


class ApprovalWait(Model):
    """The booking waits for the provider until `deadline`."""

    booking_id: UUID
    intent_id: str | None
    deadline: AwareDatetime


class CancelRequest(Model):
    cancelled_by: Literal["customer", "provider", "admin"]
    reason: str = Field(default="", max_length=500)
    actor_id: UUID | None = None
    request_id: str | None = None


class Decision(Model):
    """A provider's approve or decline, with an optional note."""

    reason: str = Field(default="", max_length=500)
    actor_id: UUID | None = None
    decided_by: Literal["provider", "admin"] = "provider"
    request_id: str | None = None


class RescheduleRequest(Model):
    """Move a confirmed booking to another start of the same service."""

    start: AwareDatetime
    requested_by: Literal["customer", "provider", "admin"]
    actor_id: UUID | None = None
    request_id: str | None = None


class MoveRequest(Model):
    booking_id: UUID
    provider_id: UUID
    service_id: UUID
    start: AwareDatetime
    actor_id: UUID | None = None
    actor_role: ActorRole = "system"
    request_id: str | None = None


class Moved(Model):
    start: AwareDatetime
    end: AwareDatetime


class ConfirmRequest(Model):
    booking_id: UUID
    intent_id: str | None
    # Set when the provider (or an admin) approved the booking; else the system confirms it.
    actor_id: UUID | None = None
    actor_role: ActorRole = "system"
    request_id: str | None = None


class BookingState(Model):
    """What the booking looks like now: the answer to the `state` query and the early return."""

    booking_id: UUID
    status: BookingStatus
    provider_id: UUID
    service_id: UUID
    customer_id: UUID
    start: datetime
    end: datetime | None = None
    price: Money | None = None
    hold_expires_at: datetime | None = None
    payment: PaymentIntent | None = None
    reason: str | None = None
    # The zone the booking was made in: answers show its times there unless asked otherwise.
    timezone: str | None = None
    # The last declined attempt while the booking still waits for a payment that succeeds.
    payment_failure: str | None = None
    # The canceller's own words.
    note: str | None = None
    reschedules: int = 0
    # The provider's decision once taken (it may still be being carried out).
    decision: Literal["approved", "declined"] | None = None
    # Until when the customer's own cancellation is refunded in full; set once confirmed, and
    # moved by moves as the policy says (domain/cancellation.py).
    refund_until: datetime | None = None


class BookingOutcome(Model):
    booking_id: UUID
    status: BookingStatus
    reason: str | None = None
