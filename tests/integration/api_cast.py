"""The people the API-wide tests act as, each with resources of their own, made through the API:
two customers, two providers with a service each, an admin, and a paid booking of customer A
with provider A (with its invite and its confirmation email)."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import SecretStr

from api.main import create_app
from config import Settings
from contract.calendars import CalendarKind
from db import calendar_connections
from db.create_admin import create_admin
from tests.integration.api_helpers import PASSWORD, book, provider_with_service, sign_up

NEW_YORK = ZoneInfo("America/New_York")
ADMIN_PASSWORD = "a very long admin password"
# As production should be: vendors' webhooks configured, so a request reaches the signature
# check, and /metrics behind its scraper's token. Rate limits off: no answer is a 429.
CONFIGURED: dict[str, Any] = {
    "metrics_token": SecretStr("scraper-token"),
    "twilio_auth_token": SecretStr("twilio-test-auth-token"),
    "sendgrid_webhook_public_key": base64.b64encode(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).decode(),
    "rate_limits_enabled": False,
    # httpx's ASGI transport hands over an answer only once it is complete: the live stream
    # (GET /providers/{id}/availability/events) ends at once here, so each request gets one.
    "availability_stream_seconds": 0.05,
}
# Routes that erase the caller: each request needs an account of its own.
ERASES_THE_CALLER = frozenset({("DELETE", "/users/me")})


@asynccontextmanager
async def api_with(api: httpx.AsyncClient, **update: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The same database and Temporal as `api`, in an app built with these settings changed."""
    settings: Settings = api._transport.app.state.services.settings  # type: ignore[attr-defined]
    app = create_app(settings.model_copy(update=update))
    async with app.router.lifespan_context(app):
        # A bug answers 500 here, as it would to a client, instead of raising in the test.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


def weekday_start(slot: int) -> datetime:
    """A distinct free start (a weekday hour in provider_with_service's hours) per slot number."""
    hours = (9, 10, 11, 13, 14, 15, 16)
    day = (datetime.now(NEW_YORK) + timedelta(days=14)).date()
    for _ in range(slot // len(hours) + 1):
        day += timedelta(days=1)
        while day.weekday() > 4:
            day += timedelta(days=1)
    return datetime.combine(day, time(hours[slot % len(hours)]), NEW_YORK)


async def sign_in_admin(api: httpx.AsyncClient) -> dict[str, str]:
    db = api._transport.app.state.services.db  # type: ignore[attr-defined]
    email = f"admin-{uuid.uuid4().hex[:12]}@example.com"
    await create_admin(db, email, ADMIN_PASSWORD)
    login = await api.post("/auth/login", data={"username": email, "password": ADMIN_PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


@dataclass
class Cast:
    """Who calls, by column name, and the ids of customer A's and provider A's resources."""

    callers: dict[str, dict[str, str]]
    ids: dict[str, str]
    customer_email: str
    slots_used: int = 0

    def next_start(self) -> str:
        self.slots_used += 1
        return weekday_start(self.slots_used).isoformat()

    async def fresh(self, api: httpx.AsyncClient, caller: str) -> dict[str, str]:
        """A new account of the caller's kind, for a request that erases its caller."""
        if caller == "anonymous":
            return {}
        if caller == "admin":
            return await sign_in_admin(api)
        if caller.startswith("provider"):
            return (await provider_with_service(api))[0]
        return await sign_up(api)


async def _until(probe: Any, what: str, seconds: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        found = await probe()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, f"no {what} after {seconds} s"
        await asyncio.sleep(0.1)


async def make_cast(api: httpx.AsyncClient) -> Cast:
    """Everyone the tests act as; customer A's booking with provider A is paid and confirmed."""
    email = f"customer-{uuid.uuid4().hex[:12]}@example.com"
    registered = await api.post(
        "/auth/register",
        json={"email": email, "password": PASSWORD, "full_name": "Pat Doe", "role": "customer"},
    )
    assert registered.status_code == 201, registered.text
    login = await api.post("/auth/login", data={"username": email, "password": PASSWORD})
    customer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    provider, provider_id, service_id = await provider_with_service(api)
    other_provider, other_provider_id, other_service_id = await provider_with_service(api)
    cast = Cast(
        callers={
            "anonymous": {},
            "customer": customer,
            "other_customer": await sign_up(api),
            "provider": provider,
            "other_provider": other_provider,
            "admin": await sign_in_admin(api),
        },
        ids={
            "provider_id": provider_id,
            "service_id": service_id,
            "other_provider_id": other_provider_id,
            "other_service_id": other_service_id,
        },
        customer_email=email,
    )
    booking = await book(api, customer, service_id, datetime.fromisoformat(cast.next_start()))
    intent = booking["payment"]["intent_id"]
    paid = await api.post(f"/sandbox/payments/{intent}/succeed", headers=customer)
    assert paid.status_code == 200 and paid.json()["booking"]["status"] == "confirmed", paid.text
    cast.ids |= {"appointment_id": booking["id"], "intent_id": intent}

    async def invite_sent() -> bool:
        ics = await api.get(f"/appointments/{booking['id']}/calendar.ics", headers=customer)
        return ics.status_code == 200

    async def email_with_invite() -> str | None:
        listed = await api.get("/users/me/notifications", headers=customer)
        assert listed.status_code == 200, listed.text
        return next(
            (m["id"] for m in listed.json()["data"] if m["channel"] == "email" and m["ics"]),
            None,
        )

    await _until(invite_sent, "invite")
    cast.ids["notification_id"] = await _until(email_with_invite, "confirmation email")
    services = api._transport.app.state.services  # type: ignore[attr-defined]
    connection = await calendar_connections.connect(
        services.db,
        provider_id=uuid.UUID(provider_id),
        kind=CalendarKind.CALDAV,
        account="pat@example.com",
        # Nothing listens there: reading the calendars answers 503, after authorization.
        secret=services.calendars.seal({"username": "pat", "password": "app-password"}),
        server_url="http://127.0.0.1:9/dav/",
        now=datetime.now(UTC),
    )
    cast.ids["connection_id"] = str(connection.id)
    return cast
