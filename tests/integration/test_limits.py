"""Rate limits over HTTP (the N+1st request is 429 with Retry-After, and the window frees), in
memory and in Redis, and the cap on one customer's open unpaid holds."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta

import httpx
import pytest
import redis.asyncio
from limits import parse_many
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.booking import BookingActivities
from activities.payments.sandbox import SandboxPaymentGateway
from api.errors import APIError
from api.rate_limiter import RateLimiter, Rule
from config import Settings
from contract.messages import HoldRequest
from db import holds
from db.engine import Database
from db.hold_cap import TooManyHolds
from devstack.processes import free_port
from tests.factories import (
    ProviderFixture,
    future_local,
    hold_request,
    make_customer,
    make_provider,
)
from tests.integration.api_helpers import PASSWORD, assert_error, sign_up
from tests.integration.limit_helpers import (
    assert_rate_limited,
    serve,
    serve_from,
    with_limits,
)
from workflows.booking import BookingWorkflow
from workflows.late_payment import LatePaymentRefund

REDIS = "redis://127.0.0.1:6379/15"
SHORT = "3/2 second"


def _address() -> str:
    """A client address of its own, so no other test (or run) shares its windows."""
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


async def _login(http: httpx.AsyncClient, username: str, password: str = "wrong") -> int:
    response = await http.post("/auth/login", data={"username": username, "password": password})
    return response.status_code


async def test_the_fourth_login_from_one_address_is_429_until_the_window_frees(
    settings: Settings,
) -> None:
    limited = with_limits(settings, rate_limit_login_ip=SHORT)
    async with serve_from(limited, "10.0.0.1", "10.0.0.2") as (http, other):
        for _ in range(3):
            assert await _login(http, f"{uuid.uuid4().hex}@example.com") == 401
        refused = await http.post("/auth/login", data={"username": "x@x.com", "password": "y"})
        retry_after = assert_rate_limited(refused, within=2)
        assert await _login(other, "x@example.com") == 401

        await asyncio.sleep(retry_after + 0.1)
        assert await _login(http, "x@example.com") == 401


async def test_logins_for_one_account_are_limited_from_every_address(
    settings: Settings,
) -> None:
    limited = with_limits(settings, rate_limit_login_account=SHORT)
    async with serve_from(limited, "127.0.0.1", "10.0.1.1", "10.0.1.2") as (http, first, second):
        headers = await sign_up(http)
        email = (await http.get("/auth/me", headers=headers)).json()["email"]
        # The sign-up's own login counted: two more from anywhere, in any letter case.
        assert await _login(first, email.upper()) == 401
        assert await _login(second, email, PASSWORD) == 200
        refused = await first.post("/auth/login", data={"username": email, "password": PASSWORD})
        assert_rate_limited(refused, within=2)
        # Another account from the same address is not affected.
        assert await _login(first, f"{uuid.uuid4().hex}@example.com") == 401


async def test_registrations_are_limited_per_address(settings: Settings) -> None:
    limited = with_limits(settings, rate_limit_register_ip="2/minute")
    async with serve_from(limited, "10.0.2.1", "10.0.2.2") as (http, other):
        await sign_up(http)
        await sign_up(http)
        body = {"email": "late@example.com", "password": PASSWORD, "full_name": "Pat Doe"}
        assert_rate_limited(await http.post("/auth/register", json=body), within=60)
        await sign_up(other)


async def test_bookings_are_limited_per_customer(settings: Settings) -> None:
    async with serve(with_limits(settings, rate_limit_booking_customer="2/minute")) as http:
        customer, other = await sign_up(http), await sign_up(http)
        # An unknown service answers 404, and still counts: it is a request all the same.
        request = {"service_id": str(uuid.uuid4()), "start": "2030-01-07T10:00:00+00:00"}
        for _ in range(2):
            unknown = await http.post("/appointments", json=request, headers=customer)
            assert_error(unknown, 404, "service_not_found")
        assert_rate_limited(
            await http.post("/appointments", json=request, headers=customer), within=60
        )
        assert (await http.post("/appointments", json=request, headers=other)).status_code == 404
        # Anonymous requests are refused before they count against anybody.
        assert (await http.post("/appointments", json=request)).status_code == 401


async def test_search_and_availability_share_one_window_per_address(settings: Settings) -> None:
    limited = with_limits(settings, rate_limit_search_ip=SHORT)
    async with serve_from(limited, "10.0.3.1", "10.0.3.2") as (http, other):
        assert (await http.get("/providers")).status_code == 200
        availability = f"/providers/{uuid.uuid4()}/availability?service_id={uuid.uuid4()}"
        assert (await http.get(availability)).status_code == 404
        assert (await http.get("/providers")).status_code == 200
        assert_rate_limited(await http.get(availability), within=2)
        assert_rate_limited(await http.get("/providers"), within=2)
        assert (await other.get("/providers")).status_code == 200


async def test_webhooks_are_never_rate_limited(settings: Settings) -> None:
    tight = {
        name: "1/minute"
        for name in (
            "rate_limit_login_ip",
            "rate_limit_register_ip",
            "rate_limit_search_ip",
            "rate_limit_booking_customer",
        )
    }
    async with serve(with_limits(settings, **tight)) as http:
        for _ in range(5):
            answer = await http.post("/payments/webhook", content=b"{}")
            assert answer.status_code == 400, answer.text
            status = await http.post("/notifications/twilio/status", data={"MessageSid": "SM1"})
            assert status.status_code != 429, status.text


async def test_limits_turned_off_let_everything_through(settings: Settings) -> None:
    off = with_limits(settings, rate_limits_enabled=False, rate_limit_login_ip="1/minute")
    async with serve(off) as http:
        for _ in range(5):
            assert await _login(http, f"nobody-{uuid.uuid4().hex}@example.com") == 401


@pytest.fixture
async def redis_keys() -> AsyncIterator[list[str]]:
    """Addresses whose Redis windows the test leaves behind, deleted afterwards."""
    addresses: list[str] = []
    yield addresses
    async with redis.asyncio.Redis.from_url(REDIS) as connection:
        for address in addresses:
            hashed = hashlib.blake2b(address.encode(), digest_size=16).hexdigest()
            async for key in connection.scan_iter(match=f"*{hashed}*"):
                await connection.delete(key)


async def test_redis_windows_refuse_the_fourth_and_free_again(
    settings: Settings, redis_keys: list[str]
) -> None:
    address = _address()
    redis_keys.append(address)
    limited = with_limits(settings, rate_limit_storage=REDIS, rate_limit_login_ip=SHORT)
    # Two replicas of the API share one Redis: the window is theirs together.
    async with (
        serve(limited, address) as first,
        serve(limited, address) as second,
    ):
        assert await _login(first, "a@example.com") == 401
        assert await _login(second, "b@example.com") == 401
        assert await _login(first, "c@example.com") == 401
        retry_after = assert_rate_limited(
            await second.post("/auth/login", data={"username": "d@x.com", "password": "y"}),
            within=2,
        )
        await asyncio.sleep(retry_after + 0.1)
        assert await _login(second, "d@example.com") == 401


async def test_the_limiter_on_redis_counts_under_its_own_prefix() -> None:
    prefix = f"test-limits-{uuid.uuid4().hex}"
    limiter = RateLimiter.from_url(
        REDIS, {Rule.SEARCH_IP: parse_many("2/2 second")}, key_prefix=prefix
    )
    try:
        await limiter.check(Rule.SEARCH_IP, "10.9.9.9")
        await limiter.check(Rule.SEARCH_IP, "10.9.9.9")
        with pytest.raises(APIError) as refused:
            await limiter.check(Rule.SEARCH_IP, "10.9.9.9")
        assert refused.value.status_code == 429
        assert refused.value.headers is not None
        await asyncio.sleep(int(refused.value.headers["Retry-After"]) + 0.1)
        await limiter.check(Rule.SEARCH_IP, "10.9.9.9")
    finally:
        await limiter.aclose()
        async with redis.asyncio.Redis.from_url(REDIS) as connection:
            async for key in connection.scan_iter(match=f"{prefix}*"):
                await connection.delete(key)


async def test_a_redis_that_is_down_lets_requests_through(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    down = with_limits(
        settings,
        rate_limit_storage=f"redis://127.0.0.1:{free_port()}/0",
        rate_limit_login_ip="1/minute",
    )
    unknown = f"nobody-{uuid.uuid4().hex}@example.com"
    with caplog.at_level(logging.WARNING, logger="booking.limits"):
        async with serve(down) as http:
            for _ in range(3):
                assert await _login(http, unknown) == 401
    warnings = [r for r in caplog.records if r.name == "booking.limits"]
    assert len(warnings) == 1, warnings
    assert "unlimited" in warnings[0].getMessage()


# --- The cap on open unpaid holds: counted in the hold's own transaction.


async def test_a_fourth_open_unpaid_hold_is_refused_in_the_database(db: Database) -> None:
    provider = await make_provider(db)
    customer = await make_customer(db)
    now = datetime.now(UTC)
    starts = [future_local(provider.timezone, days_ahead=20, at=time(h)) for h in (9, 10, 11, 13)]
    deadline = now + timedelta(minutes=15)
    for start in starts[:3]:
        request = hold_request(provider, customer, start, payment_deadline=deadline)
        await holds.hold_slot(db, request, now=now, max_open_holds=3)
    fourth = hold_request(provider, customer, starts[3], payment_deadline=deadline)
    with pytest.raises(TooManyHolds, match="3 unpaid bookings on hold"):
        await holds.hold_slot(db, fourth, now=now, max_open_holds=3)
    # Another customer is not affected; nor is this one once the holds have lapsed.
    other = hold_request(provider, await make_customer(db), starts[3], payment_deadline=deadline)
    await holds.hold_slot(db, other, now=now, max_open_holds=3)
    later = deadline + timedelta(seconds=1)
    after = future_local(provider.timezone, days_ahead=21, at=time(9))
    lapsed = hold_request(provider, customer, after, payment_deadline=later + timedelta(minutes=15))
    await holds.hold_slot(db, lapsed, now=later, max_open_holds=3)


@pytest.fixture
async def capped_api(
    time_skipping_env: WorkflowEnvironment, db: Database, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """The app and a worker whose settings cap open unpaid holds at 3, the default."""
    payments = SandboxPaymentGateway(db, settings.payment_webhook_secret.get_secret_value())
    task_queue = f"bookings-{uuid.uuid4()}"
    worker = Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[BookingWorkflow, LatePaymentRefund],
        activities=BookingActivities(db, payments, max_open_holds=3).all(),
    )
    app_settings = settings.model_copy(
        update={
            "temporal_address": time_skipping_env.client.service_client.config.target_host,
            "temporal_task_queue": task_queue,
        }
    )
    async with worker, serve(app_settings) as http:
        yield http


async def test_a_fourth_unpaid_hold_by_one_customer_is_409_too_many_holds(
    capped_api: httpx.AsyncClient, db: Database
) -> None:
    api = capped_api
    provider = await make_provider(db)
    customer = await sign_up(api)

    def booking(hour: int) -> dict[str, str]:
        start = future_local(provider.timezone, days_ahead=30, at=time(hour))
        return {"service_id": str(provider.service_id), "start": start.isoformat()}

    made = []
    for hour in (9, 10, 11):
        answer = await api.post("/appointments", json=booking(hour), headers=customer)
        assert answer.status_code == 201, answer.text
        assert answer.json()["status"] == "awaiting_payment"
        made.append(answer.json()["id"])

    refused = assert_error(
        await api.post("/appointments", json=booking(13), headers=customer), 409, "too_many_holds"
    )
    assert "unpaid" in refused["detail"], refused

    other = await api.post("/appointments", json=booking(14), headers=await sign_up(api))
    assert other.status_code == 201, other.text

    cancelled = await api.put(f"/appointments/{made[0]}/cancel", headers=customer)
    assert cancelled.status_code == 200, cancelled.text
    again = await api.post("/appointments", json=booking(13), headers=customer)
    assert again.status_code == 201, again.text


async def test_concurrent_holds_of_one_customer_cannot_both_pass_the_cap(db: Database) -> None:
    # At different providers, so the provider's row lock does not already make them take turns.
    providers = [await make_provider(db) for _ in range(6)]
    customer = await make_customer(db)
    now = datetime.now(UTC)

    def request(provider: ProviderFixture, hour: int) -> HoldRequest:
        start = future_local(provider.timezone, days_ahead=22, at=time(hour))
        return hold_request(provider, customer, start)

    await holds.hold_slot(db, request(providers[0], 9), now=now, max_open_holds=2)
    # Connections opened first, so the racing holds start together.
    await asyncio.gather(*(_hold_a_connection(db) for _ in range(5)))
    results = await asyncio.gather(
        *(holds.hold_slot(db, request(p, 10), now=now, max_open_holds=2) for p in providers[1:]),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, TooManyHolds)]
    assert len(refused) == 4, results


async def _hold_a_connection(db: Database) -> None:
    async with db.session() as session:
        await session.execute(select(1))
        await asyncio.sleep(0.1)
