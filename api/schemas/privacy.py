"""GET /users/me/export: everything held about the signed-in account, times in UTC."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from contract.messages import Money


def _from_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class AccountExport(BaseModel):
    id: UUID
    email: str
    full_name: str
    phone: str | None
    role: str
    created_at: datetime
    email_notifications: bool = Field(description="consent to booking emails")
    sms_opt_in: bool = Field(description="consent to text messages at `phone`")


class ServiceExport(BaseModel):
    id: UUID
    name: str
    duration_minutes: int
    price: Money
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> ServiceExport:
        price = Money(amount=row["price_amount"], currency=row["currency"])
        return cls.model_validate(row | {"price": price})


class HoursExport(BaseModel):
    weekday: int = Field(description="0 is Monday; times in the provider's zone")
    start_time: time
    end_time: time


class OverrideExport(BaseModel):
    day: date
    start_time: time | None
    end_time: time | None


class HolidayExport(BaseModel):
    day: date
    name: str


class ProviderExport(BaseModel):
    id: UUID
    display_name: str
    timezone: str
    auto_confirm: bool
    created_at: datetime
    services: list[ServiceExport]
    working_hours: list[HoursExport]
    schedule_overrides: list[OverrideExport]
    holidays: list[HolidayExport]

    @field_validator("services", mode="before")
    @classmethod
    def _services(cls, rows: list[dict[str, Any]]) -> list[ServiceExport]:
        return [ServiceExport.of(row) for row in rows]


class BookingExport(BaseModel):
    """A booking of mine as a customer."""

    id: UUID
    status: str
    provider_id: UUID
    provider_name: str
    service_id: UUID
    service_name: str
    start: datetime
    end: datetime
    price: Money
    timezone: str | None
    reason: str | None
    note: str | None
    created_at: datetime
    updated_at: datetime


class ProviderBookingExport(BaseModel):
    """A booking made with me as the provider: the customer only by id, as the API shows it."""

    id: UUID
    status: str
    customer_id: UUID
    service_id: UUID
    service_name: str
    start: datetime
    end: datetime
    price: Money
    reason: str | None
    note: str | None
    created_at: datetime


class PaymentExport(BaseModel):
    booking_id: UUID
    gateway: str
    intent_id: str
    amount: Money
    status: str
    refunded: Money
    created_at: datetime
    updated_at: datetime


class MessageExport(BaseModel):
    id: UUID
    booking_id: UUID | None
    kind: str
    channel: str
    recipient: str
    status: str
    subject: str | None
    body_text: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


class CalendarConnectionExport(BaseModel):
    """A connected calendar account, without its sealed grant or password."""

    id: UUID
    kind: str
    status: str
    account: str
    server_url: str | None
    blocking_calendars: list[str]
    destination_calendar: str | None
    last_synced_at: datetime | None
    created_at: datetime

    _json = field_validator("blocking_calendars", mode="before")(_from_json)


class AuditExport(BaseModel):
    at: datetime
    actor_id: UUID | None
    actor_role: str
    action: str
    booking_id: UUID | None
    account_id: UUID | None
    detail: dict[str, Any]

    _json = field_validator("detail", mode="before")(_from_json)


class AccountDataExport(BaseModel):
    """Everything held about the account; `bookings_with_me` and `calendar_connections` are a
    provider's."""

    exported_at: datetime
    account: AccountExport
    provider: ProviderExport | None
    bookings: list[BookingExport]
    bookings_with_me: list[ProviderBookingExport]
    payments: list[PaymentExport]
    messages: list[MessageExport]
    calendar_connections: list[CalendarConnectionExport]
    audit: list[AuditExport]

    @classmethod
    def of(cls, data: dict[str, Any], exported_at: datetime) -> AccountDataExport:
        return cls.model_validate(
            data
            | {
                "exported_at": exported_at,
                "bookings": [_booking(row) for row in data["bookings"]],
                "bookings_with_me": [_booking(row) for row in data["bookings_with_me"]],
                "payments": [_payment(row) for row in data["payments"]],
                "messages": [
                    row | {"booking_id": row["appointment_id"]} for row in data["messages"]
                ],
            }
        )


def _booking(row: dict[str, Any]) -> dict[str, Any]:
    return row | {
        "start": row["start_at"],
        "end": row["end_at"],
        "price": Money(amount=row["price_amount"], currency=row["currency"]),
        "timezone": row.get("customer_timezone"),
        "reason": row["cancel_reason"],
        "note": row["cancel_note"],
    }


def _payment(row: dict[str, Any]) -> dict[str, Any]:
    return row | {
        "booking_id": row["appointment_id"],
        "amount": Money(amount=row["amount"], currency=row["currency"]),
        "refunded": Money(amount=row["refunded_amount"], currency=row["currency"]),
    }
