"""The Microsoft 365 / Outlook adapter: Microsoft Graph v1.0 over httpx (no Graph SDK).

Busy time comes from `calendarView/delta`: occurrences of a series arrive expanded, deleted
ones as `@removed`. The sync state is JSON: the `@odata.deltaLink` and the end of the window
its round was opened with; a horizon past that end opens a new round (a full listing).

Our events carry `transactionId` = event_name(booking_id), so Graph does not create one twice
for a retried POST, and the same name in a single-value extended property, which Graph can
filter on (it cannot filter on transactionId): a put or delete that is not told the event's
id finds it that way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import quote
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from activities.calendars.oauth import Grant, TokenRefresher
from activities.calendars.port import (
    CalendarRefused,
    CalendarRetryLater,
    GrantBroken,
    event_name,
    retry_after_seconds,
)
from contract.calendars import (
    BusyChanges,
    BusyEvent,
    CalendarInfo,
    EventToWrite,
    OAuthTokens,
    WrittenEvent,
)
from domain.timezones import parse_zone

GRAPH_API = "https://graph.microsoft.com/v1.0"
PAGE_SIZE = 100
REQUEST_TIMEOUT_SECONDS = 20
HORIZON_SLACK = timedelta(days=7)  # as for Google: the horizon may move a week per round
# Our namespace GUID for the extended property that names a booking's event.
BOOKING_PROPERTY = "String {6b0f3d52-6c1e-4b8e-9a57-3f1c2d7e9a10} Name bookingEvent"
SYNC_STATE_LOST = frozenset({"syncstatenotfound", "syncstateinvalid", "resyncrequired"})
OUR_EVENT = re.compile(r"booking([0-9a-f]{32})")
OLSON_TO_WINDOWS = {olson: windows for windows, olson in reversed(WINDOWS_TO_OLSON.items())}


class _SyncStateLost(Exception):
    """Graph no longer knows the delta round's state."""


class MicrosoftCalendarAccount:
    """CalendarAccount on one Microsoft grant. `timezone` (the mailbox's) places all-day events
    whose own zone Graph does not name; `api_base` points the client at another host."""

    kind = "microsoft"

    def __init__(
        self,
        tokens: OAuthTokens,
        oauth: TokenRefresher,
        on_refreshed: Callable[[OAuthTokens], Awaitable[None]],
        *,
        api_base: str = GRAPH_API,
        timezone: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._grant = Grant(tokens, oauth, on_refreshed)
        self._prefer = [
            ("Prefer", f"odata.maxpagesize={page_size}"),
            ("Prefer", 'outlook.timezone="UTC"'),  # dateTimes in UTC, all-day ones as midnights
        ]
        self._api = api_base.rstrip("/")
        self._zone = _zone(timezone, ZoneInfo("UTC"))
        self._http = httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS)

    async def calendars(self) -> list[CalendarInfo]:
        found: list[CalendarInfo] = []
        url: str | None = f"{self._api}/me/calendars"
        while url is not None:
            page = (await self._send("GET", url)).json()
            found += [
                CalendarInfo(
                    id=item["id"],
                    name=item.get("name") or item["id"],
                    primary=bool(item.get("isDefaultCalendar")),
                    can_write=bool(item.get("canEdit", True)),
                )
                for item in page.get("value", [])
            ]
            url = page.get("@odata.nextLink")
        return found

    async def busy_changes(
        self, calendar_id: str, state: str | None, start: datetime, end: datetime
    ) -> BusyChanges:
        """Follow the delta round's links to its new deltaLink; an expired round (410, or
        Graph's syncStateNotFound/resyncRequired) opens a new one."""
        link, until = _read_state(state)
        if link is not None and until is not None and end <= until:
            try:
                return await self._delta(link, None, start, until)
            except _SyncStateLost:
                pass
        until = end + HORIZON_SLACK
        url = f"{self._api}/me/calendars/{quote(calendar_id, safe='')}/calendarView/delta"
        window = {"startDateTime": _utc(start), "endDateTime": _utc(until)}
        try:
            return await self._delta(url, window, start, until)
        except _SyncStateLost as err:
            raise CalendarRetryLater("Graph lost a new delta round's state") from err

    async def put_event(
        self, calendar_id: str, event: EventToWrite, *, event_id: str | None = None
    ) -> WrittenEvent:
        """PATCH the booking's event when it exists (by `event_id` if known, else found by its
        extended property), else POST it with its transactionId."""
        fields = _event_fields(event)
        known = event_id or await self._find(calendar_id, event.booking_id)
        if known is not None:
            moved = await self._send("PATCH", self._event_url(known), {404}, json=fields)
            if moved.status_code != 404:
                return _written(calendar_id, moved.json())
        name = event_name(event.booking_id)
        created = await self._send(
            "POST",
            self._events_url(calendar_id),
            json={
                **fields,
                "transactionId": name,
                "singleValueExtendedProperties": [{"id": BOOKING_PROPERTY, "value": name}],
            },
        )
        return _written(calendar_id, created.json())

    async def delete_event(
        self, calendar_id: str, booking_id: UUID, *, event_id: str | None = None
    ) -> None:
        """DELETE the booking's event; none found, or a 404, is fine."""
        known = event_id or await self._find(calendar_id, booking_id)
        if known is not None:
            await self._send("DELETE", self._event_url(known), {404})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _find(self, calendar_id: str, booking_id: UUID) -> str | None:
        """The id of the booking's event in the calendar, by its extended property
        (`/me/events` would search the default calendar only)."""
        match = f"ep/id eq '{BOOKING_PROPERTY}' and ep/value eq '{event_name(booking_id)}'"
        params = {"$filter": f"singleValueExtendedProperties/Any(ep: {match})", "$select": "id"}
        found = (await self._send("GET", self._events_url(calendar_id), params=params)).json()
        return next((item["id"] for item in found.get("value", [])), None)

    async def _delta(
        self, url: str, window: dict[str, str] | None, start: datetime, until: datetime
    ) -> BusyChanges:
        full = window is not None
        busy: list[BusyEvent] = []
        removed: list[str] = []
        params = window
        while True:
            response = await self._send(
                "GET", url, {400, 404, 410}, params=params, headers=self._prefer
            )
            if response.status_code in (400, 404, 410):
                if response.status_code == 410 or _error(response)[0].lower() in SYNC_STATE_LOST:
                    raise _SyncStateLost
                raise _failure(response)
            page = response.json()
            for item in page.get("value", []):
                found = None if "@removed" in item else _busy_event(item, self._zone)
                if found is not None and found.end > start and found.start < until:
                    busy.append(found)
                elif not full or "@removed" in item:
                    removed.append(item["id"])
            if "@odata.nextLink" in page:
                url, params = page["@odata.nextLink"], None
                continue
            link = page.get("@odata.deltaLink")
            state = json.dumps({"deltaLink": link, "until": until.isoformat()})
            return BusyChanges(busy=busy, removed=removed, full=full, state=state)

    def _events_url(self, calendar_id: str) -> str:
        return f"{self._api}/me/calendars/{quote(calendar_id, safe='')}/events"

    def _event_url(self, event_id: str) -> str:
        return f"{self._api}/me/events/{quote(event_id, safe='')}"

    async def _send(
        self,
        method: str,
        url: str,
        answered: set[int] | frozenset[int] = frozenset(),
        **options: Any,
    ) -> httpx.Response:
        """Graph's 2xx answer, or one whose status is in `answered`; any other answer raises.
        A 401 gets one refresh and one retry; a second 401 breaks the grant."""
        access_token = await self._grant.access_token()
        for attempt in ("first", "after a refresh"):
            headers = httpx.Headers(options.get("headers"))
            headers["Authorization"] = f"Bearer {access_token}"
            try:
                response = await self._http.request(method, url, **{**options, "headers": headers})
            except httpx.TransportError as err:
                raise CalendarRetryLater(f"Graph could not be reached: {err!r}") from err
            if response.status_code == 401 and attempt == "first":
                access_token = await self._grant.refused(access_token)
                continue
            if response.status_code == 401:
                code, message = _error(response)
                raise GrantBroken(f"Graph refused a freshly refreshed token ({code}): {message}")
            if response.is_success or response.status_code in answered:
                return response
            raise _failure(response)
        raise AssertionError("unreachable")


def _busy_event(item: dict[str, Any], mailbox_zone: tzinfo) -> BusyEvent | None:
    """The span `item` makes the owner busy, or None: cancelled, shown as free, declined, or a
    series master (its occurrences come on their own)."""
    if item.get("isCancelled") or item.get("showAs") == "free":
        return None
    if item.get("type") == "seriesMaster":
        return None
    if (item.get("responseStatus") or {}).get("response") == "declined":
        return None
    if item.get("isAllDay"):
        zone = _zone(item.get("originalStartTimeZone"), mailbox_zone)
        start = _all_day(item["start"], zone)
        end = _all_day(item["end"], zone)
    else:
        start, end = _instant(item["start"]), _instant(item["end"])
    ours = OUR_EVENT.fullmatch(item.get("transactionId") or "")
    return BusyEvent(
        external_id=item["id"], start=start, end=end, booking_id=UUID(ours[1]) if ours else None
    )


def _instant(when: dict[str, str]) -> datetime:
    """A dateTimeTimeZone: a wall time (seven fraction digits) and the zone it is in."""
    moment = datetime.fromisoformat(when["dateTime"])
    return moment.replace(tzinfo=_zone(when.get("timeZone"), ZoneInfo("UTC")))


def _all_day(when: dict[str, str], zone: tzinfo) -> datetime:
    """All-day events are whole dates; Graph gives them as midnights of that date."""
    return datetime.combine(date.fromisoformat(when["dateTime"][:10]), time(), zone)


def _zone(name: str | None, fallback: tzinfo) -> tzinfo:
    """An IANA or Windows zone name as Graph writes it; `fallback` when unknown."""
    if not name:
        return fallback
    if name.upper() in ("UTC", "TZONE://MICROSOFT/UTC"):
        return ZoneInfo("UTC")
    try:
        return parse_zone(WINDOWS_TO_OLSON.get(name, name))
    except ValueError:
        return fallback


def _event_fields(event: EventToWrite) -> dict[str, Any]:
    """The event's wall times in its zone under the zone's Windows name (Graph's own), or in
    UTC when Windows has no name for it."""
    zone_name = OLSON_TO_WINDOWS.get(event.timezone)
    zone = parse_zone(event.timezone) if zone_name else UTC

    def wall(moment: datetime) -> dict[str, str]:
        local = moment.astimezone(zone).replace(tzinfo=None)
        return {"dateTime": local.isoformat(), "timeZone": zone_name or "UTC"}

    return {
        "subject": event.summary,
        "body": {"contentType": "text", "content": event.description},
        "start": wall(event.start),
        "end": wall(event.end),
    }


def _written(calendar_id: str, event: dict[str, Any]) -> WrittenEvent:
    return WrittenEvent(
        calendar_id=calendar_id, event_id=event["id"], etag=event.get("@odata.etag")
    )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_state(state: str | None) -> tuple[str | None, datetime | None]:
    try:
        saved = json.loads(state) if state else {}
        link, until = saved["deltaLink"], datetime.fromisoformat(saved["until"])
    except (ValueError, KeyError, TypeError):
        return None, None  # none, or not ours: a new round
    return (link, until) if isinstance(link, str) else (None, None)


def _failure(response: httpx.Response) -> Exception:
    """429, 503 and 504 (throttled, with Retry-After) and other 5xx pass; 4xx are for good."""
    code, message = _error(response)
    said = f"Graph answered {response.status_code} ({code}): {message}"
    if response.status_code == 429 or response.status_code >= 500:
        return CalendarRetryLater(said, retry_after_seconds(response.headers.get("Retry-After")))
    return CalendarRefused(said)


def _error(response: httpx.Response) -> tuple[str, str]:
    """Graph's `error.code` and `error.message`."""
    try:
        error = response.json()["error"]
        return str(error.get("code", "")), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return "", response.text[:200]
