"""A CalDAV address is a server on the internet: an unusable URL is refused as bad input, and
outside development a loopback or private address is refused before anything connects to it."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api_cast import api_with
from tests.integration.api_helpers import assert_error, sign_up


@pytest.mark.parametrize(
    "url",
    [
        "https://@",
        "http://[x",
        "https://host:0/dav",
        "http://:80/",
        # Labels empty or past 63 characters: urllib3 refused them itself, unwrapped (a 500).
        "http://a..b/dav",
        f"https://{'a' * 64}.example.com/",
    ],
)
async def test_an_address_without_a_server_is_bad_input(api: httpx.AsyncClient, url: str) -> None:
    provider = await sign_up(api, role="provider", timezone="Europe/Berlin")
    body = {"url": url, "username": "ann", "password": "app-password"}
    answer = await api.post("/calendar/connections/caldav", json=body, headers=provider)
    assert_error(answer, 422, "validation_error")


@pytest.mark.parametrize(
    "host", ["127.0.0.1:5232", "localhost:5232", "10.1.2.3", "169.254.169.254", "[::1]:5232"]
)
async def test_a_private_address_is_refused_unless_allowed(
    api: httpx.AsyncClient, host: str
) -> None:
    async with api_with(api, caldav_private_hosts=False) as guarded:
        provider = await sign_up(guarded, role="provider", timezone="Europe/Berlin")
        body = {"url": f"http://{host}/ann/", "username": "ann", "password": "app-password"}
        answer = await guarded.post("/calendar/connections/caldav", json=body, headers=provider)
        detail = assert_error(answer, 422, "calendar_refused")["detail"]
        assert "not a public address" in detail
        listed = await guarded.get("/calendar/connections", headers=provider)
        assert listed.json() == []
