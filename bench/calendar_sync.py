"""Calendar sync cost: per adapter, the HTTP requests of a full sync of a calendar of `events`
events, and of the incremental sync after one change made on the vendor's side.

Google and Microsoft run against the project's wire-format peers, imported from the tests on
purpose (devstack/peers/calendars.py: they page, hand out sync tokens and delta links
as the vendors document, and record every request); CalDAV runs against a real Radicale
(bench/calendar_caldav.py). The events all fall in the synced window, so the full listing
returns every one of them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from activities.calendars import google_account, microsoft_account
from activities.calendars.google_account import GoogleCalendarAccount
from activities.calendars.microsoft_account import MicrosoftCalendarAccount
from activities.calendars.oauth import GoogleOAuth, MicrosoftOAuth
from activities.calendars.port import CalendarAccount
from bench.calendar_caldav import caldav
from bench.sync_cost import (
    Result,
    Seen,
    Subject,
    Window,
    changed_index,
    measure,
    spans,
    sync_window,
)
from contract.calendars import OAuthTokens
from devstack.peers.calendars import (
    CalendarPeer,
    GooglePeer,
    LoopbackTls,
    MicrosoftPeer,
    OAuthGrants,
    graph_time,
    make_loopback_tls,
)

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-not-a-secret"
CALLBACK = "https://bench.example.com/calendar/connections/callback"
ZONE = "America/New_York"
GOOGLE_CALENDAR = "bench@example.com"
GRAPH_CALENDAR = "AAMkADbench="


async def calendar_sync(events: int, say: Callable[[str], None] = lambda _: None) -> Result:
    """Each adapter's full and incremental sync of a calendar of `events` events."""
    window = sync_window(datetime.now(UTC))
    adapters = []
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as folder:
        # The peers' sign-in listeners need TLS, though no sync here signs in.
        tls = make_loopback_tls(Path(folder))
        for name, adapter in (("google", google), ("microsoft", microsoft)):
            say(f"calendar sync: {name}, {events} events, against the local peer")
            adapters.append(await adapter(events, window, tls))
    say(f"calendar sync: caldav, {events} events, against Radicale")
    adapters.append(await caldav(events, window))
    return {
        "events": events,
        "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
        "change": "one event moved half an hour later on the vendor's side",
        "adapters": adapters,
    }


async def google(events: int, window: Window, tls: LoopbackTls) -> Result:
    peer = GooglePeer(tls, OAuthGrants(CLIENT_ID, CLIENT_SECRET, CALLBACK))
    peer.add_calendar(GOOGLE_CALENDAR, "Bench", ZONE, primary=True)
    made = [
        {
            "id": f"bench{i:05d}",
            "summary": f"Meeting {i}",
            "start": _google_time(start),
            "end": _google_time(end),
        }
        for i, (start, end) in enumerate(spans(events, window))
    ]
    for event in made:
        peer.put(GOOGLE_CALENDAR, event)
    moved = _moved(made[changed_index(events)], _google_time)
    await peer.start()
    oauth = GoogleOAuth(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=CALLBACK,
        token_uri=f"{peer.secure_url}/token",
        ca_bundle=tls.ca_path,
    )

    async def change_one() -> None:
        peer.put(GOOGLE_CALENDAR, moved)

    def open_account() -> CalendarAccount:
        return GoogleCalendarAccount(_tokens(peer.grants), oauth, _keep, api_base=peer.url)

    subject = Subject(
        kind="google",
        calendar_id=GOOGLE_CALENDAR,
        page_size=google_account.PAGE_SIZE,
        open_account=open_account,
        requests=_recorded(peer),
        is_page=lambda s: s.method == "GET" and s.path.endswith("/events"),
        is_auth=lambda s: s.path == "/token",
        auth_is="a token refresh",
        change_one=change_one,
        changed=moved["id"],
    )
    try:
        return await measure(subject, events, window)
    finally:
        await peer.close()


async def microsoft(events: int, window: Window, tls: LoopbackTls) -> Result:
    peer = MicrosoftPeer(tls, OAuthGrants(CLIENT_ID, CLIENT_SECRET, CALLBACK))
    peer.add_calendar(GRAPH_CALENDAR, "Calendar", is_default=True)
    made = [
        {
            "id": f"AAMkADbench{i:05d}=",
            "subject": f"Meeting {i}",
            "start": graph_time(start),
            "end": graph_time(end),
        }
        for i, (start, end) in enumerate(spans(events, window))
    ]
    for event in made:
        peer.put(GRAPH_CALENDAR, event)
    moved = _moved(made[changed_index(events)], graph_time)

    async def change_one() -> None:
        peer.put(GRAPH_CALENDAR, moved)

    await peer.start()
    oauth = MicrosoftOAuth(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=CALLBACK,
        authority=f"{peer.secure_url}/common",
        ca_bundle=tls.ca_path,
    )

    def open_account() -> CalendarAccount:
        api = f"{peer.url}/v1.0"
        return MicrosoftCalendarAccount(_tokens(peer.grants), oauth, _keep, api_base=api)

    subject = Subject(
        kind="microsoft",
        calendar_id=GRAPH_CALENDAR,
        page_size=microsoft_account.PAGE_SIZE,
        open_account=open_account,
        requests=_recorded(peer),
        is_page=lambda s: s.path.endswith("/calendarView/delta"),
        is_auth=lambda s: "/oauth2/" in s.path or "openid-configuration" in s.path,
        auth_is="msal's discovery or a token refresh",
        change_one=change_one,
        changed=moved["id"],
    )
    try:
        return await measure(subject, events, window)
    finally:
        await oauth.aclose()
        await peer.close()


def _google_time(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.astimezone(ZoneInfo(ZONE)).isoformat(), "timeZone": ZONE}


def _moved(event: dict[str, Any], when: Callable[[datetime], dict[str, str]]) -> dict[str, Any]:
    """The event half an hour later, as its owner drags it in the vendor's app."""
    start, end = (datetime.fromisoformat(event[k]["dateTime"]) for k in ("start", "end"))
    if start.tzinfo is None:  # Graph's wall time, in UTC here
        start, end = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
    later = timedelta(minutes=30)
    return event | {"start": when(start + later), "end": when(end + later)}


def _recorded(peer: CalendarPeer) -> Callable[[], list[Seen]]:
    return lambda: [Seen(r.method, r.path) for r in peer.requests]


def _tokens(grants: OAuthGrants) -> OAuthTokens:
    """A grant the peer issued, good for an hour: no sync here needs a refresh."""
    issued = grants.issue("calendar", refresh=True)
    return OAuthTokens(
        access_token=issued["access_token"],
        refresh_token=issued["refresh_token"],
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


async def _keep(_refreshed: OAuthTokens) -> None:
    """Nothing stores a refreshed grant here."""
