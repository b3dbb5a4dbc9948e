"""Failed logins in a row: a growing wait, then a lock that always ends on time."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
from sqlalchemy import select, update

from config import Settings
from db.engine import Database
from db.models import AuditEntry, User
from tests.integration.api_helpers import PASSWORD, assert_error, sign_up
from tests.integration.limit_helpers import serve, with_limits

# Waits after the 3rd and 4th failure (1 s, 2 s), a lock at the 5th.
BACKOFF = {"login_backoff_after": 3, "login_lock_after": 5, "login_lock_minutes": 15}


async def _account(http: httpx.AsyncClient) -> tuple[str, UUID]:
    headers = await sign_up(http)
    me = (await http.get("/auth/me", headers=headers)).json()
    return me["email"], UUID(me["id"])


async def _login(http: httpx.AsyncClient, email: str, password: str = "wrong") -> httpx.Response:
    return await http.post("/auth/login", data={"username": email, "password": password})


async def _throttle(db: Database, user_id: UUID) -> tuple[int, datetime | None]:
    async with db.session() as session:
        row = (
            await session.execute(
                select(User.failed_logins, User.login_retry_at).where(User.id == user_id)
            )
        ).one()
    return row[0], row[1]


async def _wait_is_over(db: Database, user_id: UUID) -> None:
    """As if the wait had passed: its end moved into the past, instead of sleeping through it."""
    async with db.session() as session, session.begin():
        await session.execute(
            update(User)
            .where(User.id == user_id)
            .values(login_retry_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def _must_wait(response: httpx.Response, *, at_least: int, at_most: int) -> None:
    assert_error(response, 429, "login_backoff")
    assert at_least <= int(response.headers["Retry-After"]) <= at_most, response.headers


async def test_failures_back_off_then_lock_and_the_lock_ends_on_time(
    settings: Settings, db: Database
) -> None:
    async with serve(with_limits(settings, **BACKOFF)) as http:
        email, user_id = await _account(http)
        for _ in range(2):
            assert_error(await _login(http, email), 401, "invalid_credentials")
        third = await _login(http, email)
        assert_error(third, 401, "invalid_credentials")
        assert third.headers["Retry-After"] == "1"

        # Within the wait even the right password is refused, unchecked and uncounted.
        _must_wait(await _login(http, email, PASSWORD), at_least=1, at_most=1)
        _must_wait(await _login(http, email), at_least=1, at_most=1)
        assert (await _throttle(db, user_id))[0] == 3

        await _wait_is_over(db, user_id)
        fourth = await _login(http, email)
        assert_error(fourth, 401, "invalid_credentials")
        assert fourth.headers["Retry-After"] == "2"

        await _wait_is_over(db, user_id)
        fifth = await _login(http, email)
        assert_error(fifth, 401, "invalid_credentials")
        assert 899 <= int(fifth.headers["Retry-After"]) <= 900
        failures, locked_until = await _throttle(db, user_id)
        assert failures == 5 and locked_until is not None

        # Tries during the lock, right or wrong, neither count nor push its end out.
        for password in ("wrong", PASSWORD, "wrong"):
            _must_wait(await _login(http, email, password), at_least=1, at_most=900)
        assert await _throttle(db, user_id) == (5, locked_until)

        await _wait_is_over(db, user_id)
        assert (await _login(http, email, PASSWORD)).status_code == 200
        assert await _throttle(db, user_id) == (0, None)


async def test_a_lock_writes_one_audit_entry(settings: Settings, db: Database) -> None:
    async with serve(with_limits(settings, **BACKOFF)) as http:
        email, user_id = await _account(http)
        for _ in range(5):
            await _wait_is_over(db, user_id)
            assert (await _login(http, email)).status_code == 401
    async with db.session() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.account_id == user_id))
        ).all()
    locks = [entry for entry in entries if entry.action == "account.login_locked"]
    assert len(locks) == 1, [entry.action for entry in entries]
    assert locks[0].actor_role == "anonymous"
    assert json.loads(locks[0].detail)["failed_logins"] == 5


async def test_after_a_lock_the_count_starts_again(settings: Settings, db: Database) -> None:
    async with serve(with_limits(settings, **BACKOFF)) as http:
        email, user_id = await _account(http)
        for _ in range(5):
            await _wait_is_over(db, user_id)
            await _login(http, email)
        await _wait_is_over(db, user_id)
        # The lock is over: one more failure starts a new run, not another lock.
        again = await _login(http, email)
        assert_error(again, 401, "invalid_credentials")
        assert "Retry-After" not in again.headers
        assert (await _throttle(db, user_id))[0] == 1


async def test_a_success_resets_the_count(settings: Settings, db: Database) -> None:
    async with serve(with_limits(settings, **BACKOFF)) as http:
        email, user_id = await _account(http)
        for _ in range(2):
            await _login(http, email)
        assert (await _login(http, email, PASSWORD)).status_code == 200
        assert await _throttle(db, user_id) == (0, None)
        assert (await _login(http, email)).status_code == 401
        assert (await _throttle(db, user_id))[0] == 1


async def test_an_unknown_email_fails_exactly_as_a_known_one(settings: Settings) -> None:
    """Otherwise the backoff would tell who has an account: the same statuses, codes and waits,
    try by try, for an account's wrong password and for an address no account has."""

    async def answers(http: httpx.AsyncClient, email: str) -> list[tuple[int, str, str | None]]:
        seen = []
        for _ in range(5):
            response = await _login(http, email)
            seen.append(
                (response.status_code, response.json()["code"], response.headers.get("Retry-After"))
            )
        return seen

    unknown = f"nobody-{uuid.uuid4().hex}@example.com"
    async with serve(with_limits(settings, **BACKOFF)) as http:
        email, _ = await _account(http)
        known_answers = await answers(http, email)
        unknown_answers = await answers(http, unknown)
    assert unknown_answers == known_answers
    # 401, 401, 401 starting a 1 s wait, then refused within it: the backoff did start.
    assert [code for _, code, _ in known_answers[:3]] == ["invalid_credentials"] * 3
    assert known_answers[2][2] == "1" and known_answers[3][:2] == (429, "login_backoff")


async def test_the_51st_wrong_password_in_a_row_is_429(settings: Settings, db: Database) -> None:
    """The issue's check, with the limits `make dev` runs with (all defaults, limits on)."""
    defaults = settings.model_copy(update={"rate_limits_enabled": True})
    async with serve(defaults) as http:
        email, user_id = await _account(http)
        answers = [(await _login(http, email)).status_code for _ in range(51)]
    assert answers[:5] == [401] * 5, answers
    assert answers[50] == 429, answers
    assert (await _throttle(db, user_id))[0] >= 5
