"""The Google Calendar adapter: Calendar API v3 through google-api-python-client.

The client blocks (httplib2, which is not thread-safe), so calls run in a thread one at a time
per account. The discovery document is the one bundled with the client (no network). The bearer
token is set on each request from the Grant instead of through google-auth's AuthorizedHttp,
so that a 401 gets one refresh and one retry, and a second 401 breaks the grant.

The sync state is JSON: Google's sync token and how far the full listing it came from reached.
When the horizon passes that point, the next sync is a full listing again.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httplib2  # type: ignore[import-untyped]
from googleapiclient.discovery import build  # type: ignore[import-untyped]
from googleapiclient.errors import HttpError  # type: ignore[import-untyped]

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

PAGE_SIZE = 250
REQUEST_TIMEOUT_SECONDS = 20
# A full listing reaches this far past the horizon, so the horizon can move for a week on
# incremental syncs before the next full one.
HORIZON_SLACK = timedelta(days=7)
# 403 reasons that pass with time (a rate, the daily quota, the calendar's usage limits).
RATE_LIMITED = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded", "quotaExceeded"}
)
WRITERS = frozenset({"owner", "writer"})
# Where one works and whose birthday it is: all-day entries that do not make anyone busy.
NOT_BUSY_TYPES = frozenset({"workingLocation", "birthday"})
OUR_EVENT = re.compile(r"booking([0-9a-f]{32})")
NO_ANSWER = frozenset[int]()


class GoogleCalendarAccount:
    """CalendarAccount on one Google grant; `api_base` points the client at another host."""

    kind = "google"

    def __init__(
        self,
        tokens: OAuthTokens,
        oauth: TokenRefresher,
        on_refreshed: Callable[[OAuthTokens], Awaitable[None]],
        *,
        api_base: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._grant = Grant(tokens, oauth, on_refreshed)
        self._page_size = page_size
        self._http = httplib2.Http(timeout=REQUEST_TIMEOUT_SECONDS)
        self._endpoint = f"{api_base.rstrip('/')}/calendar/v3/" if api_base else None
        self._service: Any = None
        self._lock = asyncio.Lock()

    async def calendars(self) -> list[CalendarInfo]:
        found: list[CalendarInfo] = []
        page_token: str | None = None
        while True:
            _, page = await self._call(
                "calendarList", "list", maxResults=self._page_size, pageToken=page_token
            )
            found += [
                CalendarInfo(
                    id=item["id"],
                    name=item.get("summaryOverride") or item.get("summary", item["id"]),
                    primary=bool(item.get("primary")),
                    can_write=item.get("accessRole") in WRITERS,
                    timezone=item.get("timeZone"),
                )
                for item in page.get("items", [])
            ]
            page_token = page.get("nextPageToken")
            if page_token is None:
                return found

    async def busy_changes(
        self, calendar_id: str, state: str | None, start: datetime, end: datetime
    ) -> BusyChanges:
        """`events.list` with singleEvents (recurring events as their instances): a sync token
        when the state holds one that reaches `end`, else timeMin/timeMax (Google refuses them
        beside a sync token). A 410 for the token starts a full listing."""
        token, until = _read_state(state)
        if token is not None and until is not None and end <= until:
            changes = await self._listing(calendar_id, {"syncToken": token}, start, until)
            if changes is not None:
                return changes
        until = end + HORIZON_SLACK
        window = {"timeMin": start.isoformat(), "timeMax": until.isoformat()}
        changes = await self._listing(calendar_id, window, start, until)
        if changes is None:
            raise CalendarRetryLater("Google expired a page token during a full listing")
        return changes

    async def put_event(self, calendar_id: str, event: EventToWrite) -> WrittenEvent:
        """`events.insert` under the booking's event id; a 409 (the id exists, perhaps
        cancelled) patches that event instead, confirmed again."""
        name = event_name(event.booking_id)
        zone = _zone(event.timezone)
        fields = {
            "summary": event.summary,
            "description": event.description,
            "start": {"dateTime": event.start.astimezone(zone).isoformat(), "timeZone": str(zone)},
            "end": {"dateTime": event.end.astimezone(zone).isoformat(), "timeZone": str(zone)},
        }
        status, written = await self._call(
            "events", "insert", {409}, calendarId=calendar_id, body={"id": name, **fields}
        )
        if status == 409:
            _, written = await self._call(
                "events",
                "patch",
                calendarId=calendar_id,
                eventId=name,
                body={**fields, "status": "confirmed"},
            )
        return WrittenEvent(calendar_id=calendar_id, event_id=name, etag=written.get("etag"))

    async def delete_event(self, calendar_id: str, booking_id: UUID) -> None:
        """`events.delete`; 404 (never made) and 410 (deleted already) are fine."""
        await self._call(
            "events", "delete", {404, 410}, calendarId=calendar_id, eventId=event_name(booking_id)
        )

    async def aclose(self) -> None:
        self._http.close()

    async def _listing(
        self, calendar_id: str, query: dict[str, str], start: datetime, until: datetime
    ) -> BusyChanges | None:
        """Every page of one listing; None when Google answers 410 (sync token expired)."""
        full = "syncToken" not in query
        busy: list[BusyEvent] = []
        removed: list[str] = []
        page_token: str | None = None
        while True:
            status, page = await self._call(
                "events",
                "list",
                {410},
                calendarId=calendar_id,
                singleEvents=True,
                maxResults=self._page_size,
                pageToken=page_token,
                **query,
            )
            if status == 410:
                return None
            zone = _zone(page.get("timeZone"))
            for item in page.get("items", []):
                found = _busy_event(item, zone)
                if found is not None and found.end > start and found.start < until:
                    busy.append(found)
                elif not full:
                    removed.append(item["id"])
            page_token = page.get("nextPageToken")
            if page_token is None:
                token = page.get("nextSyncToken")
                state = json.dumps({"syncToken": token, "until": until.isoformat()})
                return BusyChanges(busy=busy, removed=removed, full=full, state=state)

    async def _call(
        self,
        resource: str,
        method: str,
        answered: set[int] | frozenset[int] = NO_ANSWER,
        **params: Any,
    ) -> tuple[int, dict[str, Any]]:
        """Google's answer as (status, body): 200, or a status in `answered` with its error
        body; any other answer raises."""
        params = {key: value for key, value in params.items() if value is not None}
        access_token = await self._grant.access_token()
        for attempt in ("first", "after a refresh"):
            try:
                async with self._lock:
                    body = await asyncio.to_thread(
                        self._execute, resource, method, params, access_token
                    )
                return 200, body if isinstance(body, dict) else {}
            except HttpError as err:
                status = err.resp.status
                if status == 401 and attempt == "first":
                    access_token = await self._grant.refused(access_token)
                    continue
                if status == 401:
                    raise GrantBroken(
                        f"Google refused a freshly refreshed token (401): {_message(err)}"
                    ) from err
                if status in answered:
                    return status, _error_body(err)
                raise _failure(err) from err
            except (OSError, httplib2.HttpLib2Error) as err:
                raise CalendarRetryLater(f"Google could not be reached: {err!r}") from err
        raise AssertionError("unreachable")

    def _execute(self, resource: str, method: str, params: dict[str, Any], token: str) -> Any:
        if self._service is None:
            self._service = build(
                "calendar",
                "v3",
                http=self._http,
                static_discovery=True,
                cache_discovery=False,
                client_options={"api_endpoint": self._endpoint} if self._endpoint else None,
            )
        request = getattr(getattr(self._service, resource)(), method)(**params)
        request.headers["authorization"] = f"Bearer {token}"
        return request.execute()


def _busy_event(item: dict[str, Any], zone: tzinfo) -> BusyEvent | None:
    """The span `item` makes its calendar's owner busy, or None: cancelled, transparent, a
    working location, or declined by the owner (the attendee marked `self`)."""
    if item.get("status") == "cancelled" or item.get("transparency") == "transparent":
        return None
    if item.get("eventType") in NOT_BUSY_TYPES:
        return None
    for attendee in item.get("attendees", []):
        if attendee.get("self") and attendee.get("responseStatus") == "declined":
            return None
    ours = OUR_EVENT.fullmatch(item["id"])
    return BusyEvent(
        external_id=item["id"],
        start=_instant(item["start"], zone),
        end=_instant(item["end"], zone),
        booking_id=UUID(ours[1]) if ours else None,
    )


def _instant(when: dict[str, Any], zone: tzinfo) -> datetime:
    """An event's start or end; an all-day `date` is midnight in the calendar's zone."""
    if "dateTime" in when:
        moment = datetime.fromisoformat(when["dateTime"])
        return moment if moment.tzinfo else moment.replace(tzinfo=_zone(when.get("timeZone")))
    return datetime.combine(date.fromisoformat(when["date"]), time(), zone)


def _zone(name: str | None) -> tzinfo:
    try:
        return parse_zone(name) if name else ZoneInfo("UTC")
    except ValueError:
        return ZoneInfo("UTC")


def _read_state(state: str | None) -> tuple[str | None, datetime | None]:
    try:
        saved = json.loads(state) if state else {}
        token, until = saved["syncToken"], datetime.fromisoformat(saved["until"])
    except (ValueError, KeyError, TypeError):
        return None, None  # none, or not ours: a full listing
    return (token, until) if isinstance(token, str) else (None, None)


def _failure(err: HttpError) -> Exception:
    """429, a 403 for a rate or quota limit, and 5xx pass; any other refusal is for good."""
    status: int = err.resp.status
    reasons = {detail.get("reason") for detail in _error_body(err).get("errors", [])}
    said = f"Google answered {status}: {_message(err)}"
    if status == 429 or status >= 500 or (status == 403 and reasons & RATE_LIMITED):
        return CalendarRetryLater(said, retry_after_seconds(err.resp.get("retry-after")))
    return CalendarRefused(said)


def _error_body(err: HttpError) -> dict[str, Any]:
    """The `error` object of Google's JSON error answer, else {}."""
    try:
        error = json.loads(err.content)["error"]
    except (ValueError, KeyError, TypeError):
        return {}
    return error if isinstance(error, dict) else {}


def _message(err: HttpError) -> str:
    return str(_error_body(err).get("message") or err.reason or "")
