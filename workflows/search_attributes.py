"""Search attributes an operator filters bookings by in the Web UI. No personal data here."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

BOOKING_STATUS = SearchAttributeKey.for_keyword("BookingStatus")
PROVIDER_ID = SearchAttributeKey.for_keyword("ProviderId")
SERVICE_ID = SearchAttributeKey.for_keyword("ServiceId")
APPOINTMENT_START = SearchAttributeKey.for_datetime("AppointmentStart")
# A calendar connection's sync: active, or broken (the grant no longer works).
CALENDAR_SYNC_STATUS = SearchAttributeKey.for_keyword("CalendarSyncStatus")

ALL = (BOOKING_STATUS, PROVIDER_ID, SERVICE_ID, APPOINTMENT_START, CALENDAR_SYNC_STATUS)


def initial(
    *, status: str, provider_id: UUID, service_id: UUID, start: datetime
) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(BOOKING_STATUS, status),
            SearchAttributePair(PROVIDER_ID, str(provider_id)),
            SearchAttributePair(SERVICE_ID, str(service_id)),
            SearchAttributePair(APPOINTMENT_START, start),
        ]
    )


def cli_flags() -> list[str]:
    """`temporal server start-dev` flags that register these attributes."""
    return [
        arg
        for key in ALL
        for arg in ("--search-attribute", f"{key.name}={key.indexed_value_type.name.title()}")
    ]
