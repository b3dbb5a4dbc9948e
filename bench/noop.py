"""The baseline's contract and activities: no database, no gateway, nothing but the engine."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from pydantic import BaseModel
from temporalio import activity


class NoopBooking(BaseModel):
    booking_id: UUID
    payment_timeout: timedelta = timedelta(minutes=15)
    # What-if variants for `python -m bench --profile`; the baseline itself uses neither.
    local_activities: bool = False
    search_attributes: bool = False


class NoopState(BaseModel):
    booking_id: UUID
    status: str


class NoopPayment(BaseModel):
    intent_id: str


@activity.defn
async def noop_hold(booking: NoopBooking) -> NoopState:
    return NoopState(booking_id=booking.booking_id, status="held")


@activity.defn
async def noop_payment_intent(booking: NoopBooking) -> NoopPayment:
    return NoopPayment(intent_id=f"pi_noop_{booking.booking_id.hex}")


@activity.defn
async def noop_confirm(booking: NoopBooking) -> NoopState:
    return NoopState(booking_id=booking.booking_id, status="confirmed")


@activity.defn
async def noop_tell(booking: NoopBooking) -> None:
    """The confirmation message: the saga sends it as an activity beside the booking."""


@activity.defn
async def noop_mirror(booking: NoopBooking) -> None:
    """The booking's event in the provider's calendars: the saga writes it beside the booking."""


ACTIVITIES = [noop_hold, noop_payment_intent, noop_confirm, noop_tell, noop_mirror]
