"""What a message needs to know about a booking and its people, read from the database once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from contract.messages import Money


@dataclass(frozen=True)
class Person:
    user_id: UUID
    name: str
    email: str
    # The IANA zone this person reads times in.
    timezone: str
    # E.164; whether it may be texted is the caller's decision (opt-in).
    phone: str | None = None


@dataclass(frozen=True)
class BookingFacts:
    booking_id: UUID
    service_name: str
    provider_timezone: str
    start: datetime
    end: datetime
    # None or an amount of 0: the booking is free.
    price: Money | None
    customer: Person
    # `provider.name` is the provider's display name.
    provider: Person
    # The booking in the API, e.g. f"{public_base_url}/appointments/{booking_id}".
    link: str
