"""A newcomer's first hour: the README's steps answer helpfully, never with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx
import pytest

from config import Settings
from devstack.processes import ROOT
from tests.integration.api_helpers import PASSWORD, assert_error, sign_up


async def test_login_with_json_says_a_form_is_expected(api: httpx.AsyncClient) -> None:
    body = {"username": "someone@example.com", "password": PASSWORD}
    answer = assert_error(await api.post("/auth/login", json=body), 422, "form_expected")
    assert "application/x-www-form-urlencoded" in answer["detail"]
    assert "username" in answer["detail"] and "password" in answer["detail"]
    missing = await api.post("/auth/login", data={"username": "someone@example.com"})
    assert_error(missing, 422, "validation_error")


async def test_setting_monday_answers_the_whole_week(api: httpx.AsyncClient) -> None:
    provider = await sign_up(api, role="provider", timezone="America/New_York")
    monday = [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "24:00"}]
    answer = await api.put("/providers/me/working-hours", json={"monday": monday}, headers=provider)
    assert answer.status_code == 200, answer.text
    week = answer.json()
    assert week == {
        "monday": monday,
        "tuesday": [],
        "wednesday": [],
        "thursday": [],
        "friday": [],
        "saturday": [],
        "sunday": [],
    }
    stored = await api.get("/providers/me/working-hours", headers=provider)
    assert stored.json() == week


@pytest.mark.parametrize(
    "path",
    ["/users/me/appointments?offset=9223372036854775808", "/users/me/appointments?limit=101"],
)
async def test_huge_numbers_are_refused_not_crashed_on(api: httpx.AsyncClient, path: str) -> None:
    customer = await sign_up(api)
    assert_error(await api.get(path, headers=customer), 422, "validation_error")


async def test_huge_offset_on_the_provider_search_is_refused(api: httpx.AsyncClient) -> None:
    answer = await api.get("/providers", params={"offset": 2**63})
    assert_error(answer, 422, "validation_error")


def _create_admin(
    settings: Settings, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "ADMIN_PASSWORD"}
    environment |= {"DATABASE_URL": settings.database_url, "ENVIRONMENT": "development", **env}
    return subprocess.run(
        [sys.executable, "-m", "db.create_admin", *args],
        cwd=ROOT,
        env=environment,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_create_admin_without_a_terminal(settings: Settings) -> None:
    email = f"admin-{uuid.uuid4().hex[:12]}@example.com"

    refused = _create_admin(settings, email)
    assert refused.returncode == 2, refused
    assert "--password-stdin" in refused.stderr and "ADMIN_PASSWORD" in refused.stderr
    assert "Traceback" not in refused.stderr

    created = _create_admin(settings, email, "--password-stdin", stdin="a long admin password\n")
    assert created.returncode == 0, created
    assert f"admin {email} created" in created.stdout

    again = _create_admin(settings, email)
    assert again.returncode == 0, again
    assert "already an admin" in again.stdout


def test_create_admin_from_the_environment_and_refusals(settings: Settings) -> None:
    email = f"admin-{uuid.uuid4().hex[:12]}@example.com"
    short = _create_admin(settings, email, ADMIN_PASSWORD="short")
    assert short.returncode == 1, short
    assert "at least 12 characters" in short.stderr

    created = _create_admin(settings, email, ADMIN_PASSWORD="a long admin password")
    assert created.returncode == 0, created
    # Emails are case-insensitive: the same admin, not a second one.
    again = _create_admin(settings, email.upper(), ADMIN_PASSWORD="another long password")
    assert again.returncode == 0 and "already an admin" in again.stdout, again


async def test_create_admin_refuses_an_existing_customer(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    email = f"customer-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": PASSWORD, "full_name": "Pat Doe"}
    assert (await api.post("/auth/register", json=body)).status_code == 201
    refused = _create_admin(settings, email, ADMIN_PASSWORD="a long admin password")
    assert refused.returncode == 1, refused
    assert "already a customer account" in refused.stdout
