"""The CalDAV adapter (iCloud, Fastmail, Nextcloud, Radicale): login, calendars, RFC 6578 sync.

caldav's DAVClient carries the login (it answers the server's 401 challenge with Basic, Digest
or Bearer); its calls block, so each of ours runs in a thread. Answers are read here from the
raw response, which a session hook keeps, because caldav's errors drop the status, the error
body and Retry-After.

Busy blocks are named `<resource>#<occurrence>`: the resource's path, percent-encoded so that it
holds no `#`, and the occurrence's original start (its RECURRENCE-ID) in UTC as
`YYYYMMDDTHHMMSSZ`, `YYYYMMDD` for an all-day one. An incremental sync lists every changed or
deleted resource in `removed` as its bare path: the store drops each block whose external_id is
that path or starts with `<path>#`, then stores the resource's current occurrences from `busy`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import unquote, urljoin
from uuid import UUID
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import requests
from caldav import DAVClient
from caldav.lib.error import AuthorizationError
from urllib3.exceptions import LocationValueError

from activities.calendars.caldav_http import (
    C,
    D,
    Entry,
    TokenRefused,
    expect,
    href_in,
    multistatus,
)
from activities.calendars.caldav_ical import (
    booking_ics,
    busy_of_resource,
    event_url,
    mailbox,
    resource_key,
    zone_name,
)
from activities.calendars.port import CalendarRefused, CalendarRetryLater
from contract.calendars import BusyChanges, BusyEvent, CalendarInfo, EventToWrite, WrittenEvent

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 30
# A server may cut a sync answer short (507) and hand over a token to go on from.
MAX_SYNC_PAGES = 100
XMLNS = 'xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"'
WRITE_PRIVILEGES = frozenset({f"{D}all", f"{D}write", f"{D}write-content", f"{D}bind"})
CALENDAR_PROPS = (
    "d:resourcetype",
    "d:displayname",
    "d:current-user-privilege-set",
    "c:supported-calendar-component-set",
    "c:calendar-timezone",
)


class CalDavAccount:
    """CalendarAccount on one CalDAV login; a calendar's id is its collection's URL."""

    kind = "caldav"

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        request_timeout: int = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self._url = url if url.endswith("/") else url + "/"
        self._username = username.strip().lower()
        self._client = DAVClient(
            self._url, username=username, password=password, timeout=request_timeout
        )
        self._client.session.hooks["response"].append(self._keep_answer)
        self._answers = threading.local()
        self._principal: str | None = None
        self._home: str | None = None
        self._addresses: frozenset[str] | None = None
        self._zones: dict[str, tzinfo | None] = {}

    async def calendars(self) -> list[CalendarInfo]:
        """The calendars that hold events (task lists left out), listed in one PROPFIND."""
        return await asyncio.to_thread(self._list_calendars)

    async def busy_changes(
        self, calendar_id: str, state: str | None, start: datetime, end: datetime
    ) -> BusyChanges:
        """One sync-collection REPORT that brings the changed resources' text along.

        `removed` holds resource paths (see the module's docstring), never occurrence ids. The
        account owner declined an invitation when an ATTENDEE with PARTSTAT=DECLINED is the
        login (when it is an address) or one of the principal's calendar-user-address-set.
        All-day and floating times are read in the calendar's calendar-timezone, else the
        resource's X-WR-TIMEZONE or VTIMEZONE, else UTC.
        """
        return await asyncio.to_thread(self._sync, calendar_id, state, start, end)

    async def put_event(self, calendar_id: str, event: EventToWrite) -> WrittenEvent:
        """PUT `<event_name>.ics` with UID `booking-<uuid>@bookings`: the same resource again
        overwrites it, so a retry never makes a second event."""
        url = event_url(calendar_id, event.booking_id)
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        ics = booking_ics(event)
        response = await asyncio.to_thread(self._request, "PUT", url, ics, headers)
        expect(response, {200, 201, 204}, "writing the booking's event")
        return WrittenEvent(
            calendar_id=calendar_id, event_id=url, etag=response.headers.get("ETag")
        )

    async def delete_event(self, calendar_id: str, booking_id: UUID) -> None:
        url = event_url(calendar_id, booking_id)
        response = await asyncio.to_thread(self._request, "DELETE", url)
        expect(response, {200, 204, 404, 410}, "deleting the booking's event")

    async def aclose(self) -> None:
        self._client.close()

    def _keep_answer(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._answers.last = response

    def _request(
        self, method: str, url: str, body: str = "", headers: dict[str, str] | None = None
    ) -> requests.Response:
        """The server's last answer (after the login challenge), whatever its status."""
        self._answers.last = None
        try:
            self._client.request(url, method, body, headers or {})
        except (AuthorizationError, SyntaxError):
            pass  # a 401 or 403, or XML caldav could not parse: the answer itself is judged
        except requests.exceptions.SSLError as err:
            raise CalendarRefused(f"the server's TLS certificate was refused: {err}") from err
        except (requests.ConnectionError, requests.Timeout) as err:
            raise CalendarRetryLater(f"the CalDAV server could not be reached: {err}") from err
        except (requests.RequestException, LocationValueError) as err:
            # urllib3 refuses some host names itself (an empty or overlong label), unwrapped.
            raise CalendarRefused(f"the CalDAV server's address is not usable: {err}") from err
        response: requests.Response | None = self._answers.last
        if response is None:
            raise CalendarRetryLater(f"{method} {url} got no answer")
        return response

    def _propfind(self, url: str, depth: int, *props: str, login: bool = True) -> list[Entry]:
        """The properties of `url` (and its members at depth 1); while logging in, a 403 too
        means the password was refused."""
        names = "".join(f"<{prop}/>" for prop in props)
        body = f"<d:propfind {XMLNS}><d:prop>{names}</d:prop></d:propfind>"
        response = self._request("PROPFIND", url, body, {"Depth": str(depth)})
        expect(response, {207}, f"PROPFIND {url}", login=login)
        return multistatus(response)[0]

    def _discover(self) -> str:
        """The calendar home's URL, from the user's principal."""
        if self._home is None:
            entries = self._propfind(self._url, 0, "d:current-user-principal")
            principal = href_in(entries, f"{D}current-user-principal")
            if principal is None:
                raise CalendarRefused(
                    f"{self._url} names no user principal: is it the CalDAV address your "
                    "provider documents?"
                )
            self._principal = urljoin(self._url, principal)
            entries = self._propfind(self._principal, 0, "c:calendar-home-set")
            home = href_in(entries, f"{C}calendar-home-set")
            if home is None:
                raise CalendarRefused("the CalDAV server names no calendar home for this user")
            self._home = urljoin(self._principal, home)
        return self._home

    def _list_calendars(self) -> list[CalendarInfo]:
        home = self._discover()
        calendars = []
        for entry in self._propfind(home, 1, *CALENDAR_PROPS):
            kind, components = entry.props.get(f"{D}resourcetype"), entry.components()
            if kind is None or kind.find(f"{C}calendar") is None:
                continue  # the home itself, scheduling inbox and outbox, address books
            if components is not None and "VEVENT" not in components:
                continue  # a task list
            privileges = entry.props.get(f"{D}current-user-privilege-set")
            url = urljoin(home, entry.href)
            calendars.append(
                CalendarInfo(
                    id=url,
                    name=entry.text(f"{D}displayname") or unquote(url.rstrip("/").split("/")[-1]),
                    can_write=privileges is None
                    or any(p.tag in WRITE_PRIVILEGES for p in privileges.iter()),
                    timezone=zone_name(entry.text(f"{C}calendar-timezone")),
                )
            )
        return calendars

    def _sync(
        self, calendar_id: str, state: str | None, start: datetime, end: datetime
    ) -> BusyChanges:
        try:
            token, found = self._changed_resources(calendar_id, state)
        except TokenRefused:
            state = None
            token, found = self._changed_resources(calendar_id, None)
        busy: dict[str, BusyEvent] = {}
        for key, ics in found.items():
            for event in busy_of_resource(
                key, ics or "", start, end, lambda: self._calendar_zone(calendar_id), self._is_own
            ):
                busy[event.external_id] = event
        return BusyChanges(
            busy=list(busy.values()),
            removed=[] if state is None else sorted(found),
            full=state is None,
            state=token,
        )

    def _changed_resources(
        self, url: str, token: str | None
    ) -> tuple[str | None, dict[str, str | None]]:
        """Each resource changed since `token` (all of them without one) with its text, None
        when deleted; and the collection's new token."""
        found: dict[str, str | None] = {}
        collection = resource_key(url)
        for _ in range(MAX_SYNC_PAGES):
            body = (
                f"<d:sync-collection {XMLNS}><d:sync-token>{escape(token or '')}</d:sync-token>"
                "<d:sync-level>1</d:sync-level><d:prop><d:getetag/><c:calendar-data/></d:prop>"
                "</d:sync-collection>"
            )
            response = self._request("REPORT", url, body, {"Depth": "0"})
            # RFC 6578 says 403 with DAV:valid-sync-token; servers vary, and a real refusal
            # comes back from the full listing that follows.
            status = response.status_code
            if token is not None and 400 <= status < 500 and status not in (401, 429):
                raise TokenRefused
            expect(response, {207}, "reading the calendar's changes")
            entries, token = multistatus(response)
            cut_short = any(entry.status == 507 for entry in entries)
            for entry in entries:
                key = resource_key(entry.href)
                if key != collection and entry.status != 507:
                    deleted = entry.status in (404, 410)
                    found[key] = None if deleted else entry.text(f"{C}calendar-data") or ""
            if missing := [key for key, ics in found.items() if ics == ""]:
                found.update(self._multiget(url, missing))
            if not cut_short:
                return token, found
        raise CalendarRetryLater(f"the calendar's changes did not end after {MAX_SYNC_PAGES} pages")

    def _multiget(self, url: str, keys: list[str]) -> dict[str, str | None]:
        """The text of resources a sync answer named without it (a server may)."""
        hrefs = "".join(f"<d:href>{escape(key)}</d:href>" for key in keys)
        body = f"<c:calendar-multiget {XMLNS}><d:prop><c:calendar-data/></d:prop>{hrefs}"
        response = self._request("REPORT", url, body + "</c:calendar-multiget>", {"Depth": "1"})
        expect(response, {207}, "reading the calendar's events")
        entries = multistatus(response)[0]
        return {resource_key(e.href): e.text(f"{C}calendar-data") or None for e in entries}

    def _calendar_zone(self, calendar_id: str) -> tzinfo | None:
        """The calendar's calendar-timezone, asked once and only when an event needs it."""
        if calendar_id not in self._zones:
            entries = self._propfind(calendar_id, 0, "c:calendar-timezone", login=False)
            name = zone_name(entries[0].text(f"{C}calendar-timezone") if entries else None)
            self._zones[calendar_id] = ZoneInfo(name) if name else None
        return self._zones[calendar_id]

    def _is_own(self, address: str) -> bool:
        """Whether an attendee's address is the account's: its login, or (asked once) one of
        the principal's calendar-user-address-set."""
        if address == self._username:
            return True
        if self._addresses is None:
            self._discover()
            assert self._principal is not None
            entries = self._propfind(self._principal, 0, "c:calendar-user-address-set")
            prop = entries[0].props.get(f"{C}calendar-user-address-set") if entries else None
            hrefs = [] if prop is None else [unquote(h.text or "") for h in prop.iter(f"{D}href")]
            self._addresses = frozenset(
                mailbox(href) for href in hrefs if href.strip().lower().startswith("mailto:")
            )
        return address in self._addresses


async def connect_caldav(
    url: str, username: str, password: str, *, request_timeout: int = REQUEST_TIMEOUT_SECONDS
) -> tuple[CalDavAccount, list[CalendarInfo]]:
    """Log in and list the calendars. GrantBroken(LOGIN_REFUSED) for a wrong user name or app
    password; CalendarRefused when `url` is no CalDAV server or names no calendar home;
    CalendarRetryLater when it cannot be reached or fails (5xx)."""
    account = CalDavAccount(url, username, password, request_timeout=request_timeout)
    try:
        return account, await account.calendars()
    except BaseException:
        await account.aclose()
        raise
