"""The booking saga: hold the slot, collect payment, confirm; undo in reverse when it ends early."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.booking import BookingActivities
    from domain.booking_state import BookingStatus
    from workflows import search_attributes
    from workflows.errors import HOLD_LOST, NON_RETRYABLE, SLOT_NOT_BOOKABLE, SLOT_UNAVAILABLE
    from workflows.models import (
        BookingInput,
        BookingOutcome,
        BookingRef,
        BookingState,
        ConfirmRequest,
        Hold,
        HoldRequest,
        PaymentEvent,
        PaymentIntent,
        PaymentIntentRequest,
        ReleaseRequest,
        VoidPaymentRequest,
    )

# The hold answers a waiting HTTP request: it retries briefly, then the booking is refused.
HOLD_TIMEOUT = timedelta(seconds=10)
HOLD_DEADLINE = timedelta(seconds=30)
HOLD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=5),
    non_retryable_error_types=NON_RETRYABLE,
)
# Everything else must happen eventually, above all the undo steps: retry until it does.
STEP_TIMEOUT = timedelta(seconds=30)
DURABLE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=NON_RETRYABLE,
)

Undo = Callable[[], Awaitable[None]]


class BookingEnded(Exception):
    """The booking stops short of its appointment for a business reason (not an outage)."""

    def __init__(self, status: BookingStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@workflow.defn
class BookingWorkflow:
    @workflow.init
    def __init__(self, booking: BookingInput) -> None:
        self._booking = booking
        self._status = BookingStatus.REQUESTED
        self._hold: Hold | None = None
        self._payment: PaymentIntent | None = None
        self._payment_events: list[PaymentEvent] = []
        self._reason: str | None = None
        self._refusal: ApplicationError | None = None
        self._ending = BookingStatus.CANCELLED
        self._answered = False

    @workflow.run
    async def run(self, booking: BookingInput) -> BookingOutcome:
        undo: list[Undo] = []
        try:
            await self._hold_slot(undo)
            if self._hold is not None:
                await self._collect_payment(undo)
                await self._confirm()
                await self._attend()
        except BookingEnded as ended:
            await self._compensate(undo, ended.status, ended.reason)
        except (Exception, asyncio.CancelledError) as err:
            # Cancellation and failures alike: undo, then let it surface. Not BaseException:
            # the SDK closes an evicted workflow's coroutine with GeneratorExit, which must pass.
            reason = "cancelled" if isinstance(err, asyncio.CancelledError) else f"failed: {err}"
            await self._compensate(undo, BookingStatus.CANCELLED, reason)
            raise
        finally:
            self._answered = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return BookingOutcome(
            booking_id=booking.booking_id, status=self._status, reason=self._reason
        )

    @workflow.update
    async def wait_until_held(self) -> BookingState:
        """The early return of POST /appointments: the hold and how to pay, or the refusal."""
        await workflow.wait_condition(lambda: self._answered)
        if self._refusal is not None:
            raise self._refusal
        return self.state()

    @workflow.signal
    def payment_succeeded(self, event: PaymentEvent) -> None:
        self._payment_events.append(event)

    @workflow.signal
    def payment_failed(self, event: PaymentEvent) -> None:
        self._payment_events.append(event)

    @workflow.query
    def state(self) -> BookingState:
        hold = self._hold
        return BookingState(
            booking_id=self._booking.booking_id,
            status=self._status,
            provider_id=self._booking.provider_id,
            service_id=self._booking.service_id,
            customer_id=self._booking.customer_id,
            start=hold.start if hold else self._booking.start,
            end=hold.end if hold else None,
            price=hold.price if hold else None,
            hold_expires_at=hold.hold_expires_at if hold else None,
            payment=self._payment,
            reason=self._reason,
        )

    async def _hold_slot(self, undo: list[Undo]) -> None:
        booking = self._booking
        undo.append(self._release_hold)
        try:
            self._hold = await workflow.execute_activity_method(
                BookingActivities.hold_slot,
                HoldRequest(
                    booking_id=booking.booking_id,
                    provider_id=booking.provider_id,
                    service_id=booking.service_id,
                    customer_id=booking.customer_id,
                    start=booking.start,
                    customer_timezone=booking.customer_timezone,
                    payment_deadline=workflow.now() + booking.payment_timeout,
                ),
                summary=f"Hold the slot at {booking.start.isoformat()}",
                start_to_close_timeout=HOLD_TIMEOUT,
                schedule_to_close_timeout=HOLD_DEADLINE,
                retry_policy=HOLD_RETRY,
            )
        except ActivityError as err:
            self._refuse(err)
            return
        self._set_status(self._hold.status)

    def _refuse(self, err: ActivityError) -> None:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type in (
            SLOT_UNAVAILABLE,
            SLOT_NOT_BOOKABLE,
        ):
            self._refusal = ApplicationError(
                cause.message, *cause.details, type=cause.type, non_retryable=True
            )
        else:
            self._refusal = ApplicationError(
                "the slot could not be held right now; try again",
                type="HoldFailed",
                non_retryable=True,
            )
        self._reason = self._refusal.message
        self._set_status(BookingStatus.REJECTED)

    async def _collect_payment(self, undo: list[Undo]) -> None:
        hold = self._hold
        assert hold is not None
        if hold.status != BookingStatus.AWAITING_PAYMENT:
            self._answered = True
            return
        undo.append(self._void_payment)
        workflow_id = workflow.info().workflow_id
        self._payment = await workflow.execute_activity_method(
            BookingActivities.create_payment_intent,
            PaymentIntentRequest(
                booking_id=hold.booking_id,
                price=hold.price,
                idempotency_key=f"{workflow_id}:payment-intent",
                description=f"Booking {hold.booking_id}",
            ),
            summary=f"Create payment intent for {hold.price.amount} {hold.price.currency}",
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DURABLE_RETRY,
        )
        self._answered = True
        assert hold.hold_expires_at is not None
        remaining = max(hold.hold_expires_at - workflow.now(), timedelta(0))
        try:
            await workflow.wait_condition(
                lambda: self._payment_event() is not None,
                timeout=remaining,
                timeout_summary="payment deadline",
            )
        except TimeoutError as err:
            raise BookingEnded(
                BookingStatus.EXPIRED, "payment was not received before the hold expired"
            ) from err
        event = self._payment_event()
        assert event is not None
        if not event.succeeded:
            raise BookingEnded(BookingStatus.PAYMENT_FAILED, event.failure_message or "declined")
        if (event.amount, event.currency) != (hold.price.amount, hold.price.currency):
            raise BookingEnded(BookingStatus.PAYMENT_FAILED, "paid amount does not match the price")

    def _payment_event(self) -> PaymentEvent | None:
        intent = self._payment
        if intent is None:
            return None
        return next((e for e in self._payment_events if e.intent_id == intent.id), None)

    async def _confirm(self) -> None:
        assert self._hold is not None
        try:
            await workflow.execute_activity_method(
                BookingActivities.confirm_booking,
                ConfirmRequest(
                    booking_id=self._hold.booking_id,
                    intent_id=self._payment.id if self._payment else None,
                ),
                summary="Confirm the booking",
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=DURABLE_RETRY,
            )
        except ActivityError as err:
            if isinstance(err.cause, ApplicationError) and err.cause.type == HOLD_LOST:
                raise BookingEnded(
                    BookingStatus.EXPIRED, "the hold lapsed and the slot was taken before payment"
                ) from err
            raise
        self._hold = self._hold.model_copy(
            update={"status": BookingStatus.CONFIRMED, "hold_expires_at": None}
        )
        if self._payment is not None:
            self._payment = self._payment.model_copy(update={"status": "succeeded"})
        self._set_status(BookingStatus.CONFIRMED)

    async def _attend(self) -> None:
        """Keep the booking alive until the appointment is over (reminders and changes go here)."""
        assert self._hold is not None
        await workflow.sleep(
            max(self._hold.end - workflow.now(), timedelta(0)), summary="until the appointment ends"
        )
        await workflow.execute_activity_method(
            BookingActivities.complete_booking,
            BookingRef(booking_id=self._hold.booking_id),
            summary="Mark the appointment completed",
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DURABLE_RETRY,
        )
        self._set_status(BookingStatus.COMPLETED)

    async def _compensate(self, undo: list[Undo], status: BookingStatus, reason: str) -> None:
        self._ending = status
        self._reason = reason
        for step in reversed(undo):
            await step()
        undo.clear()
        self._set_status(status)

    async def _release_hold(self) -> None:
        if self._hold is None:
            return
        await workflow.execute_activity_method(
            BookingActivities.release_hold,
            ReleaseRequest(
                booking_id=self._hold.booking_id,
                status=self._ending,
                reason=self._reason or "released",
            ),
            summary="Release the held slot",
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DURABLE_RETRY,
        )

    async def _void_payment(self) -> None:
        if self._payment is None:
            return
        void = await workflow.execute_activity_method(
            BookingActivities.void_payment,
            VoidPaymentRequest(
                booking_id=self._booking.booking_id,
                intent_id=self._payment.id,
                idempotency_key=f"{workflow.info().workflow_id}:void-payment",
                reason=self._reason or "booking ended",
            ),
            summary="Cancel or refund the payment",
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DURABLE_RETRY,
        )
        status = "refunded" if void.refunded_amount else "canceled"
        self._payment = self._payment.model_copy(update={"status": status})

    def _set_status(self, status: BookingStatus) -> None:
        self._status = status
        workflow.upsert_search_attributes([search_attributes.BOOKING_STATUS.value_set(status)])
