"""The booking saga's activities: every database write and payment call the workflow makes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DataError
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.calendar_events import BookingCalendars
from activities.notifications.teller import Teller, sandbox_teller
from activities.payments.port import PaymentGateway
from contract.errors import (
    DATA_REJECTED,
    HOLD_LOST,
    NOT_RESCHEDULABLE,
    SLOT_NOT_BOOKABLE,
    SLOT_UNAVAILABLE,
    TOO_MANY_HOLDS,
)
from contract.messages import (
    ApprovalWait,
    BookingRef,
    ConfirmRequest,
    Hold,
    HoldRequest,
    IntentRef,
    Moved,
    MoveRequest,
    PaymentIntent,
    PaymentIntentRequest,
    PaymentVoid,
    ReleaseRequest,
    VoidPaymentRequest,
)
from contract.notifications import Tell
from db import audit, booking_lifecycle, holds
from db.engine import Database
from db.hold_cap import TooManyHolds
from domain.availability import SlotNotBookable, SlotTaken
from domain.timezones import utc_now


class BookingActivities:
    def __init__(
        self,
        db: Database,
        payments: PaymentGateway,
        teller: Teller | None = None,
        clock: Callable[[], datetime] = utc_now,
        *,
        calendars: BookingCalendars | None = None,
        max_open_holds: int | None = None,
    ) -> None:
        self._db = db
        self._payments = payments
        self._teller = teller or sandbox_teller(db, clock)
        self._clock = clock
        # None: no calendars can be opened (tests of the booking alone; nobody connected one).
        self._calendars = calendars
        # From the worker's settings (MAX_OPEN_HOLDS), never the request; None: no cap.
        self._max_open_holds = max_open_holds

    @activity.defn
    async def hold_slot(self, request: HoldRequest) -> Hold:
        with _slot_refusals(), audit.for_request(request.request_id):
            try:
                return await holds.hold_slot(
                    self._db, request, now=self._clock(), max_open_holds=self._max_open_holds
                )
            except TooManyHolds as err:
                raise _refused(str(err), "too_many_holds", TOO_MANY_HOLDS) from err

    @activity.defn
    async def move_booking(self, request: MoveRequest) -> Moved:
        with _slot_refusals(), audit.for_request(request.request_id):
            try:
                return await holds.move_booking(self._db, request, now=self._clock())
            except holds.NotMovable as err:
                raise _refused(str(err), err.status, NOT_RESCHEDULABLE) from err

    @activity.defn
    async def release_slot(self, request: ReleaseRequest) -> bool:
        with _data_refusals(), audit.for_request(request.request_id):
            return await booking_lifecycle.release_slot(self._db, request, now=self._clock())

    @activity.defn
    async def await_approval(self, request: ApprovalWait) -> None:
        try:
            await booking_lifecycle.await_approval(self._db, request, now=self._clock())
        except booking_lifecycle.HoldLost as err:
            raise _hold_lost(err) from err

    @activity.defn
    async def create_payment_intent(self, request: PaymentIntentRequest) -> PaymentIntent:
        intent = await self._payments.create_intent(request)
        await booking_lifecycle.record_payment_intent(
            self._db, request.booking_id, intent, now=self._clock()
        )
        return intent

    @activity.defn
    async def void_payment(self, request: VoidPaymentRequest) -> PaymentVoid:
        void = await self._payments.cancel_or_refund(request.intent_id, request.idempotency_key)
        with _data_refusals():
            await booking_lifecycle.record_payment_void(self._db, void, now=self._clock())
        return void

    @activity.defn
    async def payment_status(self, request: IntentRef) -> PaymentIntent:
        """The gateway's own view of the intent, asked at the payment deadline."""
        return await self._payments.retrieve_intent(request.intent_id)

    @activity.defn
    async def confirm_booking(self, request: ConfirmRequest) -> None:
        approved_by = (
            None
            if request.actor_role == "system"
            else audit.Actor(request.actor_id, request.actor_role)
        )
        try:
            with audit.for_request(request.request_id):
                await booking_lifecycle.confirm_booking(
                    self._db,
                    request.booking_id,
                    request.intent_id,
                    now=self._clock(),
                    approved_by=approved_by,
                )
        except booking_lifecycle.HoldLost as err:
            raise _hold_lost(err) from err

    @activity.defn
    async def tell_people(self, tell: Tell) -> None:
        """Email and SMS the booking's people about what happened, once per message. A
        prepared reminder waits in here for its instant, counted on the server's clock (the
        one its `send_at` came from: also right on the time-skipping test server)."""
        send_in = None
        if tell.send_at is not None:
            send_in = (tell.send_at - activity.info().started_time).total_seconds()
        await self._teller.tell(tell, send_in=send_in)

    @activity.defn
    async def mirror_booking(self, request: BookingRef) -> int:
        """Write, move or remove the booking's event in the provider's connected calendars."""
        if self._calendars is None:
            return 0
        return await self._calendars.mirror(request.booking_id)

    @activity.defn
    async def complete_booking(self, request: BookingRef) -> bool:
        return await booking_lifecycle.complete_booking(
            self._db, request.booking_id, now=self._clock()
        )

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.hold_slot,
            self.move_booking,
            self.release_slot,
            self.await_approval,
            self.create_payment_intent,
            self.void_payment,
            self.payment_status,
            self.confirm_booking,
            self.complete_booking,
            self.tell_people,
            self.mirror_booking,
        ]


@contextmanager
def _slot_refusals() -> Iterator[None]:
    """A time that is taken or breaks a rule: an outcome the workflow answers with, not a fault."""
    try:
        yield
    except SlotTaken as err:
        raise _refused(err.detail, err.code, SLOT_UNAVAILABLE) from err
    except SlotNotBookable as err:
        raise _refused(err.detail, err.code, SLOT_NOT_BOOKABLE) from err


@contextmanager
def _data_refusals() -> Iterator[None]:
    """The database refusing a value (too long, out of range) will refuse every retry too:
    fail for good, so the undo surfaces as CompensationIncomplete instead of retrying forever."""
    try:
        yield
    except DataError as err:
        raise ApplicationError(
            f"the database refused the data: {err.orig}", type=DATA_REJECTED, non_retryable=True
        ) from err


def _hold_lost(err: booking_lifecycle.HoldLost) -> ApplicationError:
    return _refused(str(err), err.status, HOLD_LOST)


def _refused(message: str, code: str, error_type: str) -> ApplicationError:
    # A business outcome the workflow handles, not a fault: benign keeps it out of error logs.
    return ApplicationError(
        message,
        code,
        type=error_type,
        non_retryable=True,
        category=ApplicationErrorCategory.BENIGN,
    )
