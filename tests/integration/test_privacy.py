"""DELETE /users/me over HTTP: future bookings cancelled by the refund policy, then no personal
data left but the bookings and payments accounting needs."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from contract.calendars import CalendarKind
from db import calendar_connections, privacy
from db.audit import Actor
from db.engine import Database
from db.models import Appointment, CalendarAuthorization, ProviderProfile, Service, User
from domain.booking_state import BookingStatus
from tests.factories import future_local, make_provider
from tests.integration.api_helpers import PASSWORD, api_without_temporal, assert_error
from tests.integration.privacy_helpers import (
    audit_entries,
    eventually,
    has_messages,
    mentions,
    messages_to,
    paid_booking,
    payment_of,
    signed_up,
)
from tests.temporal_fixtures import Saga


async def test_erasure_cancels_future_bookings_refunds_by_policy_and_leaves_no_personal_data(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    customer = await signed_up(api)
    future = await paid_booking(
        api, customer, provider.service_id, future_local(provider.timezone, days_ahead=5)
    )
    past_id = await _past_booking(saga.db, provider.provider_id, provider.service_id, customer.id)
    await eventually(lambda: has_messages(saga.db, customer.id), "the confirmation")
    assert await mentions(saga.db, customer.personal)

    erased = await api.delete("/users/me", headers=customer.headers)

    assert erased.status_code == 204, erased.text
    async with saga.db.session() as session:
        cancelled = await session.get(Appointment, uuid.UUID(future["id"]))
        past = await session.get(Appointment, past_id)
        user = await session.get(User, customer.id)
    assert cancelled is not None and cancelled.status == BookingStatus.CANCELLED
    assert cancelled.customer_id == customer.id
    refunded = await payment_of(saga.db, future["id"])
    assert (refunded.amount, refunded.refunded_amount) == (provider.price, provider.price)
    assert past is not None and (past.status, past.price_amount) == ("completed", provider.price)
    assert past.cancel_note is None and past.customer_timezone is None
    assert user is not None and user.erased_at is not None
    assert user.email.startswith("erased-") and user.email.endswith("@invalid")
    assert (user.full_name, user.phone, user.sms_opt_in) == ("Erased user", None, False)
    assert await mentions(saga.db, customer.personal) == []
    assert {m.recipient for m in await messages_to(saga.db, customer.id)} == {"redacted"}
    [entry] = await audit_entries(saga.db, customer.id, "account.erased")
    assert json.loads(entry.detail)["bookings_cancelled"] == 1
    assert_error(await api.get("/users/me", headers=customer.headers), 401, "invalid_token")
    assert_error(await api.delete("/users/me", headers=customer.headers), 401, "invalid_token")
    login = await api.post("/auth/login", data={"username": customer.email, "password": PASSWORD})
    assert login.status_code == 401


async def _past_booking(
    db: Database, provider_id: uuid.UUID, service_id: uuid.UUID, customer_id: uuid.UUID
) -> uuid.UUID:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    booking_id = uuid.uuid4()
    async with db.session() as session, session.begin():
        session.add(
            Appointment(
                id=booking_id,
                provider_id=provider_id,
                service_id=service_id,
                customer_id=customer_id,
                start_at=start,
                end_at=start + timedelta(minutes=30),
                blocked_start=start,
                blocked_end=start + timedelta(minutes=30),
                status=BookingStatus.COMPLETED,
                price_amount=5000,
                currency="USD",
                customer_timezone="Europe/Oslo",
                cancel_note="call me on my mobile",
                created_at=start - timedelta(days=2),
                updated_at=start,
            )
        )
    return booking_id


async def test_a_provider_erased_cancels_with_full_refunds_and_keeps_its_bookings_history(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await signed_up(api, role="provider", timezone="America/New_York")
    hours = {d: [{"start": "09:00", "end": "17:00"}] for d in _WEEK}
    assert (
        await api.put("/providers/me/working-hours", json=hours, headers=provider.headers)
    ).is_success
    service = await api.post(
        "/providers/me/services",
        json={
            "name": "Fitting",
            "duration_minutes": 60,
            "price": {"amount": 9000, "currency": "USD"},
        },
        headers=provider.headers,
    )
    assert service.status_code == 201, service.text
    profile_id = uuid.UUID((await api.get("/providers/me", headers=provider.headers)).json()["id"])
    customer = await signed_up(api)
    booked = await paid_booking(
        api, customer, service.json()["id"], future_local("America/New_York", days_ahead=3)
    )
    now = datetime.now(UTC)
    connection = await calendar_connections.connect(
        saga.db,
        provider_id=profile_id,
        kind=CalendarKind.CALDAV,
        account=provider.email,
        secret="sealed",
        now=now,
    )
    async with saga.db.session() as session, session.begin():
        session.add(
            CalendarAuthorization(
                state=uuid.uuid4().hex,
                user_id=provider.id,
                provider_id=profile_id,
                kind="google",
                secret="sealed-verifier",
                expires_at=now + timedelta(minutes=10),
                created_at=now,
            )
        )

    assert (await api.delete("/users/me", headers=provider.headers)).status_code == 204

    async with saga.db.session() as session:
        cancelled = await session.get(Appointment, uuid.UUID(booked["id"]))
        profile = await session.get(ProviderProfile, profile_id)
        services = list(
            await session.scalars(select(Service).where(Service.provider_id == profile_id))
        )
        authorizations = await session.scalar(
            select(CalendarAuthorization).where(CalendarAuthorization.user_id == provider.id)
        )
    assert cancelled is not None and cancelled.status == BookingStatus.CANCELLED
    refunded = await payment_of(saga.db, booked["id"])
    assert refunded.refunded_amount == 9000
    assert profile is not None and profile.display_name == "Erased provider"
    assert [s.active for s in services] == [False]
    assert await calendar_connections.get(saga.db, connection.id) is None
    assert authorizations is None
    assert await mentions(saga.db, provider.personal) == []
    # The customer keeps the booking, cancelled by the provider, in their own list.
    mine = (await api.get("/users/me/appointments", headers=customer.headers)).json()
    assert [(b["id"], b["status"]) for b in mine["data"]] == [(booked["id"], "cancelled")]


_WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


async def test_with_the_booking_engine_down_erasure_answers_503_and_erases_nothing(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    customer = await signed_up(api)
    booked = await paid_booking(
        api, customer, provider.service_id, future_local(provider.timezone, days_ahead=4)
    )

    async with api_without_temporal(api) as down:
        refused = await down.delete("/users/me", headers=customer.headers)

    assert_error(refused, 503, "booking_engine_unavailable")
    assert refused.headers["Retry-After"]
    me = await api.get("/users/me", headers=customer.headers)
    assert me.status_code == 200 and me.json()["email"] == customer.email
    async with saga.db.session() as session:
        kept = await session.get(Appointment, uuid.UUID(booked["id"]))
    assert kept is not None and kept.status == BookingStatus.CONFIRMED
    assert await audit_entries(saga.db, customer.id, "account.erased") == []


async def test_an_account_without_bookings_is_erased_without_the_booking_engine(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    customer = await signed_up(api)

    async with api_without_temporal(api) as down:
        erased = await down.delete("/users/me", headers=customer.headers)

    assert erased.status_code == 204, erased.text
    assert await mentions(saga.db, customer.personal) == []


async def test_a_booking_made_while_the_account_is_being_closed_is_cancelled_too(
    api: httpx.AsyncClient, saga: Saga, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: a booking made after the cancellation pass listed the account's bookings. The
    erasure sees a booking the pass did not, erases nothing, and another pass cancels it."""
    provider = await make_provider(saga.db)
    customer = await signed_up(api)
    made_meanwhile = await paid_booking(
        api, customer, provider.service_id, future_local(provider.timezone, days_ahead=5)
    )
    listed = privacy.future_bookings
    passes: list[int] = []

    async def first_pass_before_the_booking(*args: Any, **kwargs: Any) -> Any:
        passes.append(1)
        return [] if len(passes) == 1 else await listed(*args, **kwargs)

    monkeypatch.setattr(privacy, "future_bookings", first_pass_before_the_booking)
    erased = await api.delete("/users/me", headers=customer.headers)

    assert erased.status_code == 204, erased.text
    assert len(passes) == 2
    async with saga.db.session() as session:
        booking = await session.get(Appointment, uuid.UUID(made_meanwhile["id"]))
        user = await session.get(User, customer.id)
    assert booking is not None and booking.status == BookingStatus.CANCELLED
    assert user is not None and user.erased_at is not None


async def test_erasure_refuses_while_a_booking_it_was_not_told_of_is_active(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    customer = await signed_up(api)
    booking = await paid_booking(
        api, customer, provider.service_id, future_local(provider.timezone, days_ahead=5)
    )
    actor = Actor(customer.id, "customer")
    now = datetime.now(UTC)

    with pytest.raises(privacy.BookedMeanwhile):
        await privacy.erase(saga.db, customer.id, actor, now=now)
    async with saga.db.session() as session:
        user = await session.get(User, customer.id)
    assert user is not None and user.erased_at is None and user.email == customer.email
    # Told of it (the pass cancelled it, or it is cancelling), the erasure goes on.
    seen = {uuid.UUID(booking["id"])}
    assert await privacy.erase(saga.db, customer.id, actor, now=now, seen=seen) is not None
