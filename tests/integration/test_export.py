"""GET /users/me/export over HTTP: everything held about the account, nothing about others."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx

from contract.calendars import CalendarKind
from db import calendar_connections
from tests.factories import future_local, make_provider
from tests.integration.api_helpers import provider_with_service
from tests.integration.privacy_helpers import (
    audit_entries,
    eventually,
    has_messages,
    paid_booking,
    signed_up,
)
from tests.temporal_fixtures import Saga


async def test_the_export_holds_the_account_its_bookings_payments_and_messages(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    customer = await signed_up(api)
    booked = await paid_booking(api, customer, provider.service_id, future_local(provider.timezone))
    await eventually(lambda: has_messages(saga.db, customer.id), "the confirmation was recorded")

    exported = await api.get("/users/me/export", headers=customer.headers)

    assert exported.status_code == 200, exported.text
    assert exported.headers["Content-Disposition"] == (
        f'attachment; filename="account-{customer.id}.json"'
    )
    data = exported.json()
    assert data["account"] | {"created_at": None} == {
        "id": str(customer.id),
        "email": customer.email,
        "full_name": customer.name,
        "phone": customer.phone,
        "role": "customer",
        "created_at": None,
        "email_notifications": True,
        "sms_opt_in": True,
    }
    assert data["account"]["created_at"].endswith("Z")
    [booking] = data["bookings"]
    assert (booking["id"], booking["status"]) == (booked["id"], "confirmed")
    assert booking["provider_name"] == "Test Provider" and booking["service_name"]
    assert datetime.fromisoformat(booking["start"]) == future_local(provider.timezone)
    [payment] = data["payments"]
    assert payment["booking_id"] == booked["id"]
    assert payment["amount"] == {"amount": provider.price, "currency": "USD"}
    assert (payment["status"], payment["refunded"]["amount"]) == ("succeeded", 0)
    kinds = {(m["kind"], m["channel"], m["recipient"]) for m in data["messages"]}
    assert ("confirmed", "email", customer.email) in kinds
    assert ("confirmed", "sms", customer.phone) in kinds
    assert (data["provider"], data["bookings_with_me"], data["calendar_connections"]) == (
        None,
        [],
        [],
    )
    assert [e["action"] for e in data["audit"]].count("account.exported") == 0
    assert len(await audit_entries(saga.db, customer.id, "account.exported")) == 1


async def test_a_providers_export_has_its_profile_calendars_and_bookings_without_customers_data(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    headers, provider_id, service_id = await provider_with_service(api)
    customer = await signed_up(api)
    await paid_booking(api, customer, service_id, future_local("America/New_York"))
    now = datetime.now(UTC)
    await calendar_connections.connect(
        saga.db,
        provider_id=uuid.UUID(provider_id),
        kind=CalendarKind.CALDAV,
        account="calendar-login@example.com",
        secret="sealed-secret-value",
        now=now,
    )

    data = (await api.get("/users/me/export", headers=headers)).json()

    assert data["provider"]["id"] == provider_id
    assert [s["id"] for s in data["provider"]["services"]] == [service_id]
    assert data["provider"]["working_hours"]
    [booking] = data["bookings_with_me"]
    assert booking["customer_id"] == str(customer.id)
    [connection] = data["calendar_connections"]
    assert connection["account"] == "calendar-login@example.com"
    assert "sealed-secret-value" not in json.dumps(data)
    # The provider's messages are theirs, customers' contacts and all (as the API shows them).
    beyond_messages = json.dumps(data | {"messages": []})
    assert [p for p in customer.personal if p in beyond_messages] == []
    assert data["messages"]
