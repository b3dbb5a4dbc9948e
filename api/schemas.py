"""Request and response bodies, layered per resource: XCreate in, XPublic out."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, EmailStr, Field, field_validator

from domain.booking_state import BookingStatus
from domain.timezones import in_zone, parse_zone
from workflows.models import BookingState, Money


def _zone_name(value: str | None) -> str | None:
    if value is not None:
        parse_zone(value)
    return value


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class UserCreate(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)
    full_name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$", examples=["+15551234567"])
    role: Literal["customer", "provider"] = "customer"
    timezone: str | None = Field(default=None, description="IANA zone; providers' working hours")
    display_name: str | None = Field(default=None, max_length=200)

    _valid_zone = field_validator("timezone")(_zone_name)


class UserPublic(BaseModel):
    id: UUID
    email: str
    full_name: str
    phone: str | None
    role: str
    provider_id: UUID | None


class AppointmentCreate(BaseModel):
    service_id: UUID
    start: AwareDatetime = Field(
        description="ISO 8601 with an offset, e.g. 2026-12-01T14:00:00-05:00",
        examples=["2026-12-01T14:00:00-05:00"],
    )
    timezone: str | None = Field(
        default=None, description="IANA zone the customer reads times in; default UTC"
    )

    _valid_zone = field_validator("timezone")(_zone_name)


class PaymentPublic(BaseModel):
    gateway: str
    intent_id: str
    client_secret: str | None
    amount: int
    currency: str
    status: str


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

    @classmethod
    def from_state(cls, state: BookingState, timezone: str | None = None) -> AppointmentPublic:
        zone = parse_zone(timezone) if timezone else None
        payment = state.payment
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
                client_secret=payment.client_secret or None,
                amount=payment.amount,
                currency=payment.currency,
                status=payment.status,
            ),
            reason=state.reason,
        )


class WebhookReceipt(BaseModel):
    received: bool = True
    handled: bool
    detail: str
