"""The remote codec endpoint the Temporal Web UI calls, through the real app over ASGI."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from api.main import create_app
from config import Settings
from db.create_admin import create_admin
from db.engine import Database
from tests.integration.api_helpers import assert_error, sign_up

UI = "http://localhost:8233"
SECRET = '{"client_secret":"pi_42_secret_do_not_show","booking_id":"b-42"}'


def _b64(raw: bytes | str) -> str:
    return base64.b64encode(raw.encode() if isinstance(raw, str) else raw).decode()


PLAIN = {"metadata": {"encoding": _b64("json/plain")}, "data": _b64(SECRET)}


@asynccontextmanager
async def _codec_api(settings: Settings, **overrides: object) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan; Temporal is lazy and never dialled, the codec needs no server."""
    app = create_app(settings.model_copy(update={"temporal_address": "127.0.0.1:9", **overrides}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


def _production(settings: Settings) -> Settings:
    key = base64.b64encode(os.urandom(32)).decode()
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="production",
        database_url=settings.database_url,
        jwt_secret="a-real-production-jwt-secret-of-32-bytes-or-more",
        payment_webhook_secret="whsec_real_production",
        payment_gateway="stripe",
        stripe_api_key="sk_test_never_called",
        stripe_publishable_key="pk_test_never_called",
        payload_encryption_keys=f"prod:{key}",
        calendar_secret_keys=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        metrics_token="a-scraper-token",
    )


async def test_encode_then_decode_round_trips_in_the_web_uis_json(settings: Settings) -> None:
    async with _codec_api(settings) as api:
        encoded = await api.post(
            "/codec/encode", json={"payloads": [PLAIN]}, headers={"X-Namespace": "default"}
        )
        assert encoded.status_code == 200, encoded.text
        [sealed] = encoded.json()["payloads"]
        assert base64.b64decode(sealed["metadata"]["encoding"]) == b"binary/encrypted"
        assert base64.b64decode(sealed["metadata"]["encryption-key-id"]) == b"dev"
        assert b"pi_42_secret" not in base64.b64decode(sealed["data"])

        decoded = await api.post(
            "/codec/decode",
            json={"payloads": [sealed, PLAIN]},
            headers={"X-Namespace": "default", "Origin": UI},
        )
        assert decoded.status_code == 200, decoded.text
        assert decoded.json() == {"payloads": [PLAIN, PLAIN]}
        assert decoded.headers["access-control-allow-origin"] == UI


async def test_a_preflight_from_the_web_ui_is_allowed_and_from_elsewhere_not(
    settings: Settings,
) -> None:
    asking = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
    }
    async with _codec_api(settings) as api:
        allowed = await api.options("/codec/decode", headers={"Origin": UI, **asking})
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["access-control-allow-origin"] == UI
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert {"content-type", "x-namespace", "authorization"} <= {
            h.strip().lower() for h in allowed.headers["access-control-allow-headers"].split(",")
        }

        elsewhere = {"Origin": "http://evil.example", **asking}
        refused = await api.options("/codec/decode", headers=elsewhere)
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
        posted = await api.post("/codec/decode", json={"payloads": []}, headers=elsewhere)
        assert "access-control-allow-origin" not in posted.headers

        # The rest of the API grants the Web UI nothing.
        health = await api.get("/health", headers={"Origin": UI})
        assert "access-control-allow-origin" not in health.headers


async def test_bad_bodies_are_422_in_our_error_shape(settings: Settings) -> None:
    async with _codec_api(settings) as api:
        for body in ({"payloads": 5}, {"payloads": [{"data": "not base64!"}]}):
            assert_error(await api.post("/codec/decode", json=body), 422, "validation_error")
        json_type = {"Content-Type": "application/json"}
        not_json = await api.post("/codec/decode", content=b"{payloads", headers=json_type)
        assert_error(not_json, 422, "validation_error")
        # FastAPI answers bytes that are not UTF-8 before validation: a 400, still our shape.
        not_text = await api.post("/codec/decode", content=b"\xff{", headers=json_type)
        assert_error(not_text, 400, "http_error")

        [sealed] = (await api.post("/codec/encode", json={"payloads": [PLAIN]})).json()["payloads"]
        data = bytearray(base64.b64decode(sealed["data"]))
        data[-1] ^= 1
        tampered = {"metadata": sealed["metadata"], "data": _b64(bytes(data))}
        response = await api.post("/codec/decode", json={"payloads": [tampered]})
        assert_error(response, 422, "undecryptable_payload")


async def test_another_namespace_is_not_served(settings: Settings) -> None:
    async with _codec_api(settings) as api:
        response = await api.post(
            "/codec/decode", json={"payloads": [PLAIN]}, headers={"X-Namespace": "payments"}
        )
        assert_error(response, 403, "namespace_not_served")


async def test_production_decodes_only_for_an_admin_token(settings: Settings, db: Database) -> None:
    async with _codec_api(_production(settings)) as api:
        body = {"payloads": [PLAIN]}
        assert_error(await api.post("/codec/decode", json=body), 401, "not_authenticated")
        assert_error(await api.post("/codec/encode", json=body), 401, "not_authenticated")
        customer = await sign_up(api)
        assert_error(
            await api.post("/codec/decode", json=body, headers=customer), 403, "admins_only"
        )

        email, password = f"admin-{uuid.uuid4().hex[:8]}@example.com", "a very long admin password"
        await create_admin(db, email, password)
        login = await api.post("/auth/login", data={"username": email, "password": password})
        admin = {"Authorization": f"Bearer {login.json()['access_token']}", "Origin": UI}
        encoded = await api.post("/codec/encode", json=body, headers=admin)
        assert encoded.status_code == 200, encoded.text
        decoded = await api.post("/codec/decode", json=encoded.json(), headers=admin)
        assert decoded.status_code == 200, decoded.text
        assert decoded.json() == body
