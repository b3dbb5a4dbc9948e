"""Cheap requests stay cheap: the body cap, hashing off the loop, security headers, CORS, the
docs switch, and a /ready that names what is down and nothing more."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

import api.passwords
from config import Settings
from devstack.processes import free_port
from tests.conftest import make_settings
from tests.integration.api_helpers import PASSWORD, assert_error, sign_up
from tests.integration.limit_helpers import running, serve

CAP = 1024
APP_ORIGIN = "https://app.example.com"
CODEC_ORIGIN = "http://localhost:8233"


def _guarded(settings: Settings, **overrides: object) -> Settings:
    nowhere = f"127.0.0.1:{free_port()}"
    return settings.model_copy(
        update={"max_body_bytes": CAP, "temporal_address": nowhere, **overrides}
    )


class Chunks:
    """A request body sent in 256-byte chunks with no Content-Length; counts what was read."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.read < self.total:
            self.read += 256
            yield b" " * 256


@pytest.mark.parametrize("path", ["/auth/register", "/payments/webhook"])
async def test_a_declared_length_over_the_cap_is_413_unread(settings: Settings, path: str) -> None:
    async with serve(_guarded(settings)) as http:
        too_big = await http.post(path, content=b"{" + b" " * CAP + b"}")
        assert_error(too_big, 413, "body_too_large")
        assert str(CAP) in too_big.json()["detail"]


@pytest.mark.parametrize("path", ["/auth/register", "/payments/webhook"])
async def test_a_chunked_body_is_cut_off_once_it_passes_the_cap(
    settings: Settings, path: str
) -> None:
    async with serve(_guarded(settings)) as http:
        body = Chunks(total=100 * CAP)
        too_big = await http.post(path, content=body)
        assert_error(too_big, 413, "body_too_large")
        assert body.read <= CAP + 2 * 256, body.read


async def test_a_chunked_body_under_the_cap_goes_through(settings: Settings) -> None:
    async with serve(_guarded(settings)) as http:
        answer = await http.post("/payments/webhook", content=Chunks(total=CAP // 2))
        assert_error(answer, 400, "invalid_webhook")


async def test_passwords_are_hashed_and_checked_off_the_event_loop(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []

    def spying(real: Callable[..., object]) -> Callable[..., object]:
        def call(*args: object) -> object:
            threads.append(threading.current_thread().name)
            return real(*args)

        return call

    monkeypatch.setattr(api.passwords, "hash_password", spying(api.passwords.hash_password))
    monkeypatch.setattr(api.passwords, "verify_password", spying(api.passwords.verify_password))
    async with serve(_guarded(settings, password_hash_threads=2)) as http:
        await sign_up(http)  # a hash, then a verify
        unknown = {"username": f"nobody-{uuid.uuid4().hex}@example.com", "password": PASSWORD}
        assert (await http.post("/auth/login", data=unknown)).status_code == 401  # the dummy's
    assert len(threads) == 3, threads
    assert all(name.startswith("argon2") for name in threads), threads


def _assert_security_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


async def test_every_answer_carries_the_security_headers(settings: Settings) -> None:
    async with serve(_guarded(settings)) as http:
        answers = [
            await http.get("/health"),
            await http.get("/nowhere"),
            await http.get("/auth/me"),
            await http.post("/payments/webhook", content=b" " * (CAP + 1)),
        ]
        for answer in answers:
            _assert_security_headers(answer)
            assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
            assert "Strict-Transport-Security" not in answer.headers


async def test_even_an_unexpected_500_carries_them(settings: Settings) -> None:
    async def boom() -> None:
        raise ValueError("a bug")

    async with running(_guarded(settings)) as app:
        app.add_api_route("/boom", boom)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            answer = await http.get("/boom")
    assert_error(answer, 500, "internal_error")
    _assert_security_headers(answer)


async def test_hsts_only_over_https(settings: Settings) -> None:
    async with running(_guarded(settings)) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as http:
            answer = await http.get("/health")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_the_docs_load_their_assets_and_can_be_turned_off(settings: Settings) -> None:
    async with serve(_guarded(settings)) as http:
        docs = await http.get("/docs")
        assert docs.status_code == 200
        _assert_security_headers(docs)
        assert "https://cdn.jsdelivr.net" in docs.headers["Content-Security-Policy"]
        assert (await http.get("/redoc")).status_code == 200
        assert (await http.get("/openapi.json")).status_code == 200
        # The API itself keeps the strict policy.
        assert "cdn.jsdelivr" not in (await http.get("/health")).headers["Content-Security-Policy"]
    async with serve(_guarded(settings, api_docs=False)) as http:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            assert (await http.get(path)).status_code == 404, path


def _preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }


async def test_cors_answers_the_allowed_origins_and_leaves_the_codec_its_own(
    settings: Settings,
) -> None:
    async with serve(_guarded(settings, cors_allow_origins=[APP_ORIGIN])) as http:
        allowed = await http.options("/appointments", headers=_preflight(APP_ORIGIN))
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
        read = await http.get("/health", headers={"Origin": APP_ORIGIN})
        assert read.headers["Access-Control-Allow-Origin"] == APP_ORIGIN

        stranger = await http.options("/appointments", headers=_preflight("https://evil.test"))
        assert "Access-Control-Allow-Origin" not in stranger.headers
        assert (
            "Access-Control-Allow-Origin"
            not in (await http.get("/health", headers={"Origin": "https://evil.test"})).headers
        )

        codec = await http.options("/codec/decode", headers=_preflight(CODEC_ORIGIN))
        assert codec.status_code == 200, codec.text
        assert codec.headers["Access-Control-Allow-Origin"] == CODEC_ORIGIN
        not_for_codec = await http.options("/codec/decode", headers=_preflight(APP_ORIGIN))
        assert "Access-Control-Allow-Origin" not in not_for_codec.headers


async def test_without_an_allow_list_no_origin_is_answered(settings: Settings) -> None:
    async with serve(_guarded(settings)) as http:
        read = await http.get("/health", headers={"Origin": APP_ORIGIN})
        assert "Access-Control-Allow-Origin" not in read.headers
        codec = await http.options("/codec/decode", headers=_preflight(CODEC_ORIGIN))
        assert codec.headers["Access-Control-Allow-Origin"] == CODEC_ORIGIN


async def test_ready_names_what_is_down_and_nothing_else(settings: Settings) -> None:
    async with serve(_guarded(settings)) as http:
        ready = await http.get("/ready")
    assert ready.status_code == 503
    assert ready.json() == {"status": "not_ready", "database": "ok", "temporal": "unreachable"}

    nothing = make_settings(
        f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere",
        temporal_address=f"127.0.0.1:{free_port()}",
    )
    async with serve(nothing) as http:
        ready = await http.get("/ready")
    assert ready.status_code == 503
    body = json.loads(ready.content)
    assert body == {"status": "not_ready", "database": "unreachable", "temporal": "unreachable"}
