"""Local stand-ins for SendGrid, Twilio and an SMTP relay on 127.0.0.1, as their docs describe them.

Each peer records every request and answers it as its vendor would (including the vendor's
own refusals of a bad address or number), unless a test scripted the next answers.
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
from urllib.parse import parse_qsl

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session
from multidict import CIMultiDict

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
        recorded = Recorded(
            request.method, request.path, CIMultiDict(request.headers), await request.read()
        )
        self.requests.append(recorded)
        answer = self._script.popleft() if self._script else self.accept(recorded)
        return answer.response()


def sendgrid_error(
    status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Answer:
    """An error as SendGrid's v3 API words it."""
    error = {"message": message, "field": field, "help": None}
    return Answer(status, {"errors": [error]}, headers or {})


class SendGridPeer(VendorPeer):
    """`POST /v3/mail/send`: 202, an empty body and `X-Message-Id`, as SendGrid documents it."""

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.message_ids: list[str] = []

    def accept(self, request: Recorded) -> Answer:
        if (request.method, request.path) != ("POST", "/v3/mail/send"):
            return sendgrid_error(404, "resource not found")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return sendgrid_error(
                401, "The provided authorization grant is invalid, expired, or revoked"
            )
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
        return Answer(202, None, {"X-Message-Id": message_id})


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
    """`POST /2010-04-01/Accounts/{sid}/Messages.json`: 201 and the queued Message resource."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sids: list[str] = []

    def accept(self, request: Recorded) -> Answer:
        messages = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if (request.method, request.path) != ("POST", messages):
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        basic = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {basic}":
            return twilio_error(401, 20003, "Authenticate")
        form = request.form()
        if not E164.match(form.get("To", "")):
            return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {form.get('To', '')}")
        sid = f"SM{uuid.uuid4().hex}"
        self.sids.append(sid)
        now = format_datetime(datetime.now(UTC), usegmt=True)
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
        return Answer(201, resource)


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
