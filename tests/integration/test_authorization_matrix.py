"""Who may do what: every route of the real app, asked by every kind of caller about customer A's
and provider A's resources, answers the status this table expects. A route the app serves and
the table lacks (or the other way round) fails the first test, by name.

The columns are callers: nobody signed in, customer A (whose booking it is), customer B,
provider A (whose booking, service, message and calendar connection it is), provider B, an admin.
Routes under /me act on the caller's own account, so "someone else's" is their own there too.
Someone else's resource answers 404, never 403, so ids do not leak; a provider-only or
admin-only route answers 403 to everyone else signed in, and 401 to anyone not signed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from pydantic import SecretStr

from api.main import create_app
from config import Settings
from tests.integration.api_cast import (
    CONFIGURED,
    ERASES_THE_CALLER,
    Cast,
    api_with,
    make_cast,
)
from tests.integration.api_helpers import PASSWORD
from tests.temporal_fixtures import Saga

CALLERS = ("anonymous", "customer", "other_customer", "provider", "other_provider", "admin")
# Someone else's resource is asked for first: the owner's own request may change or end it.
ASKED_IN_ORDER = ("anonymous", "other_customer", "other_provider", "customer", "provider", "admin")
Send = Callable[[Cast], dict[str, Any]]


@dataclass(frozen=True)
class Row:
    """The status each caller (in CALLERS order) gets, and the request's body or query."""

    expect: tuple[int, int, int, int, int, int]
    send: Send | None = None


def everyone(status: int, send: Send | None = None) -> Row:
    return Row((status,) * 6, send)


def signed_in(status: int, send: Send | None = None) -> Row:
    return Row((401, status, status, status, status, status), send)


def providers_only(own: int, foreign: int | None = None, send: Send | None = None) -> Row:
    """A provider's own settings: customers and admins have no provider profile."""
    return Row((401, 403, 403, own, own if foreign is None else foreign, 403), send)


def booking_parties(status: int, send: Send | None = None) -> Row:
    """Customer A's booking with provider A: its parties and admins act; others hear 404."""
    return Row((401, status, 404, status, 404, status), send)


def _day(days_ahead: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days_ahead)).isoformat()


SERVICE = {
    "name": "Second opinion",
    "duration_minutes": 30,
    "price": {"amount": 4000, "currency": "USD"},
}
WEEK = {
    day: [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}
OVERRIDE_DAY = HOLIDAY_DAY = 200  # days ahead: past every booking the tests make


def _register(_: Cast) -> dict[str, Any]:
    email = f"matrix-{uuid4().hex[:12]}@example.com"
    return {"json": {"email": email, "password": PASSWORD, "full_name": "Pat Doe"}}


def _book(cast: Cast) -> dict[str, Any]:
    return {"json": {"service_id": cast.ids["service_id"], "start": cast.next_start()}}


def _move(cast: Cast) -> dict[str, Any]:
    return {"json": {"start": cast.next_start()}}


def _json(body: Any) -> Send:
    return lambda _: {"json": body}


def _form(body: dict[str, str]) -> Send:
    return lambda _: {"data": body}


def _query(params: dict[str, str]) -> Send:
    return lambda _: {"params": params}


# (method, path) -> the expected status per caller. Keep in the order the cells run: a row that
# changes or ends a resource comes after the rows that need it.
TABLE: dict[tuple[str, str], Row] = {
    ("GET", "/openapi.json"): everyone(200),
    ("GET", "/docs"): everyone(200),
    ("GET", "/docs/oauth2-redirect"): everyone(200),
    ("GET", "/redoc"): everyone(200),
    # Only Prometheus, with METRICS_TOKEN (set in CONFIGURED); no user's token opens it.
    ("GET", "/metrics"): everyone(401),
    ("GET", "/health"): everyone(200),
    ("GET", "/ready"): everyone(200),
    ("POST", "/auth/register"): everyone(201, _register),
    ("POST", "/auth/login"): everyone(
        200, lambda cast: {"data": {"username": cast.customer_email, "password": PASSWORD}}
    ),
    ("GET", "/auth/me"): signed_in(200),
    ("GET", "/providers"): everyone(200),
    ("GET", "/providers/{provider_id}"): everyone(200),
    ("GET", "/providers/{provider_id}/availability"): everyone(
        200, lambda cast: {"params": {"service_id": cast.ids["service_id"]}}
    ),
    ("GET", "/providers/{provider_id}/availability/events"): everyone(200),
    ("GET", "/providers/me"): providers_only(200),
    ("PATCH", "/providers/me"): providers_only(200, send=_json({"display_name": "Dr. Pat"})),
    ("POST", "/providers/me/services"): providers_only(201, send=_json(SERVICE)),
    ("PATCH", "/providers/me/services/{service_id}"): providers_only(
        200, 404, _json({"name": "Consultation"})
    ),
    ("GET", "/providers/me/working-hours"): providers_only(200),
    ("PUT", "/providers/me/working-hours"): providers_only(200, send=_json(WEEK)),
    ("GET", "/providers/me/overrides"): providers_only(
        200, send=_query({"from": _day(1), "to": _day(30)})
    ),
    ("PUT", "/providers/me/overrides/{day}"): providers_only(
        200, send=_json({"intervals": [{"start": "10:00", "end": "12:00"}]})
    ),
    ("DELETE", "/providers/me/overrides/{day}"): providers_only(204),
    ("GET", "/providers/me/holidays"): providers_only(200),
    ("POST", "/providers/me/holidays"): providers_only(
        201, send=_json({"day": _day(HOLIDAY_DAY), "name": "Closed"})
    ),
    ("DELETE", "/providers/me/holidays/{day}"): providers_only(204),
    ("POST", "/appointments"): signed_in(201, _book),
    ("GET", "/appointments/{appointment_id}"): booking_parties(200),
    ("GET", "/appointments/{appointment_id}/calendar.ics"): booking_parties(200),
    ("POST", "/appointments/{appointment_id}/reschedule"): booking_parties(200, _move),
    # The booking confirmed itself: its provider and an admin may decide, but there is nothing
    # left to decide (409); its customer sees it but is not its provider (403).
    ("POST", "/appointments/{appointment_id}/approve"): Row((401, 403, 404, 409, 404, 409)),
    ("POST", "/appointments/{appointment_id}/decline"): Row((401, 403, 404, 409, 404, 409)),
    ("GET", "/users/me/appointments"): signed_in(200),
    ("GET", "/users/me"): signed_in(200),
    ("PATCH", "/users/me"): signed_in(200, _json({"full_name": "Pat Doe"})),
    ("GET", "/users/me/notifications"): signed_in(200),
    ("GET", "/users/me/export"): signed_in(200),
    ("GET", "/admin/audit"): Row((401, 403, 403, 403, 403, 200)),
    # Customer A's confirmation email; an admin reads anyone's (development only).
    ("GET", "/users/me/notifications/{notification_id}.html"): Row((401, 200, 404, 404, 404, 200)),
    ("GET", "/users/me/notifications/{notification_id}.ics"): Row((401, 200, 404, 404, 404, 200)),
    ("POST", "/notifications/twilio/status"): everyone(403, _form({"MessageSid": "SM1"})),
    ("POST", "/notifications/twilio/inbound"): everyone(403, _form({"Body": "STOP"})),
    ("POST", "/notifications/sendgrid/events"): everyone(403, _json([])),
    ("GET", "/payments/config"): everyone(200),
    ("POST", "/payments/webhook"): everyone(400, _json({"type": "payment_intent.succeeded"})),
    ("POST", "/calendar/connections/caldav"): providers_only(
        503,
        send=_json({"url": "http://127.0.0.1:9/dav/", "username": "pat", "password": "secret"}),
    ),
    # Google is not configured in the tests: past authorization, the answer says so.
    ("POST", "/calendar/connections/{kind}"): providers_only(422),
    ("GET", "/calendar/connections/google/callback"): everyone(
        400, _query({"state": "unknown", "code": "x"})
    ),
    ("POST", "/calendar/connections/microsoft/callback"): everyone(
        400, _form({"state": "unknown", "code": "x"})
    ),
    ("GET", "/calendar/connections"): providers_only(200),
    # Provider A's connection names a server that is not there: 503 once authorized.
    ("GET", "/calendar/connections/{connection_id}/calendars"): providers_only(503, 404),
    ("PUT", "/calendar/connections/{connection_id}/calendars"): providers_only(
        503, 404, _json({"blocking": [], "destination": None})
    ),
    ("POST", "/calendar/sync/initiate"): providers_only(202),
    # Open to anyone in development (api/routes/codec.py); admins only elsewhere.
    ("POST", "/codec/decode"): everyone(200, _json({"payloads": []})),
    ("POST", "/codec/encode"): everyone(200, _json({"payloads": []})),
    # Only the booking's customer pays; it is paid already, so a decline is refused (409).
    ("POST", "/sandbox/payments/{intent_id}/succeed"): Row((401, 200, 404, 404, 404, 404)),
    ("POST", "/sandbox/payments/{intent_id}/fail"): Row((401, 409, 404, 404, 404, 404)),
    # The rows below end what the rows above use.
    ("PUT", "/appointments/{appointment_id}/cancel"): booking_parties(200),
    ("DELETE", "/calendar/connections/{connection_id}"): providers_only(204, 404),
    ("DELETE", "/providers/me/services/{service_id}"): providers_only(204, 404),
    # Each caller closes an account made for the purpose (ERASES_THE_CALLER).
    ("DELETE", "/users/me"): signed_in(204),
}


# Production's app: no sandbox checkout, no outbox, and the codec for admins only.
PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "payment_gateway": "stripe",
    "stripe_api_key": SecretStr("sk_test_matrix"),
}
DEVELOPMENT_ONLY = frozenset(
    {
        ("GET", "/users/me/notifications/{notification_id}.html"),
        ("GET", "/users/me/notifications/{notification_id}.ics"),
        ("POST", "/sandbox/payments/{intent_id}/succeed"),
        ("POST", "/sandbox/payments/{intent_id}/fail"),
    }
)
PRODUCTION_ROWS: dict[tuple[str, str], Row] = {
    ("POST", "/codec/decode"): Row((401, 403, 403, 403, 403, 200), _json({"payloads": []})),
    ("POST", "/codec/encode"): Row((401, 403, 403, 403, 403, 200), _json({"payloads": []})),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves, read from its route table (HEAD aside)."""
    served = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or {"GET"}:  # a mounted app answers at least GET
            if method != "HEAD" and route.path:
                served.add((method, route.path))
    return served


def test_every_route_has_a_row(settings: Settings) -> None:
    served = app_routes(create_app(settings))
    missing = sorted(served - TABLE.keys())
    gone = sorted(TABLE.keys() - served)
    assert not missing, "".join(
        f"\n{method} {path} is not in the authorization matrix: add its row to TABLE in "
        "tests/integration/test_authorization_matrix.py, with the status each caller should get"
        for method, path in missing
    )
    assert not gone, f"TABLE names routes the app no longer serves: {gone}"


def _url(path: str, cast: Cast) -> str:
    return path.format(
        **cast.ids,
        day=_day(OVERRIDE_DAY if "overrides" in path else HOLIDAY_DAY),
        kind="google",
    )


async def _wrong_answers(
    client: httpx.AsyncClient, cast: Cast, table: dict[tuple[str, str], Row]
) -> list[str]:
    """Each cell of `table` whose answer is not the expected status."""
    served = app_routes(client._transport.app)  # type: ignore[attr-defined]
    wrong: list[str] = []
    for (method, path), row in table.items():
        if (method, path) not in served:
            continue  # test_every_route_has_a_row names it
        for caller in ASKED_IN_ORDER:
            expected = row.expect[CALLERS.index(caller)]
            headers = cast.callers[caller]
            if (method, path) in ERASES_THE_CALLER:
                headers = await cast.fresh(client, caller)
            request = row.send(cast) if row.send else {}
            response = await client.request(method, _url(path, cast), headers=headers, **request)
            if response.status_code != expected:
                wrong.append(
                    f"{method} {path} as {caller}: expected {expected}, got "
                    f"{response.status_code} {response.text[:160]}"
                )
    return wrong


async def test_every_caller_gets_the_expected_status_from_every_route(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    async with api_with(api, **CONFIGURED) as client:
        wrong = await _wrong_answers(client, await make_cast(client), TABLE)
    assert not wrong, "\n".join(wrong)


async def test_in_production_the_codec_is_for_admins_and_the_dev_routes_are_gone(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    cast = await make_cast(api)
    async with api_with(api, **CONFIGURED | PRODUCTION) as production:
        served = app_routes(production._transport.app)  # type: ignore[attr-defined]
        assert not DEVELOPMENT_ONLY & served
        assert PRODUCTION_ROWS.keys() <= served
        wrong = await _wrong_answers(production, cast, PRODUCTION_ROWS)
    assert not wrong, "\n".join(wrong)
