"""The audit log: each change writes its entry in its own transaction, a rollback leaves none,
the table refuses UPDATE and DELETE, admins read it (and their reads are logged too)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from contract.calendars import CalendarKind
from contract.messages import ReleaseRequest
from db import audit, booking_lifecycle, holds, reconcile
from db import calendar_connections as store
from db.audit_reads import AuditFilter, Entry, list_entries
from db.create_admin import create_admin
from db.engine import Database
from db.models import Appointment, AuditEntry
from domain.availability import SlotTaken
from domain.booking_state import BookingStatus
from tests.factories import future_local, hold_request, make_customer, make_provider
from tests.integration.api_helpers import (
    PASSWORD,
    assert_error,
    provider_with_service,
    sign_up,
)
from tests.temporal_fixtures import Saga

PHONE = "+12125550100"


async def _entries(db: Database, **where: Any) -> list[Entry]:
    """Matching entries, oldest first."""
    found, _ = await list_entries(db, AuditFilter(**where), limit=200, offset=0)
    return found[::-1]


async def _account_id(api: httpx.AsyncClient, headers: dict[str, str]) -> uuid.UUID:
    return uuid.UUID((await api.get("/auth/me", headers=headers)).json()["id"])


async def _admin(api: httpx.AsyncClient, db: Database) -> tuple[dict[str, str], uuid.UUID]:
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    account = await create_admin(db, email, "a very long admin password")
    login = await api.post(
        "/auth/login", data={"username": email, "password": "a very long admin password"}
    )
    return {"Authorization": f"Bearer {login.json()['access_token']}"}, account.id


def _request_id(response: httpx.Response) -> str | None:
    # Set by the request-id middleware when it is installed; the entry names the same request.
    return response.headers.get("x-request-id")


# ------------------------------------------------------------------ accounts


async def test_registration_and_preferences_are_audited_without_personal_data(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    email = f"audit-{uuid.uuid4().hex[:10]}@example.com"
    registered = await api.post(
        "/auth/register",
        json={"email": email, "password": PASSWORD, "full_name": "Pat Auditee", "role": "customer"},
    )
    assert registered.status_code == 201, registered.text
    account_id = uuid.UUID(registered.json()["id"])
    login = await api.post("/auth/login", data={"username": email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    patched = await api.patch(
        "/users/me", json={"phone": PHONE, "sms_opt_in": True}, headers=headers
    )
    assert patched.status_code == 200, patched.text

    first, second = await _entries(saga.db, account_id=account_id)
    assert (first.action, first.actor_id, first.actor_role) == (
        "account.registered",
        account_id,
        "customer",
    )
    assert first.request_id == _request_id(registered)
    assert (second.action, second.actor_id, second.actor_role) == (
        "account.preferences_changed",
        account_id,
        "customer",
    )
    assert second.detail == {"fields": ["phone", "sms_opt_in"]}
    assert second.request_id == _request_id(patched)
    for entry in (first, second):
        _assert_no_personal_data(entry, email, "Pat Auditee", PHONE)


async def test_an_admin_made_from_the_command_line_is_registered_by_the_system(
    db: Database,
) -> None:
    admin = await create_admin(db, f"admin-{uuid.uuid4().hex[:8]}@example.com", "x" * 12)
    [entry] = await _entries(db, account_id=admin.id)
    assert (entry.action, entry.actor_id, entry.actor_role) == (
        "account.registered",
        None,
        "system",
    )
    assert entry.detail["role"] == "admin"


async def test_calendar_connections_made_and_removed_are_audited(db: Database) -> None:
    provider = await make_provider(db)
    now = datetime.now(UTC)
    connection = await store.connect(
        db,
        provider_id=provider.provider_id,
        kind=CalendarKind.CALDAV,
        account="pat@example.com",
        secret="sealed",
        now=now,
        server_url="http://127.0.0.1:5232/",
    )
    assert await store.disconnect(db, connection.id, now=now)
    assert not await store.disconnect(db, connection.id, now=now)

    entries = await _entries(db, account_id=provider.user_id)
    assert [(e.action, e.actor_id, e.actor_role) for e in entries] == [
        ("calendar.connected", provider.user_id, "provider"),
        ("calendar.disconnected", provider.user_id, "provider"),
    ]
    assert entries[0].detail["connection_id"] == str(connection.id)
    _assert_no_personal_data(entries[0], "pat@example.com")


# ------------------------------------------------------------------ bookings, in the database


async def test_holds_moves_and_endings_name_their_actor(db: Database) -> None:
    provider = await make_provider(db, price=0)
    customer = await make_customer(db)
    start = future_local(provider.timezone)
    now = datetime.now(UTC)
    request = hold_request(provider, customer, start)
    await holds.hold_slot(db, request, now=now)
    await holds.hold_slot(db, request, now=now)  # a retry writes nothing new
    canceller = uuid.uuid4()
    release = ReleaseRequest(
        booking_id=request.booking_id,
        status=BookingStatus.CANCELLED,
        reason="cancelled by the customer",
        note="my own words",
        actor_id=canceller,
        actor_role="customer",
    )
    assert await booking_lifecycle.release_slot(db, release, now=now)
    assert not await booking_lifecycle.release_slot(db, release, now=now)

    entries = await _entries(db, booking_id=request.booking_id)
    assert [(e.action, e.actor_id, e.actor_role) for e in entries] == [
        ("booking.held", customer, "customer"),
        ("booking.cancelled", canceller, "customer"),
    ]
    assert entries[0].account_id == customer
    assert entries[1].detail == {"status": "cancelled"}
    _assert_no_personal_data(entries[1], "my own words")


async def test_a_lapsed_hold_expired_in_the_way_of_a_new_one_is_the_systems_doing(
    db: Database,
) -> None:
    provider = await make_provider(db)
    start = future_local(provider.timezone)
    now = datetime.now(UTC)
    lapsed = hold_request(
        provider, await make_customer(db), start, payment_deadline=now - timedelta(minutes=1)
    )
    await holds.hold_slot(db, lapsed, now=now - timedelta(minutes=20))
    await holds.hold_slot(db, hold_request(provider, await make_customer(db), start), now=now)

    actions = [(e.action, e.actor_role) for e in await _entries(db, booking_id=lapsed.booking_id)]
    assert actions == [("booking.held", "customer"), ("booking.expired", "system")]


async def test_the_reconcilers_fixes_are_the_systems(db: Database) -> None:
    provider = await make_provider(db)
    now = datetime.now(UTC)
    request = hold_request(
        provider,
        await make_customer(db),
        future_local(provider.timezone),
        payment_deadline=now - timedelta(hours=1),
    )
    await holds.hold_slot(db, request, now=now - timedelta(hours=2))
    cutoff = now - timedelta(minutes=10)
    assert await reconcile.expire_lapsed_hold(db, request.booking_id, now=now, cutoff=cutoff)
    assert await reconcile.expire_lapsed_hold(db, request.booking_id, now=now, cutoff=cutoff)

    expired = [
        e for e in await _entries(db, booking_id=request.booking_id) if e.action != "booking.held"
    ]
    assert [(e.action, e.actor_id, e.actor_role, e.detail) for e in expired] == [
        ("booking.expired", None, "system", {"status": "expired", "by": "reconciler"})
    ]


# ------------------------------------------------------------------ rollback


async def test_an_entry_written_in_a_transaction_that_rolls_back_is_gone(db: Database) -> None:
    account_id = uuid.uuid4()
    with pytest.raises(RuntimeError):
        async with db.transaction() as connection:
            await audit.record(
                connection,
                audit.SYSTEM,
                "test.rolled_back",
                now=datetime.now(UTC),
                account_id=account_id,
            )
            raise RuntimeError("the change fails after its entry was written")
    assert await _entries(db, account_id=account_id) == []


@pytest.mark.parametrize("step", ["hold", "release"])
async def test_a_change_that_fails_after_its_entry_leaves_neither(
    db: Database, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    provider = await make_provider(db, price=0)
    request = hold_request(provider, await make_customer(db), future_local(provider.timezone))
    if step == "release":
        await holds.hold_slot(db, request, now=datetime.now(UTC))
    real_record = audit.record

    async def record_then_fail(*args: Any, **kwargs: Any) -> None:
        await real_record(*args, **kwargs)
        raise RuntimeError("fails after the entry, inside the change's transaction")

    monkeypatch.setattr(audit, "record", record_then_fail)
    change: Callable[[], Awaitable[object]]
    if step == "hold":
        change = lambda: holds.hold_slot(db, request, now=datetime.now(UTC))  # noqa: E731
    else:
        release = ReleaseRequest(
            booking_id=request.booking_id, status=BookingStatus.CANCELLED, reason="test"
        )
        change = lambda: booking_lifecycle.release_slot(db, release, now=datetime.now(UTC))  # noqa: E731
    with pytest.raises(RuntimeError):
        await change()
    monkeypatch.undo()

    entries = await _entries(db, booking_id=request.booking_id)
    async with db.session() as session:
        stored = await session.get(Appointment, request.booking_id)
    if step == "hold":
        assert stored is None and entries == []
    else:
        assert stored is not None and stored.status == BookingStatus.CONFIRMED
        assert [e.action for e in entries] == ["booking.held"]


async def test_a_hold_refused_for_a_taken_slot_leaves_no_entry(db: Database) -> None:
    provider = await make_provider(db)
    start = future_local(provider.timezone)
    await holds.hold_slot(
        db, hold_request(provider, await make_customer(db), start), now=datetime.now(UTC)
    )
    refused = hold_request(provider, await make_customer(db), start)
    with pytest.raises(SlotTaken):
        await holds.hold_slot(db, refused, now=datetime.now(UTC))
    assert await _entries(db, booking_id=refused.booking_id) == []


# ------------------------------------------------------------------ append-only


async def test_the_log_refuses_update_and_delete(db: Database) -> None:
    account_id = uuid.uuid4()
    async with db.transaction() as connection:
        await audit.record(
            connection, audit.SYSTEM, "test.kept", now=datetime.now(UTC), account_id=account_id
        )
    mine = AuditEntry.account_id == account_id
    for statement in (
        update(AuditEntry).where(mine).values(action="test.rewritten"),
        delete(AuditEntry).where(mine),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.transaction() as connection:
                await connection.execute(statement)
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.transaction() as connection:
            await connection.execute(text("DELETE FROM audit_log"))
    [kept] = await _entries(db, account_id=account_id)
    assert kept.action == "test.kept"


# ------------------------------------------------------------------ over HTTP, a whole booking


async def test_a_booking_from_hold_to_refund_is_audited_without_personal_data(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider, _, service = await provider_with_service(api)
    email = f"flow-{uuid.uuid4().hex[:10]}@example.com"
    registered = await api.post(
        "/auth/register",
        json={"email": email, "password": PASSWORD, "full_name": "Quinn Private", "phone": PHONE},
    )
    assert registered.status_code == 201, registered.text
    customer_id = uuid.UUID(registered.json()["id"])
    login = await api.post("/auth/login", data={"username": email, "password": PASSWORD})
    customer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    provider_id = await _account_id(api, provider)
    start = future_local("America/New_York", days_ahead=10)
    while start.weekday() > 4:
        start += timedelta(days=1)

    booked = await api.post(
        "/appointments", json={"service_id": service, "start": start.isoformat()}, headers=customer
    )
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    booking_id = uuid.UUID(booking["id"])
    paid = await api.post(
        f"/sandbox/payments/{booking['payment']['intent_id']}/succeed", headers=customer
    )
    assert paid.json()["booking"]["status"] == "confirmed", paid.text
    moved = await api.post(
        f"/appointments/{booking_id}/reschedule",
        json={"start": (start + timedelta(hours=4)).isoformat()},
        headers=provider,
    )
    assert moved.status_code == 200, moved.text
    cancelled = await api.put(
        f"/appointments/{booking_id}/cancel",
        json={"reason": "Quinn's private reason"},
        headers=customer,
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    entries = await _entries(saga.db, booking_id=booking_id)
    acts = [(e.action, e.actor_id, e.actor_role) for e in entries]
    assert acts[0] == ("booking.held", customer_id, "customer")
    # The webhook's own entry may land before or after the confirmation it caused.
    assert sorted(acts[1:4], key=str) == sorted(
        [
            ("booking.confirmed", None, "system"),
            ("payment.succeeded", None, "system"),
            ("payment.webhook_handled", None, "system"),
        ],
        key=str,
    )
    assert acts[4:] == [
        ("booking.moved", provider_id, "provider"),
        ("payment.refunded", None, "system"),
        ("booking.cancelled", customer_id, "customer"),
    ]
    by_action = {e.action: e for e in entries}
    # Steps the worker runs name the API request that asked for them.
    for action, response in (
        ("booking.held", booked),
        ("payment.webhook_handled", paid),
        ("booking.moved", moved),
        ("booking.cancelled", cancelled),
    ):
        assert by_action[action].request_id == _request_id(response), action
    assert by_action["payment.webhook_handled"].detail["outcome"] == "delivered"
    assert by_action["payment.refunded"].detail["refunded_amount"] == 8000
    everything = [
        *entries,
        *await _entries(saga.db, account_id=customer_id),
        *await _entries(saga.db, actor_id=customer_id),
    ]
    for entry in everything:
        _assert_no_personal_data(entry, email, "Quinn Private", PHONE, "private reason")


async def test_the_providers_decisions_are_theirs(api: httpx.AsyncClient, saga: Saga) -> None:
    provider, _, service = await provider_with_service(
        api, auto_confirm=False, price={"amount": 0, "currency": "USD"}
    )
    provider_id = await _account_id(api, provider)
    settings = await _entries(saga.db, actor_id=provider_id)
    assert [(e.action, e.account_id, e.actor_role) for e in settings] == [
        ("account.registered", provider_id, "provider"),
        ("provider.hours_replaced", provider_id, "provider"),
        ("provider.profile_changed", provider_id, "provider"),
        ("provider.service_created", provider_id, "provider"),
    ]
    assert settings[2].detail["fields"] == ["auto_confirm"]
    assert settings[3].detail["service_id"] == service
    customer = await sign_up(api)
    day = future_local("America/New_York", days_ahead=10)
    while day.weekday() > 4:
        day += timedelta(days=1)
    approved, declined = [
        (
            await api.post(
                "/appointments",
                json={"service_id": service, "start": (day + timedelta(hours=h)).isoformat()},
                headers=customer,
            )
        ).json()["id"]
        for h in (0, 1)
    ]
    assert (await api.post(f"/appointments/{approved}/approve", headers=provider)).is_success
    refused = await api.post(
        f"/appointments/{declined}/decline", json={"reason": "Not that day"}, headers=provider
    )
    assert refused.is_success, refused.text

    approvals = await _entries(saga.db, booking_id=uuid.UUID(approved))
    assert [(e.action, e.actor_id) for e in approvals][-1] == ("booking.approved", provider_id)
    declines = await _entries(saga.db, booking_id=uuid.UUID(declined))
    assert [(e.action, e.actor_id, e.actor_role) for e in declines][-1] == (
        "booking.declined",
        provider_id,
        "provider",
    )
    _assert_no_personal_data(declines[-1], "Not that day")


# ------------------------------------------------------------------ GET /admin/audit


async def test_only_admins_read_the_log_and_their_reads_are_logged(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    _, _, service = await provider_with_service(api)
    customer = await sign_up(api)
    customer_id = await _account_id(api, customer)
    start = future_local("America/New_York", days_ahead=10)
    while start.weekday() > 4:
        start += timedelta(days=1)
    booked = await api.post(
        "/appointments", json={"service_id": service, "start": start.isoformat()}, headers=customer
    )
    booking_id = booked.json()["id"]
    admin, admin_id = await _admin(api, saga.db)

    assert_error(await api.get("/admin/audit"), 401, "not_authenticated")
    assert_error(await api.get("/admin/audit", headers=customer), 403, "admins_only")
    # The customer reading their own booking is no admin read.
    assert (await api.get(f"/appointments/{booking_id}", headers=customer)).status_code == 200
    assert await _entries(saga.db, booking_id=uuid.UUID(booking_id), action="admin.read") == []

    read = await api.get(f"/appointments/{booking_id}", headers=admin)
    assert read.status_code == 200
    messages = await api.get(
        "/users/me/notifications", params={"appointment_id": booking_id}, headers=admin
    )
    assert messages.status_code == 200
    reads = await _entries(saga.db, booking_id=uuid.UUID(booking_id), action="admin.read")
    assert [(e.actor_id, e.actor_role, e.detail["read"]) for e in reads] == [
        (admin_id, "admin", "appointment"),
        (admin_id, "admin", "notifications"),
    ]
    assert reads[0].request_id == _request_id(read)
    everyone = await api.get("/users/me/appointments", headers=admin)
    assert everyone.status_code == 200
    listed = (await _entries(saga.db, actor_id=admin_id))[-1]
    assert (listed.action, listed.actor_id, listed.detail) == (
        "admin.read",
        admin_id,
        {"read": "appointments"},
    )

    page = await api.get("/admin/audit", params={"booking_id": booking_id}, headers=admin)
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["count"] == 3 and [e["action"] for e in body["data"]] == [
        "admin.read",
        "admin.read",
        "booking.held",
    ]
    # Reading the log is logged as well, after the page it answered.
    assert (await _entries(saga.db, actor_id=admin_id))[-1].detail["read"] == "audit"

    by_account = await api.get(
        "/admin/audit", params={"account_id": str(customer_id)}, headers=admin
    )
    assert [e["action"] for e in by_account.json()["data"]] == [
        "booking.held",
        "account.registered",
    ]
    # Newest first, a page at a time; the admin's reads are not the customer's doing.
    mine = {"actor_id": str(customer_id), "limit": 1}
    first = await api.get("/admin/audit", params=mine, headers=admin)
    assert first.json()["count"] == 2
    assert [e["action"] for e in first.json()["data"]] == ["booking.held"]
    second = await api.get("/admin/audit", params=mine | {"offset": 1}, headers=admin)
    assert [e["action"] for e in second.json()["data"]] == ["account.registered"]

    held_at = body["data"][-1]["at"]
    since = await api.get(
        "/admin/audit", params={"actor_id": str(customer_id), "since": held_at}, headers=admin
    )
    assert [e["action"] for e in since.json()["data"]] == ["booking.held"]
    until = await api.get(
        "/admin/audit", params={"actor_id": str(customer_id), "until": held_at}, headers=admin
    )
    assert [e["action"] for e in until.json()["data"]] == ["account.registered"]

    naive = await api.get("/admin/audit", params={"since": "2030-01-01T00:00:00"}, headers=admin)
    assert_error(naive, 422, "validation_error")
    assert_error(
        await api.get("/admin/audit", params={"limit": 1000}, headers=admin),
        422,
        "validation_error",
    )
    backwards = await api.get(
        "/admin/audit",
        params={"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
        headers=admin,
    )
    assert_error(backwards, 422, "invalid_range")


def _assert_no_personal_data(entry: Entry, *values: str) -> None:
    written = json.dumps(entry.detail)
    for value in values:
        assert value not in written, (entry.action, written)
