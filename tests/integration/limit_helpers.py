"""The real app served in-process for the abuse-limit tests, called from chosen client addresses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI

from api.main import create_app
from config import Settings
from devstack.processes import free_port

# Far beyond what a test sends: the limits a test is not about.
NEVER_REACHED = "100000/minute"
LIMITS_OFF_THE_WAY = {
    "rate_limit_login_account": NEVER_REACHED,
    "rate_limit_login_ip": NEVER_REACHED,
    "rate_limit_register_ip": NEVER_REACHED,
    "rate_limit_booking_customer": NEVER_REACHED,
    "rate_limit_search_ip": NEVER_REACHED,
}


def with_limits(settings: Settings, **overrides: object) -> Settings:
    """The test settings with rate limits on: `overrides` set the ones a test is about."""
    return settings.model_copy(
        update={
            "rate_limits_enabled": True,
            # Nothing here needs the booking engine; nothing listens there.
            "temporal_address": f"127.0.0.1:{free_port()}",
            **LIMITS_OFF_THE_WAY,
            **overrides,
        }
    )


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def client(
    app: FastAPI, ip: str = "127.0.0.1", base_url: str = "http://api.test"
) -> httpx.AsyncClient:
    """A client of `app` whose requests come from `ip`."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 40000)), base_url=base_url
    )


@asynccontextmanager
async def serve(settings: Settings, ip: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    async with running(settings) as app, client(app, ip) as http:
        yield http


@asynccontextmanager
async def serve_from(settings: Settings, *ips: str) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """One app, and a client of it from each address."""
    async with running(settings) as app, AsyncExitStack() as stack:
        yield tuple([await stack.enter_async_context(client(app, ip)) for ip in ips])


def assert_rate_limited(response: httpx.Response, *, within: int) -> int:
    """A 429 `rate_limited` whose Retry-After is 1 to `within` seconds; returns it."""
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "rate_limited", response.json()
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= within, retry_after
    return retry_after
