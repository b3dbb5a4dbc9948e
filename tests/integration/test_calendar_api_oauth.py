"""Google and Microsoft 365 connections through the real app: the authorization URL, the
vendor's consent, our callback storing the grant, a sync taking a meeting's slot, and a revoked
grant marking only that connection broken while the other keeps syncing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.booking import BookingActivities
from activities.calendar_events import BookingCalendars
from activities.calendar_sync import CalendarSyncActivities
from activities.calendars.accounts import CalendarAccounts
from activities.calendars.port import event_name
from activities.payments.sandbox import SandboxPaymentGateway
from api.main import create_app
from config import Settings
from db.engine import Database
from devstack.peers.calendars import (
    GooglePeer,
    LoopbackTls,
    MicrosoftPeer,
    OAuthGrants,
    consent,
    graph_time,
    make_loopback_tls,
)
from tests.integration.api_helpers import assert_error, book, provider_with_service, sign_up
from tests.workflows.helpers import eventually
from workflows.booking import BookingWorkflow
from workflows.calendar_sync import CalendarSyncWorkflow

PUBLIC = "https://bookings.example.com"
CLIENT_ID, CLIENT_SECRET = "local-client", "local-secret"
ZONE = "America/New_York"
ANN = "ann@example.com"
OUTLOOK = "AAMkAGI2TG93AAA="


@dataclass
class Vendors:
    tls: LoopbackTls
    google: GooglePeer
    microsoft: MicrosoftPeer


@pytest.fixture
async def vendors(tmp_path: Path) -> AsyncIterator[Vendors]:
    tls = make_loopback_tls(tmp_path)
    google = GooglePeer(
        tls, OAuthGrants(CLIENT_ID, CLIENT_SECRET, f"{PUBLIC}/calendar/connections/google/callback")
    )
    microsoft = MicrosoftPeer(
        tls,
        OAuthGrants(
            CLIENT_ID,
            CLIENT_SECRET,
            f"{PUBLIC}/calendar/connections/microsoft/callback",
            rotate_refresh_tokens=True,
        ),
    )
    for peer in (google, microsoft):
        await peer.start()
    google.add_calendar(ANN, "Ann", ZONE, primary=True)
    microsoft.add_calendar(OUTLOOK, "Calendar", is_default=True)
    yield Vendors(tls, google, microsoft)
    for peer in (google, microsoft):
        await peer.close()


@pytest.fixture
async def api(
    time_skipping_env: WorkflowEnvironment, db: Database, settings: Settings, vendors: Vendors
) -> AsyncIterator[httpx.AsyncClient]:
    task_queue = f"calendars-{uuid.uuid4()}"
    configured = settings.model_copy(
        update={
            "temporal_address": time_skipping_env.client.service_client.config.target_host,
            "temporal_task_queue": task_queue,
            "public_base_url": PUBLIC,
            "google_client_id": CLIENT_ID,
            "google_client_secret": CLIENT_SECRET,
            "google_oauth_auth_uri": f"{vendors.google.secure_url}/o/oauth2/v2/auth",
            "google_oauth_token_uri": f"{vendors.google.secure_url}/token",
            "google_calendar_api_base": vendors.google.url,
            "microsoft_client_id": CLIENT_ID,
            "microsoft_client_secret": CLIENT_SECRET,
            "microsoft_authority": f"{vendors.microsoft.secure_url}/common",
            "graph_api_base": f"{vendors.microsoft.url}/v1.0",
            "calendar_oauth_ca_bundle": vendors.tls.ca_path,
        }
    )
    configured = Settings.model_validate(configured.model_dump())  # SecretStr from the strings
    accounts = CalendarAccounts.from_settings(configured, db)
    payments = SandboxPaymentGateway(db, settings.payment_webhook_secret.get_secret_value())
    mirror = BookingCalendars(db, accounts, PUBLIC)
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[CalendarSyncWorkflow, BookingWorkflow],
        activities=[
            *CalendarSyncActivities(db, accounts.open).all(),
            *BookingActivities(db, payments, calendars=mirror).all(),
        ],
    ):
        app = create_app(configured)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
                yield client


async def _connect(
    api: httpx.AsyncClient, vendors: Vendors, kind: str, provider: dict[str, str]
) -> dict[str, Any]:
    started = await api.post(f"/calendar/connections/{kind}", headers=provider)
    assert started.status_code == 201, started.text
    url = started.json()["authorization_url"]
    callback = await consent(url, vendors.tls)  # the provider consents in their browser
    # The vendor's redirect carries no sign-in of ours: only the state binds it.
    if kind == "google":
        answer = await api.get("/calendar/connections/google/callback", params=callback)
    else:
        answer = await api.post("/calendar/connections/microsoft/callback", data=callback)
    assert answer.status_code == 201, answer.text
    again = (
        await api.get("/calendar/connections/google/callback", params=callback)
        if kind == "google"
        else await api.post("/calendar/connections/microsoft/callback", data=callback)
    )
    assert_error(again, 400, "invalid_authorization_state")  # single use
    body: dict[str, Any] = answer.json()
    return body


async def _connections(api: httpx.AsyncClient, provider: dict[str, str]) -> dict[str, Any]:
    listed = (await api.get("/calendar/connections", headers=provider)).json()
    return {c["kind"]: c for c in listed}


async def test_google_and_outlook_block_time_and_a_revoked_grant_breaks_only_its_own(
    api: httpx.AsyncClient, vendors: Vendors
) -> None:
    provider, provider_id, service_id = await provider_with_service(api, timezone=ZONE)
    day = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=7)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    ten = datetime.combine(day, time(10), ZoneInfo(ZONE))
    three = datetime.combine(day, time(15), ZoneInfo(ZONE))
    vendors.google.put(
        ANN,
        {
            "id": "dentist",
            "start": {"dateTime": ten.isoformat()},
            "end": {"dateTime": (ten + timedelta(hours=1)).isoformat()},
        },
    )
    vendors.microsoft.put(
        OUTLOOK,
        {"id": "review", "start": graph_time(three), "end": graph_time(three + timedelta(hours=1))},
    )

    google = await _connect(api, vendors, "google", provider)
    assert (google["account"], google["blocking_calendars"]) == (ANN, [ANN])
    outlook = await _connect(api, vendors, "microsoft", provider)
    assert outlook["blocking_calendars"] == [OUTLOOK]
    assert "access_token" not in str(google) + str(outlook)

    async def free() -> set[datetime]:
        answer = await api.get(
            f"/providers/{provider_id}/availability",
            params={"service_id": service_id, "from": day.isoformat(), "to": day.isoformat()},
        )
        return {datetime.fromisoformat(slot["start"]) for slot in answer.json()["slots"]}

    slots = await eventually(free, lambda s: ten not in s and three not in s, within=30)
    assert ten not in slots and three not in slots, sorted(slots)
    assert datetime.combine(day, time(11), ZoneInfo(ZONE)) in slots

    # Google's grant is revoked: that connection breaks, with the reason; Outlook syncs on.
    vendors.google.grants.revoke()
    vendors.google.grants.expire_access_tokens()
    synced = (await _connections(api, provider))["microsoft"]["last_synced_at"]
    assert (await api.post("/calendar/sync/initiate", headers=provider)).json() == {
        "connections": 2
    }
    state = await eventually(
        lambda: _connections(api, provider),
        lambda c: c["google"]["status"] == "broken" and c["microsoft"]["last_synced_at"] != synced,
        within=30,
    )
    assert state["google"]["status"] == "broken", state
    assert "invalid_grant" in (state["google"]["broken_reason"] or ""), state
    assert state["microsoft"]["status"] == "active" and state["microsoft"]["last_error"] is None
    # Only active connections are asked to sync now.
    assert (await api.post("/calendar/sync/initiate", headers=provider)).json() == {
        "connections": 1
    }


async def test_an_unconfigured_vendor_and_an_unknown_state_are_refused(
    api: httpx.AsyncClient,
) -> None:
    provider, _, _ = await provider_with_service(api, timezone=ZONE)
    forged = await api.get(
        "/calendar/connections/google/callback", params={"state": "forged", "code": "x"}
    )
    assert_error(forged, 400, "invalid_authorization_state")
    unknown = await api.post("/calendar/connections/yahoo", headers=provider)
    assert unknown.status_code == 422, unknown.text


async def test_a_booking_is_written_to_google_and_outlook_and_removed_on_cancel(
    api: httpx.AsyncClient, vendors: Vendors
) -> None:
    provider, _, service_id = await provider_with_service(api, timezone=ZONE)
    await _connect(api, vendors, "google", provider)
    await _connect(api, vendors, "microsoft", provider)
    day = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=7)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    ten = datetime.combine(day, time(10), ZoneInfo(ZONE))
    customer = await sign_up(api)
    booking = await book(api, customer, service_id, ten)
    paid = await api.post(
        f"/sandbox/payments/{booking['payment']['intent_id']}/succeed", headers=customer
    )
    assert paid.status_code == 200, paid.text
    ours = event_name(uuid.UUID(booking["id"]))
    google_events = vendors.google.calendars[ANN].events
    outlook_events = vendors.microsoft.calendars[OUTLOOK].events

    async def written() -> tuple[bool, bool]:
        in_outlook = any(e.get("transactionId") == ours for e in outlook_events.values())
        return ours in google_events, in_outlook

    both = await eventually(written, lambda found: all(found), within=30)
    assert both == (True, True), (list(google_events), list(outlook_events.values()))
    assert google_events[ours]["start"]["dateTime"].startswith(ten.strftime("%Y-%m-%dT"))

    cancelled = await api.put(f"/appointments/{booking['id']}/cancel", json={}, headers=customer)
    assert cancelled.status_code in (200, 202), cancelled.text

    async def removed() -> tuple[bool, bool]:
        in_google = google_events.get(ours, {}).get("status", "cancelled") != "cancelled"
        in_outlook = any(e.get("transactionId") == ours for e in outlook_events.values())
        return in_google, in_outlook

    gone = await eventually(removed, lambda found: not any(found), within=30)
    assert gone == (False, False), gone
