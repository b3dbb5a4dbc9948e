"""Local stand-ins for Google Calendar and Microsoft Graph on 127.0.0.1, as their docs say.

Each peer is one aiohttp app on two listeners: plain HTTP for the vendor's API and HTTPS (a test
CA made here) for its sign-in, since msal and oauthlib refuse an authority or token endpoint
that is not https. Every request is recorded; a test may script the next answers to requests
whose path contains a given part. Otherwise the peers keep calendars and events, page their
listings, hand out sync tokens and delta links, and expire them when told.
"""

from __future__ import annotations

import base64
import hashlib
import html
import ipaddress
import json
import re
import ssl
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import httpx
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from multidict import MultiDict

from devstack.peers.notify import Answer, Recorded


@dataclass(frozen=True)
class LoopbackTls:
    """A test CA and a certificate for 127.0.0.1 that it signed, as PEM files."""

    ca_path: str
    cert_path: str
    key_path: str

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def make_loopback_tls(directory: Path) -> LoopbackTls:
    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Calendar peers test CA")])

    def certificate(
        subject: x509.Name, public: ec.EllipticCurvePublicKey
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )

    usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement"), False
    )
    ca = (
        certificate(ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
                **usage,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        certificate(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), key.public_key()
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return LoopbackTls(str(paths["ca"]), str(paths["cert"]), str(paths["key"]))


class CalendarPeer:
    """One app on `url` (HTTP, the API) and `secure_url` (HTTPS, sign-in); records requests."""

    def __init__(self, tls: LoopbackTls) -> None:
        self.requests: list[Recorded] = []
        self._tls = tls
        self._scripts: list[tuple[str, deque[Answer]]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.secure_url = ""

    def answer_next(self, path_part: str, *answers: Answer) -> None:
        """Answer the next requests whose path contains `path_part` with these, in order."""
        self._scripts.append((path_part, deque(answers)))

    def requests_to(self, path_part: str, method: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if path_part in r.path and (method is None or r.method == method)
        ]

    def accept(self, request: Recorded) -> Answer | FormPost:
        raise NotImplementedError

    async def start(self, plain_port: int = 0, secure_port: int = 0) -> None:
        """Listen on 127.0.0.1 (free ports unless given)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", plain_port).start()
        secure = self._tls.server_context()
        await web.TCPSite(self._runner, "127.0.0.1", secure_port, ssl_context=secure).start()
        (_, plain_port, *_), (_, secure_port, *_) = self._runner.addresses
        self.url = f"http://127.0.0.1:{plain_port}"
        self.secure_url = f"https://127.0.0.1:{secure_port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.Response:
        recorded = await Recorded.of(request)
        self.requests.append(recorded)
        for part, answers in self._scripts:
            if part in recorded.path and answers:
                return answers.popleft().response()
        return self.accept(recorded).response()


@dataclass(frozen=True)
class FormPost:
    """The page that makes the browser POST the answer to the redirect URI (form_post)."""

    action: str
    fields: dict[str, str]

    def response(self) -> web.Response:
        inputs = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}" />'
            for k, v in self.fields.items()
        )
        page = (
            f'<html><body onload="document.forms[0].submit()"><form method="POST" '
            f'action="{html.escape(self.action)}">{inputs}</form></body></html>'
        )
        return web.Response(text=page, content_type="text/html")


async def consent(url: str, tls: LoopbackTls) -> dict[str, str]:
    """What the browser brings to our callback once the user consents at `url`: the redirect's
    query, or the hidden fields of a form_post page."""
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=tls.ca_path)) as browser:
        response = await browser.get(url)
    if response.status_code == 302:
        return dict(parse_qsl(urlsplit(response.headers["Location"]).query))
    assert response.status_code == 200, response.text
    found = re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)" />', response.text)
    return {html.unescape(name): html.unescape(value) for name, value in found}


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class OAuthGrants:
    """One OAuth client's authorization codes (with their PKCE challenge) and tokens."""

    client_id: str
    client_secret: str
    redirect_uri: str
    rotate_refresh_tokens: bool = False
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token: scope
    access_tokens: set[str] = field(default_factory=set)
    revoked: bool = False

    def authorize(self, query: MultiDict[str], **extra: str) -> Answer | FormPost:
        """Consent given at once: a redirect to the callback with a code and the state."""
        if query.get("client_id") != self.client_id:
            return Answer(400, {"error": "invalid_client"})
        if query.get("redirect_uri") != self.redirect_uri:
            return Answer(400, {"error": "redirect_uri_mismatch"})
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return Answer(400, {"error": "invalid_request", "error_description": "PKCE S256"})
        code = f"code-{uuid.uuid4().hex}"
        self.codes[code] = dict(query)
        answer = {"code": code, "state": query.get("state", "")} | extra
        if query.get("response_mode") == "form_post":
            return FormPost(self.redirect_uri, answer)
        return Answer(302, None, {"Location": f"{self.redirect_uri}?{urlencode(answer)}"})

    def client_authenticated(self, request: Recorded) -> bool:
        form = request.form()
        basic = request.headers.get("Authorization", "")
        ours = (self.client_id, self.client_secret)
        if not basic.startswith("Basic "):
            return (form.get("client_id"), form.get("client_secret")) == ours
        user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
        # RFC 6749 form-encodes both before Basic; requests-oauthlib does not.
        decoded = unquote(user.replace("+", " ")), unquote(password.replace("+", " "))
        return ours in ((user, password), decoded)

    def exchange(self, form: dict[str, str]) -> tuple[dict[str, Any] | str, dict[str, str]]:
        """(the token answer, or an invalid_grant description; what the code was asked with)."""
        asked = self.codes.pop(form.get("code", ""), None)
        if asked is None or form.get("redirect_uri") != asked["redirect_uri"]:
            return "Malformed auth code.", {}
        if pkce_challenge(form.get("code_verifier", "")) != asked["code_challenge"]:
            return "Invalid code verifier.", {}
        return self.issue(asked["scope"], refresh=True), asked

    def refresh(self, form: dict[str, str]) -> dict[str, Any] | str:
        scope = self.refresh_tokens.get(form.get("refresh_token", ""))
        if self.revoked or scope is None:
            return "Token has been expired or revoked."
        return self.issue(scope, refresh=self.rotate_refresh_tokens)

    def bearer_valid(self, request: Recorded) -> bool:
        said = request.headers.get("Authorization", "")
        return said.startswith("Bearer ") and said[7:] in self.access_tokens

    def revoke(self) -> None:
        """The user removed our access: every token stops working."""
        self.revoked = True
        self.access_tokens.clear()

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def issue(self, scope: str, refresh: bool) -> dict[str, Any]:
        access = f"access-{uuid.uuid4().hex}"
        self.access_tokens.add(access)
        answer = {
            "access_token": access,
            "expires_in": 3599,
            "scope": scope,
            "token_type": "Bearer",
        }
        if refresh:
            refresh_token = f"refresh-{uuid.uuid4().hex}"
            answer["refresh_token"] = refresh_token
            self.refresh_tokens[refresh_token] = scope
        return answer


def google_error(
    status: int, reason: str, message: str, headers: dict[str, str] | None = None
) -> Answer:
    """An error as Calendar API v3 words it."""
    body = {
        "error": {
            "errors": [{"domain": "global", "reason": reason, "message": message}],
            "code": status,
            "message": message,
        }
    }
    return Answer(status, body, headers or {})


@dataclass
class GoogleCalendar:
    summary: str
    time_zone: str
    access_role: str = "owner"
    primary: bool = False
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)  # event id: change number


GOOGLE_EVENTS = re.compile(
    r"^/calendar/v3/calendars/(?P<calendar>[^/]+)/events(?:/(?P<event>[^/]+))?$"
)
GOOGLE_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
NO_SYNC_TOKEN_WITH = ("timeMin", "timeMax", "updatedMin", "orderBy", "q", "iCalUID")


class GooglePeer(CalendarPeer):
    """Google's OAuth 2.0 endpoints (`/o/oauth2/v2/auth`, `/token`) and Calendar API v3
    (`/calendar/v3/users/me/calendarList`, `/calendar/v3/calendars/{id}/events[/{eventId}]`)."""

    def __init__(self, tls: LoopbackTls, grants: OAuthGrants) -> None:
        super().__init__(tls)
        self.grants = grants
        self.calendars: dict[str, GoogleCalendar] = {}
        self._change = 0
        self._sync_tokens: dict[str, int] = {}

    def add_calendar(self, calendar_id: str, summary: str, time_zone: str, **extra: Any) -> None:
        self.calendars[calendar_id] = GoogleCalendar(summary, time_zone, **extra)

    def put(self, calendar_id: str, event: dict[str, Any]) -> None:
        """The owner adds or edits an event in Google Calendar."""
        calendar = self.calendars[calendar_id]
        stored = {"kind": "calendar#event", "status": "confirmed"} | event
        stored["etag"] = f'"{uuid.uuid4().int % 10**16}"'
        self._change += 1
        calendar.events[event["id"]], calendar.changed[event["id"]] = stored, self._change

    def cancel(self, calendar_id: str, event_id: str) -> None:
        self.put(
            calendar_id, self.calendars[calendar_id].events[event_id] | {"status": "cancelled"}
        )

    def add_series(
        self,
        calendar_id: str,
        series_id: str,
        first: datetime,
        length: timedelta,
        count: int,
        **fields: Any,
    ) -> list[str]:
        """A weekly series: its master and, for singleEvents=true, its instances' ids."""
        zone = self.calendars[calendar_id].time_zone

        def when(moment: datetime) -> dict[str, str]:
            return {"dateTime": moment.isoformat(), "timeZone": zone}

        rule = [f"RRULE:FREQ=WEEKLY;COUNT={count}"]
        self.put(
            calendar_id,
            {"id": series_id, "start": when(first), "end": when(first + length), "recurrence": rule}
            | fields,
        )
        ids = []
        for n in range(count):
            start = first + timedelta(weeks=n)
            instance_id = f"{series_id}_{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
            ids.append(instance_id)
            instance = {
                "id": instance_id,
                "recurringEventId": series_id,
                "originalStartTime": when(start),
            }
            self.put(
                calendar_id, instance | {"start": when(start), "end": when(start + length)} | fields
            )
        return ids

    def expire_sync_tokens(self) -> None:
        self._sync_tokens.clear()

    def accept(self, request: Recorded) -> Answer | FormPost:
        if (request.method, request.path) == ("GET", "/o/oauth2/v2/auth"):
            return self.grants.authorize(request.query)
        if (request.method, request.path) == ("POST", "/token"):
            return self._token(request)
        if not self.grants.bearer_valid(request):
            return google_error(401, "authError", "Invalid Credentials")
        if (request.method, request.path) == ("GET", "/calendar/v3/users/me/calendarList"):
            return self._calendar_list(request)
        matched = GOOGLE_EVENTS.match(request.path)
        if matched is None or matched["calendar"] not in self.calendars:
            return google_error(404, "notFound", "Not Found")
        calendar_id, event_id = matched["calendar"], matched["event"]
        if event_id is None and request.method == "GET":
            return self._list(self.calendars[calendar_id], request.query)
        if event_id is None and request.method == "POST":
            return self._insert(calendar_id, request.json())
        return self._one(calendar_id, event_id, request)

    def _token(self, request: Recorded) -> Answer:
        if not self.grants.client_authenticated(request):
            return Answer(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        form = request.form()
        if form.get("grant_type") == "authorization_code":
            answer: dict[str, Any] | str = self.grants.exchange(form)[0]
        elif form.get("grant_type") == "refresh_token":
            answer = self.grants.refresh(form)
        else:
            return Answer(400, {"error": "unsupported_grant_type"})
        if isinstance(answer, str):
            return Answer(400, {"error": "invalid_grant", "error_description": answer})
        return Answer(200, answer)

    def _calendar_list(self, request: Recorded) -> Answer:
        items = [
            {
                "kind": "calendar#calendarListEntry",
                "id": calendar_id,
                "summary": calendar.summary,
                "timeZone": calendar.time_zone,
                "accessRole": calendar.access_role,
            }
            | ({"primary": True} if calendar.primary else {})
            for calendar_id, calendar in self.calendars.items()
        ]
        return Answer(200, self._page("calendar#calendarList", items, request.query, {}))

    def _list(self, calendar: GoogleCalendar, query: MultiDict[str]) -> Answer:
        token = query.get("syncToken")
        if token is not None and any(name in query for name in NO_SYNC_TOKEN_WITH):
            return google_error(400, "invalid", "Sync token cannot be used with these parameters.")
        if token is not None and token not in self._sync_tokens:
            return google_error(
                410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."
            )
        single = query.get("singleEvents") == "true"
        chosen = [
            event
            for event_id, event in sorted(
                calendar.events.items(), key=lambda e: calendar.changed[e[0]]
            )
            if ("recurrence" not in event if single else "recurringEventId" not in event)
            and (
                calendar.changed[event_id] > self._sync_tokens[token]
                if token is not None
                else event["status"] != "cancelled" and _overlaps(event, calendar.time_zone, query)
            )
        ]
        header = {
            "summary": calendar.summary,
            "timeZone": calendar.time_zone,
            "accessRole": calendar.access_role,
        }
        page = self._page("calendar#events", chosen, query, header)
        if "nextPageToken" not in page:
            page["nextSyncToken"] = f"sync-{uuid.uuid4().hex}"
            self._sync_tokens[page["nextSyncToken"]] = self._change
        return Answer(200, page)

    @staticmethod
    def _page(
        kind: str, items: list[dict[str, Any]], query: MultiDict[str], header: dict[str, Any]
    ) -> dict[str, Any]:
        size = int(query.get("maxResults", "250"))
        offset = int(query.get("pageToken", "page-0").removeprefix("page-"))
        page = {
            "kind": kind,
            "etag": f'"{uuid.uuid4().int % 10**16}"',
            **header,
            "items": items[offset : offset + size],
        }
        if offset + size < len(items):
            page["nextPageToken"] = f"page-{offset + size}"
        return page

    def _insert(self, calendar_id: str, event: dict[str, Any]) -> Answer:
        event_id = event.get("id") or uuid.uuid4().hex
        if not GOOGLE_EVENT_ID.match(event_id):
            return google_error(400, "invalid", "Invalid resource id value.")
        if event_id in self.calendars[calendar_id].events:
            return google_error(409, "duplicate", "The requested identifier already exists.")
        self.put(calendar_id, event | {"id": event_id})
        return Answer(200, self.calendars[calendar_id].events[event_id])

    def _one(self, calendar_id: str, event_id: str, request: Recorded) -> Answer:
        events = self.calendars[calendar_id].events
        if event_id not in events:
            return google_error(404, "notFound", "Not Found")
        if request.method == "GET":
            return Answer(200, events[event_id])
        if request.method == "DELETE":
            if events[event_id]["status"] == "cancelled":
                return google_error(410, "deleted", "Resource has been deleted")
            self.cancel(calendar_id, event_id)
            return Answer(204)
        if request.method not in ("PATCH", "PUT"):
            return google_error(405, "methodNotAllowed", "Method Not Allowed")
        base = events[event_id] if request.method == "PATCH" else {"status": "confirmed"}
        self.put(calendar_id, base | request.json() | {"id": event_id})
        return Answer(200, events[event_id])


def _when(value: dict[str, str], zone: str) -> datetime:
    """A Google or Graph start/end as an instant (a Windows zone name read as Graph does)."""
    if "date" in value:
        return datetime.combine(date.fromisoformat(value["date"]), time(), ZoneInfo(zone))
    moment = datetime.fromisoformat(value["dateTime"])
    named = value.get("timeZone") or zone
    return (
        moment
        if moment.tzinfo
        else moment.replace(tzinfo=ZoneInfo(WINDOWS_TO_OLSON.get(named, named)))
    )


def _overlaps(event: dict[str, Any], zone: str, query: MultiDict[str]) -> bool:
    start, end = _when(event["start"], zone), _when(event["end"], zone)
    after = "timeMin" not in query or end > datetime.fromisoformat(query["timeMin"])
    return after and ("timeMax" not in query or start < datetime.fromisoformat(query["timeMax"]))


def graph_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Answer:
    """An error as Microsoft Graph words it."""
    inner = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": str(uuid.uuid4()),
    }
    return Answer(
        status, {"error": {"code": code, "message": message, "innerError": inner}}, headers or {}
    )


@dataclass
class GraphCalendar:
    name: str
    can_edit: bool = True
    is_default: bool = False
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)  # event id: change number
    deleted: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DeltaRound:
    calendar_id: str
    start: datetime
    end: datetime
    since: int | None  # None: the round's first listing


MS_TOKEN = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/(?P<endpoint>authorize|token)$")
MS_DISCOVERY = re.compile(r"^/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration$")
GRAPH_CALENDAR = re.compile(
    r"^/v1\.0/me/calendars/(?P<calendar>[^/]+)/(?P<what>events|calendarView/delta)$"
)
GRAPH_EVENT = re.compile(r"^/v1\.0/me/events/(?P<event>[^/]+)$")
EXTENDED_FILTER = re.compile(
    r"^singleValueExtendedProperties/Any\(ep: "
    r"ep/id eq '(?P<id>[^']+)' and ep/value eq '(?P<value>[^']+)'\)$"
)


class MicrosoftPeer(CalendarPeer):
    """The Microsoft identity platform (OpenID discovery, `/{tenant}/oauth2/v2.0/authorize` and
    `/token`, on HTTPS) and Graph v1.0 (`/v1.0/me/calendars`, `.../calendarView/delta`,
    `.../events`, `/v1.0/me/events[/{id}]`)."""

    def __init__(self, tls: LoopbackTls, grants: OAuthGrants) -> None:
        super().__init__(tls)
        self.grants = grants
        self.calendars: dict[str, GraphCalendar] = {}
        self.extended: dict[str, dict[str, str]] = {}  # event id: extended property values
        self._change = 0
        self._rounds: dict[str, tuple[DeltaRound, int]] = {}  # skip or delta token: round, offset

    def add_calendar(self, calendar_id: str, name: str, **extra: Any) -> None:
        self.calendars[calendar_id] = GraphCalendar(name, **extra)

    def put(self, calendar_id: str, event: dict[str, Any]) -> None:
        """The owner adds or edits an event in Outlook."""
        defaults = {
            "type": "singleInstance",
            "isAllDay": False,
            "isCancelled": False,
            "showAs": "busy",
        }
        stored = defaults | event | {"@odata.etag": f'W/"{uuid.uuid4().hex[:16]}"'}
        self._change += 1
        calendar = self.calendars[calendar_id]
        calendar.events[event["id"]], calendar.changed[event["id"]] = stored, self._change

    def delete(self, calendar_id: str, event_id: str) -> None:
        self._change += 1
        calendar = self.calendars[calendar_id]
        del calendar.events[event_id]
        calendar.deleted[event_id] = self._change

    def add_series(
        self, calendar_id: str, series_id: str, first: datetime, length: timedelta, count: int
    ) -> list[str]:
        """A weekly series: its master and its occurrences (their ids returned)."""
        self.put(
            calendar_id,
            {
                "id": series_id,
                "type": "seriesMaster",
                "start": graph_time(first),
                "end": graph_time(first + length),
            },
        )
        ids = []
        for n in range(count):
            start = first + timedelta(weeks=n)
            ids.append(f"{series_id}-occurrence-{n}")
            occurrence = {"id": ids[-1], "type": "occurrence", "seriesMasterId": series_id}
            self.put(
                calendar_id,
                occurrence | {"start": graph_time(start), "end": graph_time(start + length)},
            )
        return ids

    def expire_delta_tokens(self) -> None:
        self._rounds.clear()

    def accept(self, request: Recorded) -> Answer | FormPost:
        if (found := MS_DISCOVERY.match(request.path)) is not None:
            return Answer(200, self._openid_configuration(found["tenant"]))
        if (found := MS_TOKEN.match(request.path)) is not None:
            if found["endpoint"] == "authorize":
                return self.grants.authorize(request.query, session_state=str(uuid.uuid4()))
            return self._token(request, found["tenant"])
        if not self.grants.bearer_valid(request):
            return graph_error(
                401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid."
            )
        if (request.method, request.path) == ("GET", "/v1.0/me/calendars"):
            return Answer(200, {"value": [self._calendar(i, c) for i, c in self.calendars.items()]})
        if (found := GRAPH_EVENT.match(request.path)) is not None:
            return self._one(found["event"], request)
        found = GRAPH_CALENDAR.match(request.path)
        if found is None or found["calendar"] not in self.calendars:
            return graph_error(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        if found["what"] == "events" and request.method == "POST":
            return self._create(found["calendar"], request.json())
        if found["what"] == "events" and request.method == "GET":
            return self._filter_events(self.calendars[found["calendar"]], request.query)
        if found["what"] == "calendarView/delta" and request.method == "GET":
            return self._delta(found["calendar"], request)
        return graph_error(405, "ErrorInvalidRequest", "Unsupported method.")

    def _openid_configuration(self, tenant: str) -> dict[str, Any]:
        base = f"{self.secure_url}/{tenant}"
        return {
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "issuer": f"{base}/v2.0",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
        }

    def _token(self, request: Recorded, tenant: str) -> Answer:
        if not self.grants.client_authenticated(request):
            return self._refusal("invalid_client", 7000215, "Invalid client secret provided.", 401)
        form = request.form()
        if form.get("grant_type") == "authorization_code":
            answer, asked = self.grants.exchange(form)
            if isinstance(answer, dict):
                answer |= {
                    "id_token": self._id_token(tenant, asked.get("nonce")),
                    "client_info": _b64_json({"uid": "user-1", "utid": tenant}),
                }
        elif form.get("grant_type") == "refresh_token":
            answer = self.grants.refresh(form)
        else:
            return self._refusal(
                "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        if isinstance(answer, str):
            return self._refusal("invalid_grant", 70000, answer)
        return Answer(200, answer | {"ext_expires_in": 3599})

    def _id_token(self, tenant: str, nonce: str | None) -> str:
        now = int(datetime.now(UTC).timestamp())
        claims = {
            "aud": self.grants.client_id,
            "iss": f"{self.secure_url}/{tenant}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "oid": "user-1",
            "sub": "subject-1",
            "tid": tenant,
            "preferred_username": "ana@contoso.example",
            "name": "Ana",
            "ver": "2.0",
        } | ({"nonce": nonce} if nonce else {})
        return f"{_b64_json({'alg': 'none', 'typ': 'JWT'})}.{_b64_json(claims)}."

    @staticmethod
    def _refusal(error: str, code: int, description: str, status: int = 400) -> Answer:
        body = {
            "error": error,
            "error_description": f"AADSTS{code}: {description}",
            "error_codes": [code],
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        }
        return Answer(status, body)

    @staticmethod
    def _calendar(calendar_id: str, calendar: GraphCalendar) -> dict[str, Any]:
        return {
            "id": calendar_id,
            "name": calendar.name,
            "canEdit": calendar.can_edit,
            "isDefaultCalendar": calendar.is_default,
            "canShare": True,
            "color": "auto",
            "owner": {"name": "Ana", "address": "ana@contoso.example"},
        }

    def _delta(self, calendar_id: str, request: Recorded) -> Answer:
        query = request.query
        token = query.get("$skiptoken") or query.get("$deltatoken")
        if token is not None:
            if token not in self._rounds:
                return graph_error(
                    410, "syncStateNotFound", "The sync state generation is not found."
                )
            current, offset = self._rounds[token]
        elif "startDateTime" in query and "endDateTime" in query:
            start, end = (
                datetime.fromisoformat(query[k]) for k in ("startDateTime", "endDateTime")
            )
            current, offset = DeltaRound(calendar_id, start, end, None), 0
        else:
            return graph_error(
                400, "ErrorInvalidParameter", "startDateTime and endDateTime are required."
            )
        calendar = self.calendars[current.calendar_id]
        rows: list[tuple[int, dict[str, Any]]] = []
        for event_id, event in calendar.events.items():
            if event["type"] == "seriesMaster":
                continue  # a calendar view holds occurrences, never the series
            inside = _inside(event, current)
            if current.since is None and inside:
                rows.append((calendar.changed[event_id], event))
            elif current.since is not None and calendar.changed[event_id] > current.since:
                rows.append((calendar.changed[event_id], event if inside else _removed(event_id)))
        rows += [
            (n, _removed(i))
            for i, n in calendar.deleted.items()
            if current.since is not None and n > current.since
        ]
        rows.sort(key=lambda row: row[0])
        size = min(
            (
                int(p.split("=")[1])
                for h in request.headers.getall("Prefer", [])
                for p in h.split(",")
                if "odata.maxpagesize" in p
            ),
            default=10,
        )
        link = f"{self.url}/v1.0/me/calendars/{calendar_id}/calendarView/delta"
        body: dict[str, Any] = {
            "@odata.context": f"{self.url}/v1.0/$metadata#Collection(event)",
            "value": [row for _, row in rows[offset : offset + size]],
        }
        if offset + size < len(rows):
            skip = uuid.uuid4().hex
            self._rounds[skip] = (current, offset + size)
            body["@odata.nextLink"] = f"{link}?$skiptoken={skip}"
        else:
            delta = uuid.uuid4().hex
            self._rounds[delta] = (
                DeltaRound(current.calendar_id, current.start, current.end, self._change),
                0,
            )
            body["@odata.deltaLink"] = f"{link}?$deltatoken={delta}"
        return Answer(200, body, {"Preference-Applied": f"odata.maxpagesize={size}"})

    def _create(self, calendar_id: str, event: dict[str, Any]) -> Answer:
        transaction = event.get("transactionId")
        for calendar in self.calendars.values():
            for existing in calendar.events.values():
                if transaction is not None and existing.get("transactionId") == transaction:
                    return Answer(201, existing)  # Graph's dedupe: the first event, unchanged
        event_id = f"AAMkAD{uuid.uuid4().hex}="
        properties = event.pop("singleValueExtendedProperties", [])
        self.extended[event_id] = {p["id"]: p["value"] for p in properties}
        now = datetime.now(UTC).isoformat()
        created = event | {
            "id": event_id,
            "createdDateTime": now,
            "lastModifiedDateTime": now,
            "originalStartTimeZone": event["start"]["timeZone"],
            "originalEndTimeZone": event["end"]["timeZone"],
            "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        }
        self.put(calendar_id, created)
        return Answer(201, self.calendars[calendar_id].events[event_id])

    def _filter_events(self, calendar: GraphCalendar, query: MultiDict[str]) -> Answer:
        matched = EXTENDED_FILTER.match(query.get("$filter", ""))
        if matched is None:
            return graph_error(
                400,
                "ErrorInvalidUrlQueryFilter",
                "The query filter contains one or more invalid nodes.",
            )
        found = [
            {"@odata.etag": event["@odata.etag"], "id": event_id}
            for event_id, event in calendar.events.items()
            if self.extended.get(event_id, {}).get(matched["id"]) == matched["value"]
        ]
        return Answer(200, {"value": found})

    def _one(self, event_id: str, request: Recorded) -> Answer:
        owner = next((i for i, c in self.calendars.items() if event_id in c.events), None)
        if owner is None:
            return graph_error(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        if request.method == "DELETE":
            self.delete(owner, event_id)
            return Answer(204)
        if request.method == "PATCH":
            self.put(owner, self.calendars[owner].events[event_id] | request.json())
        return Answer(200, self.calendars[owner].events[event_id])


def graph_time(moment: datetime) -> dict[str, str]:
    """A dateTimeTimeZone in UTC, as Graph writes it under `Prefer: outlook.timezone="UTC"`."""
    return {
        "dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
        "timeZone": "UTC",
    }


def _inside(event: dict[str, Any], round_: DeltaRound) -> bool:
    return _when(event["end"], "UTC") > round_.start and _when(event["start"], "UTC") < round_.end


def _removed(event_id: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.event",
        "id": event_id,
        "@removed": {"reason": "deleted"},
    }


def _b64_json(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
