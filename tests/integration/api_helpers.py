from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx

PASSWORD = "correct horse battery"


async def sign_up(
    api: httpx.AsyncClient, *, role: str = "customer", **extra: Any
) -> dict[str, str]:
    """Register and log in a fresh account; returns the Authorization header."""
    email = f"{role}-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": PASSWORD, "full_name": "Pat Doe", "role": role}
    response = await api.post("/auth/register", json=body | extra)
    assert response.status_code == 201, response.text
    login = await api.post("/auth/login", data={"username": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def book(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    service_id: object,
    start: datetime,
    **fields: Any,
) -> dict[str, Any]:
    """POST /appointments as the signed-in customer; the booking it made (201)."""
    response = await api.post(
        "/appointments",
        json={"service_id": str(service_id), "start": start.isoformat(), **fields},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    booking: dict[str, Any] = response.json()
    return booking


async def provider_with_service(
    api: httpx.AsyncClient,
    *,
    timezone: str = "America/New_York",
    hours: dict[str, list[dict[str, str]]] | None = None,
    auto_confirm: bool = True,
    **service: Any,
) -> tuple[dict[str, str], str, str]:
    """A provider set up entirely through the API: (headers, provider id, service id)."""
    headers = await sign_up(api, role="provider", timezone=timezone)
    weekdays = ("monday", "tuesday", "wednesday", "thursday", "friday")
    lunch_break = [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
    week = hours if hours is not None else {day: lunch_break for day in weekdays}
    assert (await api.put("/providers/me/working-hours", json=week, headers=headers)).is_success
    if not auto_confirm:
        patched = await api.patch("/providers/me", json={"auto_confirm": False}, headers=headers)
        assert patched.status_code == 200, patched.text
    fields = {
        "name": "Consultation",
        "duration_minutes": 60,
        "price": {"amount": 8000, "currency": "USD"},
        "horizon_days": 365,
    } | service
    created = await api.post("/providers/me/services", json=fields, headers=headers)
    assert created.status_code == 201, created.text
    me = (await api.get("/providers/me", headers=headers)).json()
    return headers, me["id"], created.json()["id"]


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"], body
    return body


@asynccontextmanager
async def api_without_temporal(api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The same app and database as `api`, with its Temporal address pointing at nothing."""
    from api.main import create_app
    from devstack.processes import free_port

    settings = api._transport.app.state.services.settings  # type: ignore[attr-defined]
    down = create_app(settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"}))
    async with down.router.lifespan_context(down):
        transport = httpx.ASGITransport(app=down)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client
