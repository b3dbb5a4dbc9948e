"""A database or Temporal that cannot be reached answers 503 with Retry-After, never 500."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from temporalio.service import RPCError, RPCStatusCode

from api.errors import dependency_failure
from api.main import create_app
from api.security import create_access_token
from config import Settings
from devstack.processes import free_port
from tests.conftest import make_settings
from tests.integration.api_helpers import assert_error, provider_with_service, sign_up


def _unreachable_temporal() -> str:
    return f"127.0.0.1:{free_port()}"


@pytest.fixture
async def no_database() -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    """The app on a PostgreSQL URL where nothing listens, and a Temporal where nothing listens."""
    settings = make_settings(
        f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere",
        temporal_address=_unreachable_temporal(),
    )
    async with _serve(create_app(settings)) as client:
        yield client, settings


@pytest.fixture
async def no_temporal(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the test database, with a Temporal address where nothing listens."""
    app = create_app(settings.model_copy(update={"temporal_address": _unreachable_temporal()}))
    async with _serve(app) as client:
        yield client


@asynccontextmanager
async def _serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


def _assert_unavailable(response: httpx.Response, code: str) -> None:
    assert_error(response, 503, code)
    assert response.headers["Retry-After"] == "5", response.headers


async def test_a_database_that_cannot_be_reached_answers_503(
    no_database: tuple[httpx.AsyncClient, Settings],
) -> None:
    api, settings = no_database
    token = create_access_token(uuid.uuid4(), "customer", settings)
    signed_in = {"Authorization": f"Bearer {token}"}

    _assert_unavailable(await api.get("/auth/me", headers=signed_in), "database_unavailable")
    _assert_unavailable(
        await api.get("/users/me/appointments", headers=signed_in), "database_unavailable"
    )
    _assert_unavailable(await api.get("/providers"), "database_unavailable")
    _assert_unavailable(
        await api.get(f"/providers/{uuid.uuid4()}/availability?service_id={uuid.uuid4()}"),
        "database_unavailable",
    )
    login = await api.post("/auth/login", data={"username": "a@example.com", "password": "x"})
    _assert_unavailable(login, "database_unavailable")


async def test_health_stays_up_and_ready_names_what_is_down(
    no_database: tuple[httpx.AsyncClient, Settings],
) -> None:
    api, _ = no_database
    assert (await api.get("/health")).status_code == 200
    ready = await api.get("/ready")
    assert ready.status_code == 503
    assert ready.headers["Retry-After"] == "5"
    body = ready.json()
    assert body["status"] == "not_ready"
    assert body["database"].startswith("unreachable"), body
    assert body["temporal"].startswith("unreachable"), body


async def test_booking_while_temporal_is_down_answers_503(no_temporal: httpx.AsyncClient) -> None:
    api = no_temporal
    ready = await api.get("/ready")
    assert ready.status_code == 503, ready.text
    assert ready.json()["database"] == "ok"
    assert ready.json()["temporal"].startswith("unreachable"), ready.json()

    _, provider, service = await provider_with_service(api)
    customer = await sign_up(api)
    day = datetime.now(UTC).date() + timedelta(days=1)
    slots = await api.get(
        f"/providers/{provider}/availability",
        params={"service_id": service, "from": str(day), "to": str(day + timedelta(days=7))},
    )
    start = slots.json()["slots"][0]["start"]
    booked = await api.post(
        "/appointments", json={"service_id": service, "start": start}, headers=customer
    )
    assert booked.status_code == 503, booked.text
    assert booked.json()["code"] == "booking_engine_unavailable"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (RPCError("down", RPCStatusCode.UNAVAILABLE, b""), "booking_engine_unavailable"),
        (RPCError("slow", RPCStatusCode.DEADLINE_EXCEEDED, b""), "booking_engine_unavailable"),
        (RuntimeError("Failed client connect: refused"), "booking_engine_unavailable"),
        (ConnectionRefusedError(111, "refused"), "database_unavailable"),
        (TimeoutError(), "database_unavailable"),
    ],
)
def test_dependency_failures_map_to_503(error: Exception, code: str) -> None:
    found = dependency_failure(error)
    assert found is not None and found.code == code and found.status_code == 503


@pytest.mark.parametrize(
    "error",
    [
        RPCError("bad", RPCStatusCode.INVALID_ARGUMENT, b""),
        RuntimeError("a bug"),
        ValueError("a bug"),
    ],
)
def test_bugs_are_not_dependency_failures(error: Exception) -> None:
    assert dependency_failure(error) is None
