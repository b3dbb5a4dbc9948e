from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from api.schemas.common import Strict, zone_name
from contract.messages import BookingState, Money
from domain.booking_state import BookingStatus
from domain.timezones import in_zone, parse_zone


class AppointmentCreate(Strict):
    service_id: UUID
    start: AwareDatetime = Field(
        description="ISO 8601 with an offset, e.g. 2026-12-01T14:00:00-05:00",
        examples=["2026-12-01T14:00:00-05:00"],
    )
    timezone: str | None = Field(
        default=None,
        description="IANA zone the customer reads times in: the booking's answers show its "
        "times there unless a request asks for another; default UTC",
    )

    _valid_zone = field_validator("timezone")(zone_name)


class RescheduleBody(Strict):
    start: AwareDatetime = Field(
        description="The new start, ISO 8601 with an offset; a free slot of the same service",
        examples=["2026-12-02T10:00:00-05:00"],
    )
    timezone: str | None = Field(
        default=None,
        description="IANA zone to show the answer's times in; default the booking's own zone",
    )

    _valid_zone = field_validator("timezone")(zone_name)


class CancelBody(Strict):
    reason: str = Field(
        default="", max_length=500, description="your own words, kept with the booking"
    )


class DecisionBody(Strict):
    reason: str = Field(default="", max_length=500)


class PaymentPublic(BaseModel):
    gateway: str
    intent_id: str
    client_secret: str | None = Field(
        description="for the paying customer's checkout only, and only while awaiting payment"
    )
    amount: int
    currency: str
    status: str


class CustomerPublic(BaseModel):
    name: str
    email: str


class AppointmentPublic(BaseModel):
    id: UUID
    status: BookingStatus
    provider_id: UUID
    service_id: UUID
    customer_id: UUID
    start: datetime
    end: datetime | None
    price: Money | None
    hold_expires_at: datetime | None
    payment: PaymentPublic | None
    reason: str | None
    note: str | None = Field(default=None, description="the canceller's own words")
    payment_failure: str | None = Field(
        default=None,
        description="why the last payment attempt failed; pay again before the hold expires",
    )
    reschedules: int = 0
    timezone: str | None = Field(default=None, description="the zone the booking was made in")
    refund_until: datetime | None = Field(
        default=None,
        description="until when the customer's own cancellation is refunded in full (set once "
        "confirmed; a customer's move inside the no-refund window keeps the passed deadline); "
        "read from the booking itself, so absent from lists",
    )
    customer: CustomerPublic | None = Field(
        default=None,
        description="who booked: in a provider's (or an admin's) list, not in a customer's",
    )

    @classmethod
    def from_state(
        cls, state: BookingState, timezone: str | None = None, *, viewer_id: UUID | None = None
    ) -> AppointmentPublic:
        """`state` for a reader: times in `timezone`, else the booking's own zone, else UTC;
        the payment's client secret only for the paying customer while it is still owed."""
        shown_in = timezone or state.timezone
        zone = parse_zone(shown_in) if shown_in else None
        payment = state.payment
        may_pay = viewer_id == state.customer_id and state.status == BookingStatus.AWAITING_PAYMENT
        return cls(
            id=state.booking_id,
            status=state.status,
            provider_id=state.provider_id,
            service_id=state.service_id,
            customer_id=state.customer_id,
            start=in_zone(state.start, zone),
            end=in_zone(state.end, zone) if state.end else None,
            price=state.price,
            hold_expires_at=in_zone(state.hold_expires_at, zone) if state.hold_expires_at else None,
            payment=None
            if payment is None
            else PaymentPublic(
                gateway=payment.gateway,
                intent_id=payment.id,
                client_secret=(payment.client_secret or None) if may_pay else None,
                amount=payment.amount,
                currency=payment.currency,
                status=payment.status,
            ),
            reason=state.reason,
            note=state.note,
            payment_failure=state.payment_failure,
            reschedules=state.reschedules,
            timezone=state.timezone,
            refund_until=in_zone(state.refund_until, zone) if state.refund_until else None,
        )
