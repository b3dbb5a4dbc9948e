"""A person's phone and message preferences, their messages, and the vendors' delivery reports."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import SecretStr
from sqlalchemy import Table, select
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from api.main import create_app
from api.security import create_access_token
from config import Settings
from db.engine import Database
from db.models import Appointment, Notification, User
from db.users import create_account
from tests.factories import UNUSABLE_PASSWORD_HASH, make_provider
from tests.integration.api_helpers import assert_error, sign_up
from tests.temporal_fixtures import Saga

TWILIO_TOKEN = "twilio-test-auth-token"
PUBLIC_BASE_URL = "https://bookings.example.com"
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC_KEY = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
).decode()

_notifications = cast(Table, Notification.__table__)


@pytest.fixture
async def client(api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The same app and database as `api`, with Twilio and SendGrid webhooks configured."""
    settings: Settings = api._transport.app.state.services.settings  # type: ignore[attr-defined]
    app = create_app(
        settings.model_copy(
            update={
                "twilio_auth_token": SecretStr(TWILIO_TOKEN),
                "sendgrid_webhook_public_key": SENDGRID_PUBLIC_KEY,
                "public_base_url": PUBLIC_BASE_URL,
            }
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


async def _me(api: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await api.get("/users/me", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _booking(db: Database, customer_id: uuid.UUID) -> uuid.UUID:
    """A (cancelled) appointment row for messages to be about."""
    provider = await make_provider(db)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    booking_id = uuid.uuid4()
    async with db.session() as session, session.begin():
        session.add(
            Appointment(
                id=booking_id,
                provider_id=provider.provider_id,
                service_id=provider.service_id,
                customer_id=customer_id,
                start_at=start,
                end_at=start + provider.duration,
                blocked_start=start,
                blocked_end=start + provider.duration,
                status="cancelled",
                price_amount=provider.price,
                currency="USD",
                created_at=start,
                updated_at=start,
            )
        )
    return booking_id


async def _message(
    db: Database,
    booking_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    minutes_ago: int = 0,
    channel: str = "email",
    status: str = "sent",
    external_id: str | None = None,
    ics: str | None = None,
) -> uuid.UUID:
    message_id = uuid.uuid4()
    created = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    async with db.transaction() as connection:
        await connection.execute(
            _notifications.insert().values(
                id=message_id,
                appointment_id=booking_id,
                user_id=user_id,
                channel=channel,
                kind="confirmed",
                recipient="+12125550100" if channel == "sms" else "pat@example.com",
                status=status,
                idempotency_key=f"test:{message_id}",
                external_id=external_id,
                subject=None if channel == "sms" else "Your booking is confirmed",
                body_text="See you then",
                body_html=None if channel == "sms" else "<p>See you <b>then</b></p>",
                ics=ics,
                ics_sequence=None if ics is None else 0,
                attempts=1,
                created_at=created,
                updated_at=created,
                sent_at=created if status != "pending" else None,
            )
        )
    return message_id


async def _stored(db: Database, message_id: uuid.UUID) -> Any:
    async with db.reading() as connection:
        return (
            await connection.execute(
                select(_notifications).where(_notifications.c.id == message_id)
            )
        ).one()


async def _sms_opt_in(db: Database, user_id: uuid.UUID) -> bool:
    async with db.reading() as connection:
        return bool(await connection.scalar(select(User.sms_opt_in).where(User.id == user_id)))


async def test_patch_me_normalises_the_phone_and_guards_the_opt_in(api: httpx.AsyncClient) -> None:
    customer = await sign_up(api)
    me = await _me(api, customer)
    assert (me["phone"], me["sms_opt_in"], me["email_notifications"]) == (None, False, True)

    assert_error(
        await api.patch("/users/me", json={"sms_opt_in": True}, headers=customer),
        422,
        "phone_required",
    )
    for bad in ("212 555 0100", "not a phone", "+1 555 0100", "+1\x00212"):
        assert_error(
            await api.patch("/users/me", json={"phone": bad}, headers=customer),
            422,
            "invalid_phone",
        )
    assert (await _me(api, customer))["phone"] is None

    changed = await api.patch(
        "/users/me",
        json={"phone": "+1 (212) 555-0100", "sms_opt_in": True, "email_notifications": False},
        headers=customer,
    )
    assert changed.status_code == 200, changed.text
    assert await _me(api, customer) == changed.json()
    assert (changed.json()["phone"], changed.json()["sms_opt_in"]) == ("+12125550100", True)
    assert changed.json()["email_notifications"] is False

    renamed = await api.patch("/users/me", json={"full_name": "Pat Roe"}, headers=customer)
    assert (renamed.json()["full_name"], renamed.json()["sms_opt_in"]) == ("Pat Roe", True)
    # Consent to texts was for that number: a new one, or none, starts opted out.
    moved = await api.patch("/users/me", json={"phone": "+442079460958"}, headers=customer)
    assert (moved.json()["phone"], moved.json()["sms_opt_in"]) == ("+442079460958", False)
    cleared = await api.patch("/users/me", json={"phone": None}, headers=customer)
    assert (cleared.json()["phone"], cleared.json()["sms_opt_in"]) == (None, False)
    assert_error(
        await api.patch("/users/me", json={"phone": None, "sms_opt_in": True}, headers=customer),
        422,
        "phone_required",
    )
    assert_error(
        await api.patch("/users/me", json={"fone": "+12125550100"}, headers=customer),
        422,
        "validation_error",
    )


async def test_my_messages_are_mine_newest_first(
    api: httpx.AsyncClient, saga: Saga, settings: Settings
) -> None:
    first, second = await sign_up(api), await sign_up(api)
    first_id = uuid.UUID((await _me(api, first))["id"])
    second_id = uuid.UUID((await _me(api, second))["id"])
    booking = await _booking(saga.db, first_id)
    old = await _message(saga.db, booking, first_id, minutes_ago=10, channel="sms")
    new = await _message(saga.db, booking, first_id, minutes_ago=1, ics="BEGIN:VCALENDAR")
    theirs = await _message(saga.db, booking, second_id, minutes_ago=5)

    mine = (await api.get("/users/me/notifications", headers=first)).json()
    assert [m["id"] for m in mine["data"]] == [str(new), str(old)] and mine["count"] == 2
    assert mine["data"][0]["ics"] == "BEGIN:VCALENDAR" and mine["data"][1]["ics"] is None
    assert mine["data"][1]["channel"] == "sms" and mine["data"][1]["status"] == "sent"
    page = await api.get("/users/me/notifications", params={"limit": 1, "offset": 1}, headers=first)
    assert ([m["id"] for m in page.json()["data"]], page.json()["count"]) == ([str(old)], 2)

    # Naming another's booking shows only one's own messages about it.
    about = await api.get(
        "/users/me/notifications", params={"appointment_id": str(booking)}, headers=second
    )
    assert [m["id"] for m in about.json()["data"]] == [str(theirs)]
    admin = await create_account(
        saga.db,
        email=f"admin-{uuid.uuid4().hex[:12]}@example.com",
        password_hash=UNUSABLE_PASSWORD_HASH,
        full_name="Ada Admin",
        phone=None,
        role="admin",
        now=datetime.now(UTC),
    )
    as_admin = {"Authorization": f"Bearer {create_access_token(admin.id, 'admin', settings)}"}
    everyone = await api.get(
        "/users/me/notifications", params={"appointment_id": str(booking)}, headers=as_admin
    )
    assert [m["id"] for m in everyone.json()["data"]] == [str(new), str(theirs), str(old)]

    for bounds in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"offset": 10_000_001}):
        assert_error(
            await api.get("/users/me/notifications", params=bounds, headers=first),
            422,
            "validation_error",
        )
    assert_error(await api.get("/users/me/notifications"), 401, "not_authenticated")


async def test_the_dev_outbox_shows_my_messages_only(api: httpx.AsyncClient, saga: Saga) -> None:
    owner, stranger = await sign_up(api), await sign_up(api)
    owner_id = uuid.UUID((await _me(api, owner))["id"])
    booking = await _booking(saga.db, owner_id)
    email = await _message(saga.db, booking, owner_id, ics="BEGIN:VCALENDAR\r\nEND:VCALENDAR")
    sms = await _message(saga.db, booking, owner_id, channel="sms")

    html = await api.get(f"/users/me/notifications/{email}.html", headers=owner)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.text == "<p>See you <b>then</b></p>"
    assert html.headers["content-security-policy"] == "sandbox"
    ics = await api.get(f"/users/me/notifications/{email}.ics", headers=owner)
    assert ics.headers["content-type"].startswith("text/calendar")
    assert ics.text == "BEGIN:VCALENDAR\r\nEND:VCALENDAR"
    # A browser cannot send the header: the token may come in the query instead.
    token = owner["Authorization"].removeprefix("Bearer ")
    opened = await api.get(f"/users/me/notifications/{email}.html", params={"access_token": token})
    assert opened.text == html.text

    for suffix in (".html", ".ics"):
        url = f"/users/me/notifications/{email}{suffix}"
        assert_error(await api.get(url, headers=stranger), 404, "notification_not_found")
    missing = f"/users/me/notifications/{uuid.uuid4()}.html"
    assert_error(await api.get(missing, headers=owner), 404, "notification_not_found")
    sms_html = f"/users/me/notifications/{sms}.html"
    assert_error(await api.get(sms_html, headers=owner), 404, "html_not_found")
    assert_error(
        await api.get(f"/users/me/notifications/{sms}.ics", headers=owner), 404, "invite_not_found"
    )
    assert_error(await api.get(sms_html), 401, "not_authenticated")
    bad_token = await api.get(sms_html, params={"access_token": "nonsense"})
    assert_error(bad_token, 401, "invalid_token")


def _twilio(path: str, params: dict[str, str], *, url: str | None = None) -> dict[str, Any]:
    """The request Twilio makes: the form, signed over the public URL it called."""
    signed_url = url or PUBLIC_BASE_URL + path
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(signed_url, params)
    return {"url": path, "data": params, "headers": {"X-Twilio-Signature": signature}}


STATUS = "/notifications/twilio/status"


async def _sms(api: httpx.AsyncClient, saga: Saga) -> tuple[uuid.UUID, str]:
    customer = await sign_up(api)
    customer_id = uuid.UUID((await _me(api, customer))["id"])
    sid = f"SM{uuid.uuid4().hex}"
    booking = await _booking(saga.db, customer_id)
    return await _message(saga.db, booking, customer_id, channel="sms", external_id=sid), sid


async def test_twilio_reports_delivery_and_it_never_goes_back(
    client: httpx.AsyncClient, api: httpx.AsyncClient, saga: Saga
) -> None:
    message, sid = await _sms(api, saga)
    delivered = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC1"}

    forged = _twilio(STATUS, delivered) | {"headers": {"X-Twilio-Signature": "bm9wZQ=="}}
    assert_error(await client.post(**forged), 403, "invalid_signature")
    unsigned: dict[str, Any] = {"url": STATUS, "data": delivered}
    assert_error(await client.post(**unsigned), 403, "invalid_signature")
    # Signed over the URL the app sees rather than the public one Twilio calls.
    internal = _twilio(STATUS, delivered, url=f"http://api.test{STATUS}")
    assert_error(await client.post(**internal), 403, "invalid_signature")
    assert (await _stored(saga.db, message)).status == "sent"

    answer = await client.post(**_twilio(STATUS, delivered))
    assert answer.status_code == 200 and answer.json() == {"handled": 1}, answer.text
    row = await _stored(saga.db, message)
    assert row.status == "delivered" and row.delivered_at is not None

    for late in ("sent", "failed"):
        report = {"MessageSid": sid, "MessageStatus": late, "ErrorCode": "30003"}
        assert (await client.post(**_twilio(STATUS, report))).json() == {"handled": 0}
    row = await _stored(saga.db, message)
    assert (row.status, row.last_error) == ("delivered", None)

    unknown = {"MessageSid": "SMnobody", "MessageStatus": "delivered"}
    assert (await client.post(**_twilio(STATUS, unknown))).json() == {"handled": 0}


async def test_twilio_reports_a_failure_with_its_error_code(
    client: httpx.AsyncClient, api: httpx.AsyncClient, saga: Saga
) -> None:
    message, sid = await _sms(api, saga)
    report = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert (await client.post(**_twilio(STATUS, report))).json() == {"handled": 1}
    row = await _stored(saga.db, message)
    assert (row.status, row.last_error, row.delivered_at) == ("failed", "twilio error 30003", None)


async def test_stop_by_sms_turns_the_opt_in_off(
    client: httpx.AsyncClient, api: httpx.AsyncClient, saga: Saga
) -> None:
    number = f"+1212555{uuid.uuid4().int % 10_000:04d}"
    customer = await sign_up(api)
    opted = await api.patch(
        "/users/me", json={"phone": number, "sms_opt_in": True}, headers=customer
    )
    assert opted.json()["sms_opt_in"] is True, opted.text
    user_id = uuid.UUID(opted.json()["id"])
    inbound = "/notifications/twilio/inbound"

    chat = await client.post(**_twilio(inbound, {"From": number, "Body": "stop by at 5?"}))
    assert chat.status_code == 200 and await _sms_opt_in(saga.db, user_id)
    stop = await client.post(**_twilio(inbound, {"From": number, "Body": " Stop "}))
    assert stop.status_code == 200 and stop.headers["content-type"].startswith("application/xml")
    assert stop.text.endswith("<Response/>")
    assert not await _sms_opt_in(saga.db, user_id)
    # Opting back in is the person's own choice, made through the API.
    await client.post(**_twilio(inbound, {"From": number, "Body": "START"}))
    assert not await _sms_opt_in(saga.db, user_id)
    forged = _twilio(inbound, {"From": number, "Body": "STOP"}, url="https://elsewhere.example")
    assert_error(await client.post(**forged), 403, "invalid_signature")


def _sendgrid(events: Any, *, tamper: bool = False, timestamp: str | None = None) -> dict[str, Any]:
    """SendGrid's signed event webhook request: ECDSA over the timestamp (now, as Unix seconds,
    unless given) and the body."""
    payload = json.dumps(events)
    timestamp = timestamp or str(int(datetime.now(UTC).timestamp()))
    signature = SENDGRID_KEY.sign((timestamp + payload).encode(), ec.ECDSA(hashes.SHA256()))
    return {
        "url": "/notifications/sendgrid/events",
        "content": payload.replace("delivered", "dropped") if tamper else payload,
        "headers": {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        },
    }


async def test_sendgrid_events_deliver_and_bounce(
    client: httpx.AsyncClient, api: httpx.AsyncClient, saga: Saga
) -> None:
    customer = await sign_up(api)
    customer_id = uuid.UUID((await _me(api, customer))["id"])
    booking = await _booking(saga.db, customer_id)
    kept = await _message(saga.db, booking, customer_id, external_id=f"X{uuid.uuid4().hex}")
    bounced = await _message(saga.db, booking, customer_id, external_id=f"X{uuid.uuid4().hex}")
    bounced_vendor_id = (await _stored(saga.db, bounced)).external_id
    delivered = {"event": "delivered", "message_id": str(kept), "sg_message_id": "other.filter1"}

    tampered = await client.post(**_sendgrid([delivered], tamper=True))
    assert_error(tampered, 403, "invalid_signature")
    assert (await _stored(saga.db, kept)).status == "sent"
    unsigned = _sendgrid([delivered])
    unsigned["headers"]["X-Twilio-Email-Event-Webhook-Signature"] = "not base64!"
    assert_error(await client.post(**unsigned), 403, "invalid_signature")

    events = [
        {"event": "processed", "message_id": str(bounced)},
        delivered,
        # No message_id of ours: found by the vendor's id, which sg_message_id begins with.
        {
            "event": "bounce",
            "sg_message_id": f"{bounced_vendor_id}.filterdrecv-5bf99c48d-1.0",
            "reason": "550 5.1.1 mailbox unavailable",
        },
        {"event": "delivered", "message_id": str(uuid.uuid4())},
        {"event": "dropped", "message_id": "not-a-uuid"},
        "not an event",
    ]
    answer = await client.post(**_sendgrid(events))
    assert answer.status_code == 200 and answer.json() == {"handled": 2}, answer.text
    assert (await _stored(saga.db, kept)).status == "delivered"
    row = await _stored(saga.db, bounced)
    assert (row.status, row.last_error) == ("failed", "bounce: 550 5.1.1 mailbox unavailable")

    assert_error(await client.post(**_sendgrid({"event": "delivered"})), 400, "invalid_webhook")


async def test_sendgrid_events_signed_too_long_ago_or_ahead_are_refused(
    client: httpx.AsyncClient,
) -> None:
    now = int(datetime.now(UTC).timestamp())
    # Signed, but long enough ago to be a replay, or dated ahead; or not a Unix time at all.
    for timestamp in (now - 6 * 60, now + 6 * 60, now - 365 * 86400, "yesterday", "1e9"):
        refused = await client.post(**_sendgrid([], timestamp=str(timestamp)))
        body = assert_error(refused, 403, "invalid_signature")
        assert body["detail"] == "the request's signed timestamp is more than 5 minutes from now"
    for timestamp in (now - 4 * 60, now + 4 * 60):
        recent = await client.post(**_sendgrid([], timestamp=str(timestamp)))
        assert recent.status_code == 200 and recent.json() == {"handled": 0}, recent.text


async def test_webhooks_not_configured_answer_404(api: httpx.AsyncClient) -> None:
    for path in ("twilio/status", "twilio/inbound", "sendgrid/events"):
        assert_error(
            await api.post(f"/notifications/{path}", content=b"\xff"), 404, "not_configured"
        )


async def test_malformed_webhook_bodies_are_refused(client: httpx.AsyncClient) -> None:
    signed = _twilio(STATUS, {"MessageSid": "SM1", "MessageStatus": "delivered"})
    assert_error(
        await client.post(STATUS, content=b"\xff\xfe", headers=signed["headers"]),
        403,
        "invalid_signature",
    )
    broken = _sendgrid([])
    broken["content"] = b"\xff"
    assert_error(await client.post(**broken), 403, "invalid_signature")
