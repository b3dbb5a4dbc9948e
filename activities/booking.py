"""The booking saga's activities: every database write and payment call the workflow makes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.payments.port import PaymentGateway
from db import bookings
from db.engine import Database
from domain.availability import SlotNotBookable, SlotTaken
from workflows.errors import HOLD_LOST, SLOT_NOT_BOOKABLE, SLOT_UNAVAILABLE
from workflows.models import (
    BookingRef,
    ConfirmRequest,
    Hold,
    HoldRequest,
    PaymentIntent,
    PaymentIntentRequest,
    PaymentVoid,
    ReleaseRequest,
    VoidPaymentRequest,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class BookingActivities:
    def __init__(
        self, db: Database, payments: PaymentGateway, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._db = db
        self._payments = payments
        self._clock = clock

    @activity.defn
    async def hold_slot(self, request: HoldRequest) -> Hold:
        try:
            return await bookings.hold_slot(self._db, request, now=self._clock())
        except SlotTaken as err:
            raise ApplicationError(
                err.detail, err.code, type=SLOT_UNAVAILABLE, non_retryable=True
            ) from err
        except SlotNotBookable as err:
            raise ApplicationError(
                err.detail, err.code, type=SLOT_NOT_BOOKABLE, non_retryable=True
            ) from err

    @activity.defn
    async def release_hold(self, request: ReleaseRequest) -> bool:
        return await bookings.release_hold(self._db, request, now=self._clock())

    @activity.defn
    async def create_payment_intent(self, request: PaymentIntentRequest) -> PaymentIntent:
        intent = await self._payments.create_intent(request)
        await bookings.record_payment_intent(
            self._db, request.booking_id, intent, now=self._clock()
        )
        return intent

    @activity.defn
    async def void_payment(self, request: VoidPaymentRequest) -> PaymentVoid:
        void = await self._payments.cancel_or_refund(request.intent_id, request.idempotency_key)
        await bookings.record_payment_void(self._db, void, now=self._clock())
        return void

    @activity.defn
    async def confirm_booking(self, request: ConfirmRequest) -> None:
        try:
            await bookings.confirm_booking(
                self._db, request.booking_id, request.intent_id, now=self._clock()
            )
        except bookings.HoldLost as err:
            raise ApplicationError(
                str(err), err.status, type=HOLD_LOST, non_retryable=True
            ) from err

    @activity.defn
    async def complete_booking(self, request: BookingRef) -> bool:
        return await bookings.complete_booking(self._db, request.booking_id, now=self._clock())

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.hold_slot,
            self.release_hold,
            self.create_payment_intent,
            self.void_payment,
            self.confirm_booking,
            self.complete_booking,
        ]
