"""Local stand-ins for SendGrid, Twilio and an SMTP relay on 127.0.0.1, as their docs describe them.

Each peer records every request and answers it as its vendor would (including the vendor's
own refusals of a bad address or number), unless a test scripted the next answers. The HTTP
peers also remember what they accepted and list it back as their vendor's list API does.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from multidict import CIMultiDict, MultiDict

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
# Addresses the SMTP inbox refuses for good, and defers.
REFUSED = "nobody@example.com"
DEFERRED = "busy@example.com"


@dataclass(frozen=True)
class Recorded:
    """One request as the peer received it."""

    method: str
    path: str
    headers: CIMultiDict[str]
    body: bytes
    query: MultiDict[str] = field(default_factory=MultiDict)

    @classmethod
    async def of(cls, request: web.Request) -> Recorded:
        return cls(
            request.method,
            request.path,
            CIMultiDict(request.headers),
            await request.read(),
            MultiDict(request.query),
        )

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), strict_parsing=True))


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None  # JSON, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> web.Response:
        if self.body is None:
            return web.Response(status=self.status, headers=self.headers)
        return web.json_response(self.body, status=self.status, headers=self.headers)


class VendorPeer:
    """An HTTP server on 127.0.0.1 that records requests and answers a script, then `accept`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: deque[Answer] = deque()
        self._runner: web.AppRunner | None = None
        self.url = ""

    def answer_next(self, *answers: Answer) -> None:
        """Answer the next requests with these, in order, whatever they ask."""
        self._script.extend(answers)

    def accept(self, request: Recorded) -> Answer:
        raise NotImplementedError

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.Response:
        recorded = await Recorded.of(request)
        self.requests.append(recorded)
        answer = self._script.popleft() if self._script else self.accept(recorded)
        return answer.response()


def sendgrid_error(
    status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Answer:
    """An error as SendGrid's v3 API words it."""
    error = {"message": message, "field": field, "help": None}
    return Answer(status, {"errors": [error]}, headers or {})


# The Email Activity query this peer understands: one unique argument equal to a value.
UNIQUE_ARG_QUERY = re.compile(r"""^unique_args\['(?P<key>[^']+)'\]="(?P<value>[^"]*)"$""")


class SendGridPeer(VendorPeer):
    """`POST /v3/mail/send`: 202, an empty body and `X-Message-Id`, as SendGrid documents it.
    `GET /v3/messages` (the Email Activity API, a paid add-on: 403 when `email_activity` is
    off) lists what it accepted: `{"messages": [{"msg_id", ...}]}`, newest first."""

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.message_ids: list[str] = []
        # One entry per recipient, as the activity feed shows it, with the custom_args it had.
        self.activity: list[tuple[dict[str, Any], dict[str, str]]] = []
        self.email_activity = True

    def accept(self, request: Recorded) -> Answer:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return sendgrid_error(
                401, "The provided authorization grant is invalid, expired, or revoked"
            )
        if (request.method, request.path) == ("POST", "/v3/mail/send"):
            return self._send(request)
        if (request.method, request.path) == ("GET", "/v3/messages"):
            return self._messages(request)
        return sendgrid_error(404, "resource not found")

    def _send(self, request: Recorded) -> Answer:
        mail = request.json()
        for i, personalization in enumerate(mail["personalizations"]):
            for j, to in enumerate(personalization["to"]):
                if "@" not in to["email"]:
                    return sendgrid_error(
                        400,
                        "Does not contain a valid address.",
                        f"personalizations.{i}.to.{j}.email",
                    )
        message_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        self.message_ids.append(message_id)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for n, personalization in enumerate(mail["personalizations"]):
            args = mail.get("custom_args", {}) | personalization.get("custom_args", {})
            for to in personalization["to"]:
                listed = {
                    "from_email": mail["from"]["email"],
                    # sg_message_id: the X-Message-Id, then SendGrid's own parts.
                    "msg_id": f"{message_id}.filterdrecv-5bf99c48d-{n}.0",
                    "subject": personalization.get("subject", mail.get("subject")),
                    "to_email": to["email"],
                    "status": "processed",
                    "opens_count": 0,
                    "clicks_count": 0,
                    "last_event_time": now,
                }
                self.activity.append((listed, args))
        return Answer(202, None, {"X-Message-Id": message_id})

    def _messages(self, request: Recorded) -> Answer:
        if not self.email_activity:
            return sendgrid_error(403, "access forbidden")
        matched = UNIQUE_ARG_QUERY.match(request.query.get("query", ""))
        if matched is None:
            return sendgrid_error(400, "invalid query", "query")
        key, value = matched["key"], matched["value"]
        limit = int(request.query.get("limit", "10"))
        found = [listed for listed, args in reversed(self.activity) if args.get(key) == value]
        return Answer(200, {"messages": found[:limit]})


def twilio_error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> Answer:
    """An error as Twilio's 2010-04-01 API words it."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Answer(status, body, headers or {})


class TwilioPeer(VendorPeer):
    """`POST /2010-04-01/Accounts/{sid}/Messages.json`: 201 and the queued Message resource.
    `GET` on the same path lists them, newest first, filtered by `To` and `From`, in pages of
    `PageSize`: `{"messages": [...], "page", "page_size", "next_page_uri", ...}`."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sids: list[str] = []
        # Every Message resource created, oldest first; a test may age or edit them.
        self.messages: list[dict[str, Any]] = []

    def accept(self, request: Recorded) -> Answer:
        messages = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.path != messages or request.method not in ("GET", "POST"):
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        basic = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {basic}":
            return twilio_error(401, 20003, "Authenticate")
        if request.method == "GET":
            return self._list(request, messages)
        form = request.form()
        if not E164.match(form.get("To", "")):
            return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {form.get('To', '')}")
        sid = f"SM{uuid.uuid4().hex}"
        self.sids.append(sid)
        now = format_datetime(datetime.now(UTC))  # "Thu, 30 Jul 2015 20:12:31 +0000"
        resource = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form.get("Body"),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": messages.replace(".json", f"/{sid}/Media.json")},
            "to": form["To"],
            "uri": messages.replace(".json", f"/{sid}.json"),
        }
        self.messages.append(resource)
        return Answer(201, resource)

    def _list(self, request: Recorded, messages: str) -> Answer:
        filters = {k: request.query[k] for k in ("To", "From") if k in request.query}
        size = int(request.query.get("PageSize", "50"))
        page = int(request.query.get("Page", "0"))
        matching = [
            m for m in reversed(self.messages) if all(m[k.lower()] == v for k, v in filters.items())
        ]
        listed = matching[page * size : (page + 1) * size]

        def uri(n: int) -> str:
            return f"{messages}?{urlencode(filters | {'PageSize': size, 'Page': n})}"

        more = len(matching) > (page + 1) * size
        body = {
            "end": page * size + max(len(listed) - 1, 0),
            "first_page_uri": uri(0),
            "messages": listed,
            "next_page_uri": uri(page + 1) if more else None,
            "page": page,
            "page_size": size,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
            "start": page * size,
            "uri": uri(page),
        }
        return Answer(200, body)


class Inbox:
    """An aiosmtpd handler that keeps every envelope; refuses one address, defers another."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 No such user here"
        if address == DEFERRED:
            return "450 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class Login:
    """An aiosmtpd authenticator for one username and password; anything else gets
    `535 5.7.8 Authentication credentials invalid`."""

    def __init__(self, username: str, password: str) -> None:
        self._expected = LoginPassword(username.encode(), password.encode())

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        return AuthResult(success=auth_data == self._expected, handled=False)
