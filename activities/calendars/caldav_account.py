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
import email.utils
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit
from uuid import UUID
from xml.etree import ElementTree
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import recurring_ical_events  # type: ignore[import-untyped]
import requests
from caldav import DAVClient
from caldav.lib.error import AuthorizationError
from icalendar import Calendar, Component, Event, Timezone
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from activities.calendars.port import CalendarRefused, CalendarRetryLater, GrantBroken, event_name
from activities.notifications.invites import PRODID, _vtimezone
from contract.calendars import BusyChanges, BusyEvent, CalendarInfo, EventToWrite, WrittenEvent
from domain.timezones import parse_zone

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 30
LOGIN_REFUSED = "the server refused the user name or app password"
# A server may cut a sync answer short (507) and hand over a token to go on from.
MAX_SYNC_PAGES = 100
BOOKING_UID_DOMAIN = "bookings"
D, C = "{DAV:}", "{urn:ietf:params:xml:ns:caldav}"
XMLNS = 'xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"'
WRITE_PRIVILEGES = frozenset({f"{D}all", f"{D}write", f"{D}write-content", f"{D}bind"})
CALENDAR_PROPS = (
    "d:resourcetype",
    "d:displayname",
    "d:current-user-privilege-set",
    "c:supported-calendar-component-set",
    "c:calendar-timezone",
)
OUR_UID = re.compile(r"booking-([0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12})@", re.IGNORECASE)
OUR_RESOURCE = re.compile(r"/booking([0-9a-f]{32})\.ics$")


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
        url = _event_url(calendar_id, event.booking_id)
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        ics = booking_ics(event)
        response = await asyncio.to_thread(self._request, "PUT", url, ics, headers)
        _expect(response, {200, 201, 204}, "writing the booking's event")
        return WrittenEvent(
            calendar_id=calendar_id, event_id=url, etag=response.headers.get("ETag")
        )

    async def delete_event(self, calendar_id: str, booking_id: UUID) -> None:
        url = _event_url(calendar_id, booking_id)
        response = await asyncio.to_thread(self._request, "DELETE", url)
        _expect(response, {200, 204, 404, 410}, "deleting the booking's event")

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
        except requests.RequestException as err:
            raise CalendarRefused(f"the CalDAV server's address is not usable: {err}") from err
        response: requests.Response | None = self._answers.last
        if response is None:
            raise CalendarRetryLater(f"{method} {url} got no answer")
        return response

    def _propfind(self, url: str, depth: int, *props: str, login: bool = True) -> list[_Entry]:
        """The properties of `url` (and its members at depth 1); while logging in, a 403 too
        means the password was refused."""
        names = "".join(f"<{prop}/>" for prop in props)
        body = f"<d:propfind {XMLNS}><d:prop>{names}</d:prop></d:propfind>"
        response = self._request("PROPFIND", url, body, {"Depth": str(depth)})
        _expect(response, {207}, f"PROPFIND {url}", login=login)
        return _multistatus(response)[0]

    def _discover(self) -> str:
        """The calendar home's URL, from the user's principal."""
        if self._home is None:
            entries = self._propfind(self._url, 0, "d:current-user-principal")
            principal = _href_in(entries, f"{D}current-user-principal")
            if principal is None:
                raise CalendarRefused(
                    f"{self._url} names no user principal: is it the CalDAV address your "
                    "provider documents?"
                )
            self._principal = urljoin(self._url, principal)
            entries = self._propfind(self._principal, 0, "c:calendar-home-set")
            home = _href_in(entries, f"{C}calendar-home-set")
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
        except _TokenRefused:
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
        collection = _resource_key(url)
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
                raise _TokenRefused
            _expect(response, {207}, "reading the calendar's changes")
            entries, token = _multistatus(response)
            cut_short = any(entry.status == 507 for entry in entries)
            for entry in entries:
                key = _resource_key(entry.href)
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
        _expect(response, {207}, "reading the calendar's events")
        entries = _multistatus(response)[0]
        return {_resource_key(e.href): e.text(f"{C}calendar-data") or None for e in entries}

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
                _mailbox(href) for href in hrefs if href.strip().lower().startswith("mailto:")
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


class _TokenRefused(Exception):
    """The server no longer knows the sync token: list everything."""


@dataclass(frozen=True)
class _Entry:
    """One `response` of a multistatus: its href, its status, its found (200) properties."""

    href: str
    status: int
    props: dict[str, ElementTree.Element]

    def text(self, tag: str) -> str | None:
        prop = self.props.get(tag)
        return None if prop is None else prop.text or ""

    def components(self) -> set[str] | None:
        prop = self.props.get(f"{C}supported-calendar-component-set")
        names = {c.get("name", "").upper() for c in prop.iter(f"{C}comp")} if prop else set()
        return names or None


def _multistatus(response: requests.Response) -> tuple[list[_Entry], str | None]:
    """The entries of a 207 answer, and its sync-token if it has one."""
    try:
        root = ElementTree.fromstring(response.content)
    except ElementTree.ParseError as err:
        raise CalendarRefused(f"the CalDAV server's answer is not XML: {err}") from err
    if root.tag != f"{D}multistatus":
        raise CalendarRefused(f"the CalDAV server answered {root.tag}, not a multistatus")
    entries = []
    for item in root.iterfind(f"{D}response"):
        props = {
            prop.tag: prop
            for propstat in item.iterfind(f"{D}propstat")
            if _status(propstat.findtext(f"{D}status")) == 200
            for prop in propstat.iterfind(f"{D}prop/*")
        }
        href = (item.findtext(f"{D}href") or "").strip()
        entries.append(_Entry(href, _status(item.findtext(f"{D}status")), props))
    return entries, root.findtext(f"{D}sync-token")


def _status(line: str | None) -> int:
    """`HTTP/1.1 404 Not Found` → 404; no status line means 200."""
    try:
        return int((line or "").split()[1])
    except (IndexError, ValueError):
        return 200


def _href_in(entries: list[_Entry], tag: str) -> str | None:
    for entry in entries:
        prop = entry.props.get(tag)
        href = prop.findtext(f"{D}href") if prop is not None else None
        if href and href.strip():
            return href.strip()
    return None


def _expect(response: requests.Response, ok: set[int], what: str, *, login: bool = False) -> None:
    """Raise the port's error for an answer not in `ok`: 401 (or 403 while logging in) breaks
    the grant; 429 and 5xx but 501 retry; any other answer is refused."""
    status = response.status_code
    if status in ok:
        return
    said = f"{what}: the CalDAV server answered {status} {response.reason or ''}".rstrip()
    if status == 401 or (login and status == 403):
        raise GrantBroken(LOGIN_REFUSED)
    if status == 429 or (500 <= status < 600 and status != 501):
        raise CalendarRetryLater(said, _retry_after(response.headers.get("Retry-After")))
    precondition = _precondition(response)
    said += f" ({precondition})" if precondition else ""
    hint = "; is it the CalDAV address your provider documents?" if login else ""
    raise CalendarRefused(said + hint)


def _precondition(response: requests.Response) -> str | None:
    """The DAV:error the server named (e.g. no-uid-conflict), if it named one."""
    try:
        root = ElementTree.fromstring(response.content)
    except ElementTree.ParseError:
        return None
    return root[0].tag.rpartition("}")[2] if root.tag == f"{D}error" and len(root) else None


def _retry_after(value: str | None) -> float | None:
    """Retry-After's seconds, or the wait until its HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when.replace(tzinfo=when.tzinfo or UTC) - datetime.now(UTC)).total_seconds())


def _resource_key(href: str) -> str:
    """A resource's path, encoded one way whatever the server's href looked like."""
    return quote(unquote(urlsplit(href).path))


def _event_url(calendar_id: str, booking_id: UUID) -> str:
    collection = calendar_id if calendar_id.endswith("/") else calendar_id + "/"
    return urljoin(collection, f"{event_name(booking_id)}.ics")


def _mailbox(address: str) -> str:
    """`mailto:Ann@Example.com` → `ann@example.com`."""
    address = address.strip().lower()
    return address.removeprefix("mailto:")


def booking_ics(event: EventToWrite) -> str:
    """The booking as one VEVENT in the provider's zone, its VTIMEZONE ahead of it."""
    zone = parse_zone(event.timezone)
    start, end = event.start.astimezone(zone), event.end.astimezone(zone)
    vevent = Event.new(
        uid=f"booking-{event.booking_id}@{BOOKING_UID_DOMAIN}",
        start=start,
        end=end,
        summary=event.summary,
        description=event.description,
    )
    calendar = Calendar.new(prodid=PRODID, subcomponents=[vevent])
    for tzid in sorted(calendar.get_missing_tzids()):
        calendar.subcomponents.insert(0, Timezone.from_ical(_vtimezone(tzid, start.year, end.year)))
    text: str = calendar.to_ical().decode()
    return text


def busy_of_resource(
    key: str,
    ics: str,
    start: datetime,
    end: datetime,
    calendar_zone: Callable[[], tzinfo | None],
    is_own: Callable[[str], bool],
) -> list[BusyEvent]:
    """The occurrences of one calendar resource between `start` and `end` that block time."""
    if not ics:
        return []
    try:
        calendar = Calendar.from_ical(ics)
        window = start.astimezone(UTC), end.astimezone(UTC)  # one tzinfo for both, as it asks
        occurrences = recurring_ical_events.of(calendar, skip_bad_series=True).between(*window)
    except ValueError as err:
        log.warning("calendar resource %s is not iCalendar we can read: %s", key, err)
        return []
    booking_id = _booking_of(key, calendar)
    zones: list[tzinfo] = []

    def local() -> tzinfo:
        if not zones:
            zones.append(calendar_zone() or _resource_zone(calendar) or UTC)
        return zones[0]

    busy = []
    for occurrence in occurrences:
        if not _blocks(occurrence, is_own):
            continue
        begins, ends = _instant(occurrence.start, local), _instant(occurrence.end, local)
        recurrence = occurrence.get("RECURRENCE-ID")
        which = _occurrence_id(recurrence.dt if recurrence is not None else occurrence.start)
        if ends > begins:
            busy.append(
                BusyEvent(
                    external_id=f"{key}#{which}", start=begins, end=ends, booking_id=booking_id
                )
            )
    return busy


def _blocks(occurrence: Component, is_own: Callable[[str], bool]) -> bool:
    """Not free (TRANSP:TRANSPARENT), not cancelled, not declined by the account's owner."""
    if str(occurrence.get("TRANSP", "")).upper() == "TRANSPARENT":
        return False
    if str(occurrence.get("STATUS", "")).upper() == "CANCELLED":
        return False
    attendees = occurrence.get("ATTENDEE", [])
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        declined = str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED"
        if declined and is_own(_mailbox(str(attendee))):
            return False
    return True


def _instant(value: date | datetime, local: Callable[[], tzinfo]) -> datetime:
    """A DATE is its day's start, a floating time a wall time, both in the `local` zone."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(), local())
    elif value.tzinfo is None:
        value = value.replace(tzinfo=local())
    return value.astimezone(UTC)


def _occurrence_id(value: date | datetime) -> str:
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if value.tzinfo is None:
        return value.strftime("%Y%m%dT%H%M%S")
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _booking_of(key: str, calendar: Calendar) -> UUID | None:
    """Ours: written by put_event (its resource name) or an invite's UID `booking-<uuid>@…`."""
    if named := OUR_RESOURCE.search(unquote(key)):
        return UUID(hex=named.group(1))
    for vevent in calendar.walk("VEVENT"):
        if uid := OUR_UID.match(str(vevent.get("UID", ""))):
            return UUID(uid.group(1))
    return None


def _resource_zone(calendar: Calendar) -> tzinfo | None:
    """The zone a resource names for itself: X-WR-TIMEZONE, else its VTIMEZONE."""
    tzids = [str(calendar.get("X-WR-TIMEZONE", ""))]
    tzids += [str(vtimezone.get("TZID", "")) for vtimezone in calendar.walk("VTIMEZONE")]
    name = next(filter(None, map(_iana, tzids)), None)
    return ZoneInfo(name) if name else None


def zone_name(calendar_timezone: str | None) -> str | None:
    """The IANA name of a calendar-timezone property (a VCALENDAR holding a VTIMEZONE)."""
    if not calendar_timezone:
        return None
    try:
        vtimezones = Calendar.from_ical(calendar_timezone).walk("VTIMEZONE")
    except ValueError:
        return None
    return next(filter(None, (_iana(str(v.get("TZID", ""))) for v in vtimezones)), None)


def _iana(tzid: str) -> str | None:
    """An IANA name from a TZID: itself, a Windows name, or one behind a prefix
    (`/mozilla.org/20050126_1/Europe/Berlin`)."""
    tzid = WINDOWS_TO_OLSON.get(tzid.strip(), tzid.strip())
    parts = tzid.split("/")
    for first in range(len(parts)):
        try:
            return parse_zone("/".join(parts[first:])).key
        except ValueError:
            continue
    return None
