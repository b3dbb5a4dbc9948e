"""The booking saga: hold the slot, collect payment, get approval, confirm, see it through.

Every step that changes the world registers its undo before it runs; when the booking ends
early (timeout, declined card, provider's decline, cancellation, failure) the undos run in
reverse: cancel or refund the payment, then release the slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as StepTimedOut

from workflows.announcements import Announcer
from workflows.calendar_events import CalendarMirror

with workflow.unsafe.imports_passed_through():
    from activities.booking import BookingActivities
    from contract.errors import (
        COMPENSATION_INCOMPLETE,
        HOLD_LOST,
        NON_RETRYABLE,
        NOT_AWAITING_APPROVAL,
        NOT_CANCELLABLE,
        NOT_RESCHEDULABLE,
        RESCHEDULE_LIMIT_REACHED,
        SLOT_NOT_BOOKABLE,
        SLOT_UNAVAILABLE,
        TOO_MANY_HOLDS,
    )
    from contract.messages import (
        ActorRole,
        ApprovalWait,
        BookingInput,
        BookingOutcome,
        BookingRef,
        BookingState,
        CancelRequest,
        ConfirmRequest,
        Decision,
        Hold,
        HoldRequest,
        IntentRef,
        MoveRequest,
        PaymentEvent,
        PaymentIntent,
        PaymentIntentRequest,
        ReleaseRequest,
        RescheduleRequest,
        VoidPaymentRequest,
    )
    from contract.notifications import Kind
    from domain.booking_state import (
        ACTIVE_STATUSES,
        STORED_STATUSES,
        TERMINAL_STATUSES,
        BookingStatus,
        can_move,
    )
    from domain.cancellation import (
        refund_deadline,
        refund_deadline_after_move,
        refund_on_cancel,
    )
    from workflows import search_attributes
    from workflows.failures import StepFailure, application_failure, refusal

# The steps a customer waits for (hold, payment intent, approval wait, confirmation) are short
# and run as local activities, in the workflow task itself: no round trip through the server's
# activity queue, so POST /appointments answers within the first workflow task. They are as
# durable (recorded as markers, retried, replayed). The undo and after-the-fact steps stay
# regular activities, so an operator sees their retries as pending activities in the Web UI.

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

# Every change to the command sequence, oldest first, each guarded by `workflow.patched(id)` so
# bookings that started before it replay as they ran (README: Changing the workflow). The newest
# names the era of histories that tests/workflows/record_histories.py records.
# A failed card keeps the booking waiting; at the deadline the gateway is asked before expiring.
PAYMENT_RETRIES = "payment-retries-and-deadline-check"
# A hold whose answer was lost is released by the booking id.
RELEASE_UNANSWERED_HOLD = "release-unanswered-hold"
# A customer's move inside the no-refund window keeps the deadline that has passed.
REFUND_DEADLINE = "refund-deadline-survives-moves"
# The end timer that fires while a move is still running waits for the move.
END_WAITS_FOR_MOVE = "end-waits-for-move"
# A booking that fails waits for its in-flight update handlers first.
HANDLERS_BEFORE_FAILURE = "handlers-before-failure"
# The booking tells its people (email, SMS, invites) and sends reminders from timers.
NOTIFICATIONS = "notifications-and-reminders"
# LatePaymentRefund tells the customer their late payment went back.
LATE_PAYMENT_MESSAGE = "late-payment-message"
# The booking is written to, moved in and removed from the provider's connected calendars.
CALENDAR_EVENTS = "calendar-events"
# A reminder is rendered and recorded shortly before its instant and sent at it.
REMINDERS_PREPARED_AHEAD = "reminders-prepared-ahead"
PATCHES: tuple[str, ...] = (
    PAYMENT_RETRIES,
    RELEASE_UNANSWERED_HOLD,
    REFUND_DEADLINE,
    END_WAITS_FOR_MOVE,
    HANDLERS_BEFORE_FAILURE,
    NOTIFICATIONS,
    LATE_PAYMENT_MESSAGE,
    CALENDAR_EVENTS,
    REMINDERS_PREPARED_AHEAD,
)
# The gateway's answer at the deadline: bounded, the slot's hold has lapsed meanwhile.
GATEWAY_CHECK_DEADLINE = timedelta(minutes=5)
HOLD_FAILED = "HoldFailed"
_VERDICTS: dict[bool, Literal["approved", "declined"]] = {True: "approved", False: "declined"}


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
        self._cancel: CancelRequest | None = None
        self._decision: tuple[bool, Decision] | None = None
        self._keep_payment = False
        self._reason: str | None = None
        self._refusal: ApplicationError | None = None
        self._ending = BookingStatus.CANCELLED
        self._answered = False
        self._moving = False
        self._hold_unanswered = False
        self._payment_failure: str | None = None
        self._refund_until: datetime | None = None
        self._moves = 0
        self._ended = False
        self._announce = Announcer(booking.booking_id)
        self._calendars = CalendarMirror(booking.booking_id)

    @workflow.run
    async def run(self, booking: BookingInput) -> BookingOutcome:
        undo: list[Undo] = []
        failure: BaseException | None = None
        # Decided once, first: a booking started before messages existed never sends any.
        self._announce.enabled = workflow.patched(NOTIFICATIONS)
        self._calendars.enabled = workflow.patched(CALENDAR_EVENTS)
        try:
            await self._hold_slot(undo)
            if self._hold is not None:
                await self._collect_payment(undo)
                await self._await_approval()
                await self._confirm()
                self._announce_confirmed()
                await self._attend()
            elif self._hold_unanswered:
                raise BookingEnded(BookingStatus.REJECTED, self._reason or "not held")
        except BookingEnded as ended:
            failure = await self._compensate(undo, ended.status, ended.reason)
        except (Exception, asyncio.CancelledError) as err:
            # Cancellation and failures alike: undo, then let it surface. Not BaseException:
            # the SDK closes an evicted workflow's coroutine with GeneratorExit, which must pass.
            reason = "cancelled" if isinstance(err, asyncio.CancelledError) else f"failed: {err}"
            failure = await self._compensate(undo, BookingStatus.CANCELLED, reason) or err
        finally:
            self._answered = True
        await self._announce.finished()
        await self._calendars.finished()
        self._count_outcome(failed=failure is not None)
        if failure is not None:
            if not workflow.all_handlers_finished() and workflow.patched(HANDLERS_BEFORE_FAILURE):
                await workflow.wait_condition(workflow.all_handlers_finished)
            raise failure
        await workflow.wait_condition(workflow.all_handlers_finished)
        return BookingOutcome(
            booking_id=booking.booking_id, status=self._status, reason=self._reason
        )

    # ------------------------------------------------------------------ messages

    @workflow.update
    async def wait_until_held(self) -> BookingState:
        """The early return of POST /appointments: the hold and how to pay, or the refusal."""
        await workflow.wait_condition(lambda: self._answered)
        if self._refusal is not None:
            raise self._refusal
        return self.state()

    @workflow.update
    async def wait_until_settled(self) -> BookingState:
        """The booking once it has acted on its payment: confirmed, awaiting approval or over.

        The sandbox checkout asks it after delivering the webhook, instead of polling queries.
        """
        await workflow.wait_condition(lambda: self._status != BookingStatus.AWAITING_PAYMENT)
        return self.state()

    @workflow.update
    async def wait_until_seen(self, event: PaymentEvent) -> BookingState:
        """The booking once it has acted on this payment event (a declined card keeps it
        waiting for another attempt; a paid one moves it on)."""

        def seen() -> bool:
            known = any(e.event_id == event.event_id for e in self._payment_events)
            return self._status != BookingStatus.AWAITING_PAYMENT or (known and not event.succeeded)

        await workflow.wait_condition(seen)
        return self.state()

    @workflow.update
    async def cancel(self, request: CancelRequest) -> BookingState:
        """Cancel on behalf of the customer, the provider or an admin; refund by policy."""
        self._cancel = request
        await workflow.wait_condition(lambda: self._status in TERMINAL_STATUSES)
        return self.state()

    @cancel.validator
    def _cancel_allowed(self, request: CancelRequest) -> None:
        if self._status not in ACTIVE_STATUSES or self._cancel is not None:
            raise ApplicationError(
                f"a booking that is {self._status.replace('_', ' ')} cannot be cancelled",
                type=NOT_CANCELLABLE,
            )

    @workflow.update
    async def reschedule(self, request: RescheduleRequest) -> BookingState:
        """Move the confirmed booking to another start of its service, under the same rules as
        a new booking; the old time is free once it has moved, and the end-of-appointment timer
        and the AppointmentStart search attribute follow the new time."""
        hold = self._hold
        assert hold is not None
        self._moving = True
        try:
            moved = await workflow.execute_local_activity_method(
                BookingActivities.move_booking,
                MoveRequest(
                    booking_id=hold.booking_id,
                    provider_id=self._booking.provider_id,
                    service_id=self._booking.service_id,
                    start=request.start,
                    actor_id=request.actor_id,
                    actor_role=request.requested_by,
                    request_id=request.request_id,
                ),
                summary=f"Move the booking to {request.start.isoformat()}",
                start_to_close_timeout=HOLD_TIMEOUT,
                schedule_to_close_timeout=HOLD_DEADLINE,
                retry_policy=HOLD_RETRY,
            )
        except (ActivityError, ApplicationError, StepTimedOut) as err:
            # An update fails with an ApplicationError; anything else would fail the task.
            raise refusal(
                err,
                (SLOT_UNAVAILABLE, SLOT_NOT_BOOKABLE, NOT_RESCHEDULABLE),
                "the booking could not be moved right now; try again",
                "MoveFailed",
            ) from None
        finally:
            self._moving = False
        assert self._hold is not None
        previous_start = self._hold.start
        self._hold = self._hold.model_copy(update={"start": moved.start, "end": moved.end})
        self._moves += 1
        self._calendars.show()
        self._announce.tell(
            Kind.RESCHEDULED,
            f"rescheduled:{self._moves}",
            sequence=self._moves,
            previous_start=previous_start,
            provider_kind=Kind.PROVIDER_RESCHEDULED,
        )
        if self._refund_until is not None:
            self._refund_until = refund_deadline_after_move(
                refund_until=self._refund_until,
                new_start=moved.start,
                moved_by=request.requested_by,
                now=workflow.now(),
            )
        workflow.upsert_search_attributes(
            [search_attributes.APPOINTMENT_START.value_set(moved.start)]
        )
        return self.state()

    @reschedule.validator
    def _reschedule_allowed(self, request: RescheduleRequest) -> None:
        if self._status != BookingStatus.CONFIRMED or self._cancel is not None:
            raise ApplicationError(
                f"a booking that is {self._status.replace('_', ' ')} cannot be rescheduled; "
                "only a confirmed one can",
                type=NOT_RESCHEDULABLE,
            )
        if self._moving:
            raise ApplicationError(
                "the booking is being moved already; try again in a moment",
                type=NOT_RESCHEDULABLE,
            )
        assert self._hold is not None
        if self._ended or workflow.now() >= self._hold.start:
            raise ApplicationError(
                "the appointment has started; it can no longer be moved",
                type=NOT_RESCHEDULABLE,
            )
        if self._moves >= self._booking.max_reschedules:
            raise ApplicationError(
                f"this booking has been moved {self._moves} times, the most allowed; cancel it "
                "and book again instead",
                type=RESCHEDULE_LIMIT_REACHED,
            )

    @workflow.update
    async def approve(self, decision: Decision) -> BookingState:
        """The provider accepts the booking."""
        self._decision = (True, decision)
        await workflow.wait_condition(lambda: self._status != BookingStatus.AWAITING_APPROVAL)
        return self.state()

    @workflow.update
    async def decline(self, decision: Decision) -> BookingState:
        """The provider turns the booking down; the customer is refunded."""
        self._decision = (False, decision)
        await workflow.wait_condition(lambda: self._status != BookingStatus.AWAITING_APPROVAL)
        return self.state()

    @approve.validator
    def _approve_allowed(self, decision: Decision) -> None:
        self._decision_allowed()

    @decline.validator
    def _decline_allowed(self, decision: Decision) -> None:
        self._decision_allowed()

    def _decision_allowed(self) -> None:
        waiting = self._status == BookingStatus.AWAITING_APPROVAL
        if not waiting or self._decision is not None or self._cancel is not None:
            raise ApplicationError(
                f"the booking is {self._status.replace('_', ' ')}, not awaiting approval",
                type=NOT_AWAITING_APPROVAL,
            )

    @workflow.signal
    def payment_succeeded(self, event: PaymentEvent) -> None:
        self._record_payment_event(event)

    @workflow.signal
    def payment_failed(self, event: PaymentEvent) -> None:
        self._record_payment_event(event)

    def _record_payment_event(self, event: PaymentEvent) -> None:
        """Once per event id: a gateway delivers at least once."""
        if any(e.event_id == event.event_id for e in self._payment_events):
            return
        self._payment_events.append(event)
        intent = self._payment
        if not event.succeeded and intent is not None and event.intent_id == intent.id:
            self._payment_failure = event.failure_message or "declined"
            if self._status == BookingStatus.AWAITING_PAYMENT:
                self._announce.tell(
                    Kind.PAYMENT_FAILED,
                    f"payment-failed:{event.event_id}",
                    reason=self._payment_failure,
                )

    @workflow.query
    def state(self) -> BookingState:
        hold = self._hold
        cancelling = self._cancel is not None and self._status not in TERMINAL_STATUSES
        return BookingState(
            booking_id=self._booking.booking_id,
            status=BookingStatus.CANCELLING if cancelling else self._status,
            provider_id=self._booking.provider_id,
            service_id=self._booking.service_id,
            customer_id=self._booking.customer_id,
            start=hold.start if hold else self._booking.start,
            end=hold.end if hold else None,
            price=hold.price if hold else None,
            hold_expires_at=hold.hold_expires_at if hold else None,
            payment=self._payment,
            reason=self._reason,
            timezone=self._booking.customer_timezone,
            payment_failure=self._payment_failure
            if self._status == BookingStatus.AWAITING_PAYMENT
            else None,
            note=self._cancel.reason or None if self._cancel else None,
            reschedules=self._moves,
            decision=None if self._decision is None else _VERDICTS[self._decision[0]],
            refund_until=self._refund_until,
        )

    @workflow.query
    def payment_events(self) -> list[PaymentEvent]:
        """The payment events the booking has taken, once each."""
        return list(self._payment_events)

    # ------------------------------------------------------------------ steps

    async def _hold_slot(self, undo: list[Undo]) -> None:
        booking = self._booking
        undo.append(self._release_slot)
        try:
            self._hold = await workflow.execute_local_activity_method(
                BookingActivities.hold_slot,
                HoldRequest(
                    booking_id=booking.booking_id,
                    provider_id=booking.provider_id,
                    service_id=booking.service_id,
                    customer_id=booking.customer_id,
                    start=booking.start,
                    customer_timezone=booking.customer_timezone,
                    payment_deadline=workflow.now() + booking.payment_timeout,
                    request_id=booking.request_id,
                ),
                summary=f"Hold the slot at {booking.start.isoformat()}",
                start_to_close_timeout=HOLD_TIMEOUT,
                schedule_to_close_timeout=HOLD_DEADLINE,
                retry_policy=HOLD_RETRY,
            )
        except (ActivityError, ApplicationError, StepTimedOut) as err:
            refused = self._refuse(err)
            # Not a refusal: the hold's transaction may have committed and only its answer been
            # lost. The caller is answered now; the undo releases it by the booking id.
            if refused.type == HOLD_FAILED and workflow.patched(RELEASE_UNANSWERED_HOLD):
                self._hold_unanswered = True
                self._answered = True
            return
        self._set_status(self._hold.status)

    def _refuse(self, err: StepFailure) -> ApplicationError:
        self._refusal = refused = refusal(
            err,
            (SLOT_UNAVAILABLE, SLOT_NOT_BOOKABLE, TOO_MANY_HOLDS),
            "the slot could not be held right now; try again",
            HOLD_FAILED,
        )
        self._reason = refused.message
        self._set_status(BookingStatus.REJECTED)
        return refused

    async def _collect_payment(self, undo: list[Undo]) -> None:
        hold = self._hold
        assert hold is not None
        if hold.status != BookingStatus.AWAITING_PAYMENT:
            self._answered = True
            return
        undo.append(self._void_payment)
        self._payment = await workflow.execute_local_activity_method(
            BookingActivities.create_payment_intent,
            PaymentIntentRequest(
                booking_id=hold.booking_id,
                price=hold.price,
                idempotency_key=f"{workflow.info().workflow_id}:payment-intent",
                description=f"Booking {hold.booking_id}",
            ),
            summary=f"Create payment intent for {hold.price.amount} {hold.price.currency}",
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DURABLE_RETRY,
        )
        self._answered = True
        if workflow.patched(PAYMENT_RETRIES):
            await self._await_successful_payment(hold, self._payment)
        else:
            await self._await_first_payment_event(hold, self._payment)

    async def _await_successful_payment(self, hold: Hold, intent: PaymentIntent) -> None:
        """Wait until the payment succeeds: a declined attempt keeps the booking waiting (the
        customer may try again on the same intent) until the deadline, when the gateway is asked
        before the booking expires, so a payment whose webhook is late still confirms."""
        assert hold.hold_expires_at is not None
        try:
            await workflow.wait_condition(
                lambda: self._paid_event() is not None or self._cancel is not None,
                timeout=max(hold.hold_expires_at - workflow.now(), timedelta(0)),
                timeout_summary="payment deadline",
            )
        except TimeoutError:
            intent = await self._intent_at_deadline(intent)
            if intent.status != "succeeded":
                raise BookingEnded(
                    BookingStatus.EXPIRED, "payment was not received before the hold expired"
                ) from None
            paid = (intent.amount, intent.currency)
        else:
            self._stop_if_cancelled()
            event = self._paid_event()
            assert event is not None
            paid = (event.amount, event.currency)
        if paid != (hold.price.amount, hold.price.currency):
            raise BookingEnded(BookingStatus.PAYMENT_FAILED, "paid amount does not match the price")
        self._payment = intent.model_copy(update={"status": "succeeded"})

    async def _intent_at_deadline(self, intent: PaymentIntent) -> PaymentIntent:
        """The gateway's own word on the intent; unknown if it cannot say in time."""
        try:
            return await workflow.execute_activity_method(
                BookingActivities.payment_status,
                IntentRef(intent_id=intent.id),
                summary="Ask the gateway whether the payment went through",
                start_to_close_timeout=STEP_TIMEOUT,
                schedule_to_close_timeout=GATEWAY_CHECK_DEADLINE,
                retry_policy=DURABLE_RETRY,
            )
        except ActivityError:
            # The undo step cancels the intent, or refunds it if it was paid after all.
            return intent.model_copy(update={"status": "unknown"})

    def _paid_event(self) -> PaymentEvent | None:
        intent = self._payment
        if intent is None:
            return None
        return next(
            (e for e in self._payment_events if e.intent_id == intent.id and e.succeeded), None
        )

    async def _await_first_payment_event(self, hold: Hold, intent: PaymentIntent) -> None:
        """Before PAYMENT_RETRIES: the first event for the intent decides."""
        assert hold.hold_expires_at is not None
        try:
            await workflow.wait_condition(
                lambda: self._payment_event() is not None or self._cancel is not None,
                timeout=max(hold.hold_expires_at - workflow.now(), timedelta(0)),
                timeout_summary="payment deadline",
            )
        except TimeoutError as err:
            raise BookingEnded(
                BookingStatus.EXPIRED, "payment was not received before the hold expired"
            ) from err
        self._stop_if_cancelled()
        event = self._payment_event()
        assert event is not None
        if not event.succeeded:
            raise BookingEnded(BookingStatus.PAYMENT_FAILED, event.failure_message or "declined")
        if (event.amount, event.currency) != (hold.price.amount, hold.price.currency):
            raise BookingEnded(BookingStatus.PAYMENT_FAILED, "paid amount does not match the price")
        self._payment = intent.model_copy(update={"status": "succeeded"})

    def _payment_event(self) -> PaymentEvent | None:
        intent = self._payment
        if intent is None:
            return None
        return next((e for e in self._payment_events if e.intent_id == intent.id), None)

    async def _await_approval(self) -> None:
        hold = self._hold
        assert hold is not None
        if not hold.needs_approval:
            return
        deadline = min(workflow.now() + self._booking.approval_timeout, hold.start)
        await self._step_on_hold(
            BookingActivities.await_approval,
            ApprovalWait(
                booking_id=hold.booking_id,
                intent_id=self._payment.id if self._payment else None,
                deadline=deadline,
            ),
            summary="Wait for the provider's approval",
        )
        self._hold = hold.model_copy(
            update={"status": BookingStatus.AWAITING_APPROVAL, "hold_expires_at": deadline}
        )
        self._set_status(BookingStatus.AWAITING_APPROVAL)
        self._announce.tell(
            Kind.AWAITING_APPROVAL,
            "awaiting-approval",
            provider_kind=Kind.PROVIDER_APPROVAL_REQUESTED,
        )
        try:
            await workflow.wait_condition(
                lambda: self._decision is not None or self._cancel is not None,
                timeout=max(deadline - workflow.now(), timedelta(0)),
                timeout_summary="approval deadline",
            )
        except TimeoutError as err:
            raise BookingEnded(
                BookingStatus.EXPIRED, "the provider did not answer before the deadline"
            ) from err
        self._stop_if_cancelled()
        assert self._decision is not None
        approved, decision = self._decision
        if not approved:
            raise BookingEnded(
                BookingStatus.DECLINED, decision.reason or "the provider declined the booking"
            )

    async def _confirm(self) -> None:
        assert self._hold is not None
        approval = self._decision[1] if self._decision else None
        await self._step_on_hold(
            BookingActivities.confirm_booking,
            ConfirmRequest(
                booking_id=self._hold.booking_id,
                intent_id=self._payment.id if self._payment else None,
                actor_id=approval.actor_id if approval else None,
                actor_role=approval.decided_by if approval else "system",
                request_id=approval.request_id if approval else None,
            ),
            summary="Confirm the booking",
        )
        self._hold = self._hold.model_copy(
            update={"status": BookingStatus.CONFIRMED, "hold_expires_at": None}
        )
        self._refund_until = refund_deadline(self._hold.start)
        self._set_status(BookingStatus.CONFIRMED)

    async def _step_on_hold(
        self, activity: Callable[..., Awaitable[None]], request: object, summary: str
    ) -> None:
        """Run a step that needs the hold still in place; a lost hold ends the booking."""
        try:
            await workflow.execute_local_activity_method(
                activity,
                request,
                summary=summary,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=DURABLE_RETRY,
            )
        except (ActivityError, ApplicationError) as err:
            failure = application_failure(err)
            if failure is not None and failure.type == HOLD_LOST:
                raise BookingEnded(
                    BookingStatus.EXPIRED, "the hold lapsed and the slot was taken meanwhile"
                ) from err
            raise

    async def _attend(self) -> None:
        """Keep the booking alive until the appointment is over, or until it is cancelled; a
        reschedule moves the end, and the timer with it."""
        while True:
            assert self._hold is not None
            if await self._wait_until_end(self._hold.end):
                self._stop_if_cancelled()
                continue
            if self._moving and workflow.patched(END_WAITS_FOR_MOVE):
                # A move accepted before the start is still running: its outcome decides.
                end = self._hold.end
                await workflow.wait_condition(lambda: not self._moving)
                if self._hold.end != end:
                    continue
            break
        self._ended = True
        await workflow.execute_activity_method(
            BookingActivities.complete_booking,
            BookingRef(booking_id=self._hold.booking_id),
            summary="Mark the appointment completed",
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DURABLE_RETRY,
        )
        self._set_status(BookingStatus.COMPLETED)

    async def _wait_until_end(self, end: datetime) -> bool:
        """False once `end` has come; True as soon as the booking is cancelled or moved."""

        def interrupted() -> bool:
            return self._cancel is not None or (self._hold is not None and self._hold.end != end)

        try:
            await workflow.wait_condition(
                interrupted,
                timeout=max(end - workflow.now(), timedelta(0)),
                timeout_summary="until the appointment ends",
            )
        except TimeoutError:
            return False
        return True

    def _stop_if_cancelled(self) -> None:
        request = self._cancel
        if request is None:
            return
        start = self._hold.start if self._hold else self._booking.start
        refund_until = refund_deadline(start)
        if self._refund_until is not None and workflow.patched(REFUND_DEADLINE):
            refund_until = self._refund_until
        refund = refund_on_cancel(
            cancelled_by=request.cancelled_by,
            confirmed=self._status == BookingStatus.CONFIRMED,
            refund_until=refund_until,
            now=workflow.now(),
        )
        self._keep_payment = not refund
        reason = f"cancelled by the {request.cancelled_by}"
        if not refund and self._payment is not None:
            reason += " (less than 24 hours before the start: not refunded)"
        raise BookingEnded(BookingStatus.CANCELLED, reason)

    # ------------------------------------------------------------------ undo

    async def _compensate(
        self, undo: list[Undo], status: BookingStatus, reason: str
    ) -> ApplicationError | None:
        """Run every undo step, each on its own: a payment that cannot be voided must not keep
        the slot held. A step that failed for good is returned, to fail the workflow with, so
        an operator sees it."""
        self._ending = status
        self._reason = reason
        was = self._status
        failed: list[str] = []
        for step in reversed(undo):
            try:
                await step()
            except ActivityError as err:
                failed.append(str(err.cause or err))
        undo.clear()
        if self._hold is not None:
            self._hold = self._hold.model_copy(update={"status": status, "hold_expires_at": None})
        self._set_status(status)
        self._announce_ending(was, status)
        if not failed:
            return None
        return ApplicationError(
            f"the booking is {status.replace('_', ' ')} but an undo step failed and needs "
            f"an operator: {'; '.join(failed)}",
            type=COMPENSATION_INCOMPLETE,
            non_retryable=True,
        )

    def _announce_confirmed(self) -> None:
        assert self._hold is not None
        self._calendars.show()
        approved = self._decision is not None
        self._announce.tell(
            Kind.APPROVED if approved else Kind.CONFIRMED,
            "confirmed",
            provider_kind=None if approved else Kind.PROVIDER_NEW_BOOKING,
        )
        prepare = timedelta(seconds=self._booking.reminder_prepare_seconds)
        if prepare and not workflow.patched(REMINDERS_PREPARED_AHEAD):
            prepare = timedelta(0)
        self._announce.start_reminders(
            self._booking.reminder_leads_minutes,
            start_of=lambda: self._hold.start if self._hold else self._booking.start,
            over=self._over,
            prepare=prepare,
        )

    def _over(self) -> bool:
        """Nothing more to remind of: cancelled, ended, or the appointment's time has come."""
        return self._cancel is not None or self._ended or self._status in TERMINAL_STATUSES

    def _announce_ending(self, was: BookingStatus, status: BookingStatus) -> None:
        """Tell the customer how the booking ended, and the provider if they knew of it."""
        if was == BookingStatus.REQUESTED:
            return  # never held: the caller was answered at once
        paid_back = self._payment is not None and self._payment.status == "refunded"
        kept = self._payment is not None and self._payment.status == "succeeded"
        refunded = True if paid_back else (False if kept else None)
        kinds = {
            BookingStatus.EXPIRED: Kind.EXPIRED,
            BookingStatus.DECLINED: Kind.DECLINED,
            BookingStatus.PAYMENT_FAILED: Kind.PAYMENT_FAILED,
        }
        known_to_provider = was in (BookingStatus.CONFIRMED, BookingStatus.AWAITING_APPROVAL)
        if status in kinds:
            self._announce.tell(kinds[status], status.value, refunded=refunded, reason=self._reason)
        elif status == BookingStatus.CANCELLED:
            self._calendars.withdraw()
            self._announce.tell(
                Kind.CANCELLED,
                "cancelled",
                sequence=self._moves + 1,
                by=self._cancel.cancelled_by if self._cancel else None,
                refunded=refunded,
                reason=(self._cancel.reason if self._cancel else "") or self._reason,
                provider_kind=Kind.PROVIDER_CANCELLED if known_to_provider else None,
            )

    async def _release_slot(self) -> None:
        if self._hold is None and not self._hold_unanswered:
            return
        # A row ends in a stored status; a hold whose answer was lost ends cancelled.
        status = self._ending if self._ending in STORED_STATUSES else BookingStatus.CANCELLED
        note = self._cancel.reason if self._cancel else ""
        actor_id, actor_role, request_id = self._ended_by(status)
        await workflow.execute_activity_method(
            BookingActivities.release_slot,
            ReleaseRequest(
                booking_id=self._booking.booking_id,
                status=status,
                reason=self._reason or "released",
                note=note or None,
                actor_id=actor_id,
                actor_role=actor_role,
                request_id=request_id,
            ),
            summary="Release the slot",
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DURABLE_RETRY,
        )

    def _ended_by(self, status: BookingStatus) -> tuple[UUID | None, ActorRole, str | None]:
        """Who ended the booking and in which API request, for the audit log: the canceller,
        the decliner, or the system (a timeout, a failed payment, a failure)."""
        if status == BookingStatus.CANCELLED and (cancel := self._cancel) is not None:
            return cancel.actor_id, cancel.cancelled_by, cancel.request_id
        if status == BookingStatus.DECLINED and self._decision is not None:
            decision = self._decision[1]
            return decision.actor_id, decision.decided_by, decision.request_id
        return None, "system", None

    async def _void_payment(self) -> None:
        if self._payment is None or self._keep_payment:
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

    def _count_outcome(self, *, failed: bool) -> None:
        """Bookings by how they ended, on the worker's /metrics. A metric is no command and is
        not recorded on replay, so this needs no patch."""
        outcomes = workflow.metric_meter().create_counter(
            "booking_outcomes", "Bookings ended, by final status"
        )
        outcomes.add(1, {"status": self._status.value, "failed": str(failed).lower()})

    def _set_status(self, status: BookingStatus) -> None:
        """The one place the booking's status changes, along domain/booking_state.py's moves.

        An illegal move is a bug: failing the workflow task leaves the booking waiting for a
        fixed deploy instead of recording a status it cannot have."""
        if status != self._status and not can_move(self._status, status):
            raise RuntimeError(f"illegal status change {self._status} -> {status}")
        self._status = status
        workflow.upsert_search_attributes([search_attributes.BOOKING_STATUS.value_set(status)])
