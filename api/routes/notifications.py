"""Messages: a person's own list, the development outbox, and the vendors' delivery reports."""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import parse_qsl
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from sendgrid.helpers.eventwebhook import EventWebhook  # type: ignore[import-untyped]
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from api.deps import UNAUTHENTICATED, CurrentUser, DatabaseDep, SettingsDep
from api.errors import APIError, DocumentedErrorRoute
from api.schemas.common import Page, errors
from api.schemas.notifications import EventsHandled, NotificationPublic
from api.schemas.users import e164
from api.security import user_id_from_token
from contract.notifications import Delivery
from db.audit import Actor, record_read
from db.notification_reads import SentMessage, get_message, list_messages
from db.notification_status import Report, opt_out_of_sms, record_reports
from db.users import Account, get_account

router = APIRouter(
    prefix="/users/me/notifications",
    tags=["notifications"],
    route_class=DocumentedErrorRoute,
    responses=errors(401, 422, 503),
)
# Included only in development (api/main.py): stored messages, to open in a browser.
outbox = APIRouter(
    prefix="/users/me/notifications",
    tags=["notifications"],
    route_class=DocumentedErrorRoute,
    responses=errors(401, 404, 422, 503),
)
webhooks = APIRouter(
    prefix="/notifications",
    tags=["notifications"],
    route_class=DocumentedErrorRoute,
    responses=errors(400, 403, 404, 413, 503),
)

MAX_OFFSET = 10_000_000  # as the other lists: far past any real one

INVALID_SIGNATURE = APIError(403, "invalid_signature", "the request's signature does not verify")
# A signed request replayed later than this, or dated further ahead, is refused.
SIGNATURE_TOLERANCE = timedelta(minutes=5)
STALE_SIGNATURE = APIError(
    403,
    "invalid_signature",
    f"the request's signed timestamp is more than {SIGNATURE_TOLERANCE.total_seconds() / 60:g} "
    "minutes from now",
)


def _not_configured(vendor: str) -> APIError:
    return APIError(404, "not_configured", f"{vendor} webhooks are not configured here")


@router.get("")
async def my_notifications(
    user: CurrentUser,
    db: DatabaseDep,
    appointment_id: Annotated[
        UUID | None, Query(description="one booking's; an admin sees everyone's")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page[NotificationPublic]:
    """The messages sent to me, newest first."""
    # Anyone else asking for a booking gets only their own messages about it: no 404 that
    # would tell them the booking exists.
    everyone = user.role == "admin" and appointment_id is not None
    messages, total = await list_messages(
        db,
        user_id=None if everyone else user.id,
        appointment_id=appointment_id,
        limit=limit,
        offset=offset,
    )
    if everyone:
        await record_read(
            db,
            Actor(user.id, "admin"),
            now=datetime.now(UTC),
            booking_id=appointment_id,
            detail={"read": "notifications"},
        )
    public = [NotificationPublic.model_validate(m._asdict()) for m in messages]
    return Page(data=public, count=total)


async def _outbox_reader(
    db: DatabaseDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
    access_token: Annotated[
        str | None, Query(description="the bearer token, for a browser that cannot send it")
    ] = None,
) -> Account:
    scheme, _, bearer = (authorization or "").partition(" ")
    token = bearer if scheme.lower() == "bearer" and bearer else access_token
    if not token:
        raise UNAUTHENTICATED
    user_id = user_id_from_token(token, settings)
    account = None if user_id is None else await get_account(db, user_id)
    if account is None:
        raise APIError(401, "invalid_token", "the access token is invalid or expired")
    return account


OutboxReader = Annotated[Account, Depends(_outbox_reader)]


async def _readable(db: DatabaseDep, reader: Account, notification_id: UUID) -> SentMessage:
    message = await get_message(db, notification_id)
    if message is None or (message.user_id != reader.id and reader.role != "admin"):
        raise APIError(404, "notification_not_found", "no message of yours with that id")
    if message.user_id != reader.id:
        await record_read(
            db,
            Actor(reader.id, "admin"),
            now=datetime.now(UTC),
            booking_id=message.appointment_id,
            account_id=message.user_id,
            detail={"read": "message", "notification_id": notification_id},
        )
    return message


@outbox.get("/{notification_id}.html", response_class=Response)
async def message_html(notification_id: UUID, reader: OutboxReader, db: DatabaseDep) -> Response:
    """An email as its recipient sees it (development only)."""
    message = await _readable(db, reader, notification_id)
    if message.body_html is None:
        raise APIError(404, "html_not_found", "this message has no HTML (an SMS has none)")
    # Sandboxed: the stored page runs no script with the API's origin.
    headers = {"Content-Security-Policy": "sandbox"}
    return Response(message.body_html, media_type="text/html", headers=headers)


@outbox.get("/{notification_id}.ics", response_class=Response)
async def message_invite(notification_id: UUID, reader: OutboxReader, db: DatabaseDep) -> Response:
    """The calendar invite an email carried (development only)."""
    message = await _readable(db, reader, notification_id)
    if message.ics is None:
        raise APIError(404, "invite_not_found", "this message carries no calendar invite")
    return Response(message.ics, media_type="text/calendar")


async def _twilio_form(
    request: Request,
    settings: SettingsDep,
    x_twilio_signature: Annotated[str | None, Header()] = None,
) -> ImmutableMultiDict[str, str]:
    """The form Twilio posted, once its signature verifies."""
    if settings.twilio_auth_token is None:
        raise _not_configured("Twilio")
    try:
        form = ImmutableMultiDict(
            parse_qsl((await request.body()).decode(), keep_blank_values=True)
        )
    except (UnicodeDecodeError, ValueError) as err:
        raise INVALID_SIGNATURE from err
    # Twilio signs the URL it called: the public one, which a proxy or tunnel in front of us
    # may have rewritten by the time the request arrives.
    url = settings.public_base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += f"?{request.url.query}"
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    if not x_twilio_signature or not validator.validate(url, form, x_twilio_signature):
        raise INVALID_SIGNATURE
    return form


TwilioForm = Annotated[ImmutableMultiDict[str, str], Depends(_twilio_form)]
_SIGNED: dict[int | str, dict[str, Any]] = {
    403: {"description": "invalid_signature"},
    404: {"description": "not_configured"},
}


def _text(value: Any) -> str | None:
    """A vendor's string as we store it: none with NUL (PostgreSQL refuses it), at most 1000."""
    return value[:1000] if isinstance(value, str) and value and "\x00" not in value else None


@webhooks.post("/twilio/status", responses=_SIGNED)
async def twilio_status(form: TwilioForm, db: DatabaseDep) -> EventsHandled:
    """Twilio's status callback for one SMS."""
    sid, status = _text(form.get("MessageSid")), form.get("MessageStatus")
    if sid is None or status not in ("delivered", "undelivered", "failed"):
        return EventsHandled(handled=0)  # queued, sent, ...: it stays sent
    if status == "delivered":
        report = Report(None, (sid,), Delivery.DELIVERED)
    else:
        code = _text(form.get("ErrorCode")) or "(none given)"
        report = Report(None, (sid,), Delivery.FAILED, f"twilio error {code}")
    return EventsHandled(handled=await record_reports(db, [report], now=datetime.now(UTC)))


# Twilio's own opt-out words. START and UNSTOP turn nothing on: opting back in is the
# person's own PATCH /users/me.
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@webhooks.post(
    "/twilio/inbound",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}, **_SIGNED},
)
async def twilio_inbound(form: TwilioForm, db: DatabaseDep) -> Response:
    """An SMS someone sent us: an opt-out word turns texts off for their number."""
    if form.get("Body", "").strip().upper() in OPT_OUT_WORDS:
        with suppress(ValueError):  # not a number an account can have
            await opt_out_of_sms(db, e164(form.get("From", "")))
    return Response(EMPTY_TWIML, media_type="application/xml")


@lru_cache(maxsize=4)
def _sendgrid_key(encoded: str) -> EllipticCurvePublicKey:
    key: EllipticCurvePublicKey = EventWebhook().convert_public_key_to_ecdsa(encoded)
    return key


def _sendgrid_signed(key: str, payload: bytes, signature: str, timestamp: str) -> bool:
    public_key = _sendgrid_key(key)  # outside the try: a broken key is our bug, not theirs
    try:
        verified: bool = EventWebhook().verify_signature(
            payload.decode(), signature, timestamp, public_key
        )
    except ValueError:  # not base64, not UTF-8
        return False
    return verified


def _fresh(timestamp: str, now: datetime) -> bool:
    """Whether SendGrid's timestamp header (Unix seconds) is within SIGNATURE_TOLERANCE of now."""
    try:
        signed_at = datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        return False
    return abs(now - signed_at) <= SIGNATURE_TOLERANCE


SENDGRID_STATUS = {
    "delivered": Delivery.DELIVERED,
    "bounce": Delivery.FAILED,
    "dropped": Delivery.FAILED,
    "deferred": None,  # SendGrid keeps trying: only the reason is noted
}


def _sendgrid_report(event: dict[str, Any]) -> Report:
    kind = event["event"]
    sg_id = _text(event.get("sg_message_id")) or ""
    # sg_message_id is the X-Message-Id we stored, then ".filter..." parts of its own.
    parts = sg_id.split(".")[:8] if sg_id else []
    candidates = tuple(".".join(parts[: n + 1]) for n in range(len(parts)))
    try:
        ours = UUID(event["message_id"]) if isinstance(event.get("message_id"), str) else None
    except ValueError:
        ours = None
    reason = _text(event.get("reason")) or _text(event.get("response"))
    error = None if kind == "delivered" else f"{kind}: {reason or 'no reason given'}"
    return Report(ours, candidates, SENDGRID_STATUS[kind], error)


@webhooks.post(
    "/sendgrid/events",
    responses={400: {"description": "invalid_webhook: not a JSON array"}, **_SIGNED},
)
async def sendgrid_events(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    signature: Annotated[str | None, Header(alias="X-Twilio-Email-Event-Webhook-Signature")] = None,
    timestamp: Annotated[str | None, Header(alias="X-Twilio-Email-Event-Webhook-Timestamp")] = None,
) -> EventsHandled:
    """SendGrid's signed event webhook: deliveries, bounces and drops of our emails."""
    key = settings.sendgrid_webhook_public_key
    if key is None:
        raise _not_configured("SendGrid")
    payload = await request.body()
    if not signature or not timestamp or not _sendgrid_signed(key, payload, signature, timestamp):
        raise INVALID_SIGNATURE
    if not _fresh(timestamp, datetime.now(UTC)):
        raise STALE_SIGNATURE
    try:
        events = json.loads(payload)
    except ValueError as err:
        raise APIError(400, "invalid_webhook", f"the body is not JSON: {err}") from err
    if not isinstance(events, list):
        raise APIError(400, "invalid_webhook", "the body is not a JSON array of events")
    reports = [
        _sendgrid_report(event)
        for event in events
        if isinstance(event, dict)
        and isinstance(event.get("event"), str)
        and event["event"] in SENDGRID_STATUS
    ]
    return EventsHandled(handled=await record_reports(db, reports, now=datetime.now(UTC)))
