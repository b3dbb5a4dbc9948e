"""The Google Calendar adapter against a local peer of Calendar API v3 and Google's token
endpoint: requests as Google documents them, sync tokens, paging, refusals and retries."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from activities.calendars.google_account import GoogleCalendarAccount
from activities.calendars.oauth import GoogleOAuth
from activities.calendars.port import (
    CalendarRefused,
    CalendarRetryLater,
    GrantBroken,
    event_name,
)
from contract.calendars import BusyChanges, CalendarInfo, EventToWrite, OAuthTokens
from devstack.peers.calendars import (
    GooglePeer,
    LoopbackTls,
    OAuthGrants,
    google_error,
    make_loopback_tls,
)
from devstack.peers.notify import Recorded

CLIENT_ID = "1234-local.apps.googleusercontent.com"
CLIENT_SECRET = "local-peer-secret"
CALLBACK = "https://bookings.example.com/calendar/connections/google/callback"
ANA = "ana@example.com"
EVENTS = f"/calendar/v3/calendars/{ANA}/events"
BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2030, 1, 1, tzinfo=UTC)
END = START + timedelta(days=30)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTls:
    return make_loopback_tls(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
async def peer(tls: LoopbackTls) -> AsyncIterator[GooglePeer]:
    peer = GooglePeer(tls, OAuthGrants(CLIENT_ID, CLIENT_SECRET, CALLBACK))
    peer.add_calendar(ANA, "Ana", "Europe/Berlin", primary=True)
    await peer.start()
    yield peer
    await peer.close()


class Connection:
    """An account as the sync builds it, and the tokens it asked to store."""

    def __init__(self, peer: GooglePeer, tls: LoopbackTls) -> None:
        self.peer = peer
        self.stored: list[OAuthTokens] = []
        self.oauth = GoogleOAuth(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=CALLBACK,
            token_uri=f"{peer.secure_url}/token",
            ca_bundle=tls.ca_path,
        )

    def tokens(self, expires_in: timedelta = timedelta(hours=1)) -> OAuthTokens:
        """A grant the peer issued, as our store holds it."""
        issued = self.peer.grants.issue("calendar", refresh=True)
        return OAuthTokens(
            access_token=issued["access_token"],
            refresh_token=issued["refresh_token"],
            expires_at=datetime.now(UTC) + expires_in,
        )

    def account(self, tokens: OAuthTokens | None = None, **options: Any) -> GoogleCalendarAccount:
        async def store(refreshed: OAuthTokens) -> None:
            self.stored.append(refreshed)

        return GoogleCalendarAccount(
            tokens or self.tokens(), self.oauth, store, api_base=self.peer.url, **options
        )


@pytest.fixture
def connection(peer: GooglePeer, tls: LoopbackTls) -> Connection:
    return Connection(peer, tls)


@pytest.fixture
async def account(connection: Connection) -> AsyncIterator[GoogleCalendarAccount]:
    account = connection.account()
    yield account
    await account.aclose()


def at(day: int, hour: int, zone: ZoneInfo = BERLIN) -> dict[str, str]:
    return {"dateTime": datetime(2030, 1, day, hour, tzinfo=zone).isoformat()}


def a_booking(day: int = 4, hour: int = 9) -> EventToWrite:
    start = datetime(2030, 1, day, hour, tzinfo=BERLIN)
    return EventToWrite(
        booking_id=uuid.uuid4(),
        summary="Haircut with Bea",
        description="Booked through bookings.example.com",
        start=start,
        end=start + timedelta(minutes=45),
        timezone="Europe/Berlin",
    )


def busy_ids(changes: BusyChanges) -> list[str]:
    return [event.external_id for event in changes.busy]


def assert_bearer(request: Recorded, peer: GooglePeer) -> None:
    authorization = request.headers["Authorization"]
    assert authorization.startswith("Bearer ")
    assert authorization.removeprefix("Bearer ") in peer.grants.access_tokens


async def test_calendars_lists_every_page_of_the_calendar_list(
    connection: Connection, peer: GooglePeer
) -> None:
    peer.add_calendar("team@group.calendar.google.com", "Team", "UTC", access_role="reader")
    peer.add_calendar(
        "holidays@group.v.calendar.google.com", "Holidays", "UTC", access_role="reader"
    )
    account = connection.account(page_size=2)
    try:
        listed = await account.calendars()
    finally:
        await account.aclose()

    assert listed == [
        CalendarInfo(id=ANA, name="Ana", primary=True, can_write=True, timezone="Europe/Berlin"),
        CalendarInfo(
            id="team@group.calendar.google.com", name="Team", can_write=False, timezone="UTC"
        ),
        CalendarInfo(
            id="holidays@group.v.calendar.google.com",
            name="Holidays",
            can_write=False,
            timezone="UTC",
        ),
    ]
    first, second = peer.requests
    assert (first.method, first.path) == ("GET", "/calendar/v3/users/me/calendarList")
    assert first.query["maxResults"] == "2" and "pageToken" not in first.query
    assert second.query["pageToken"] == "page-2"
    assert_bearer(first, peer)


async def test_full_sync_lists_instances_in_the_window_and_keeps_the_sync_token(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    peer.put(ANA, {"id": "dentist", "start": at(2, 10), "end": at(2, 11)})
    last_year = {
        "start": {"dateTime": "2029-06-01T10:00:00Z"},
        "end": {"dateTime": "2029-06-01T11:00:00Z"},
    }
    peer.put(ANA, {"id": "lastyear"} | last_year)
    instances = peer.add_series(
        ANA, "standup", datetime(2030, 1, 3, 9, tzinfo=BERLIN), timedelta(minutes=15), 3
    )

    changes = await account.busy_changes(ANA, None, START, END)

    assert changes.full
    assert busy_ids(changes) == ["dentist", *instances]  # the master is not a busy span
    dentist = changes.busy[0]
    assert (dentist.start, dentist.end) == (
        datetime(2030, 1, 2, 10, tzinfo=BERLIN),
        datetime(2030, 1, 2, 11, tzinfo=BERLIN),
    )
    [listing] = peer.requests
    assert (listing.method, listing.path) == ("GET", EVENTS)
    assert dict(listing.query) == {
        "singleEvents": "true",
        "maxResults": "250",
        "timeMin": START.isoformat(),
        "timeMax": (END + timedelta(days=7)).isoformat(),
        "alt": "json",
    }
    assert_bearer(listing, peer)
    assert changes.state is not None and "sync-" in changes.state


async def test_incremental_sync_sends_only_the_sync_token_and_reports_changes(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    peer.put(ANA, {"id": "dentist", "start": at(2, 10), "end": at(2, 11)})
    peer.put(ANA, {"id": "gym", "start": at(3, 18), "end": at(3, 19)})
    first = await account.busy_changes(ANA, None, START, END)
    peer.put(ANA, {"id": "dentist", "start": at(2, 14), "end": at(2, 15)})  # moved
    peer.cancel(ANA, "gym")
    peer.put(ANA, {"id": "new", "start": at(5, 8), "end": at(5, 9)})

    changes = await account.busy_changes(ANA, first.state, START, END)

    assert not changes.full
    assert busy_ids(changes) == ["dentist", "new"]
    assert changes.busy[0].start == datetime(2030, 1, 2, 14, tzinfo=BERLIN)
    assert changes.removed == ["gym"]
    incremental = peer.requests[-1]
    assert dict(incremental.query) == {
        "singleEvents": "true",  # as on the full listing, which Google asks for
        "maxResults": "250",
        "syncToken": json.loads(first.state or "")["syncToken"],
        "alt": "json",
    }
    assert changes.state != first.state


async def test_sync_pages_follow_next_page_token_with_the_same_query(
    connection: Connection, peer: GooglePeer
) -> None:
    for n in range(5):
        peer.put(ANA, {"id": f"meeting{n}", "start": at(2 + n, 10), "end": at(2 + n, 11)})
    account = connection.account(page_size=2)
    try:
        changes = await account.busy_changes(ANA, None, START, END)
    finally:
        await account.aclose()

    assert busy_ids(changes) == [f"meeting{n}" for n in range(5)]
    pages = peer.requests
    assert [r.query.get("pageToken") for r in pages] == [None, "page-2", "page-4"]
    for page in pages[1:]:
        assert {k: v for k, v in page.query.items() if k != "pageToken"} == dict(pages[0].query)


async def test_an_expired_sync_token_410_starts_a_full_listing(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    peer.put(ANA, {"id": "dentist", "start": at(2, 10), "end": at(2, 11)})
    first = await account.busy_changes(ANA, None, START, END)
    peer.expire_sync_tokens()

    changes = await account.busy_changes(ANA, first.state, START, END)

    assert changes.full
    assert busy_ids(changes) == ["dentist"]
    gone, listing = peer.requests[-2:]
    assert "syncToken" in gone.query
    assert "syncToken" not in listing.query and listing.query["timeMin"] == START.isoformat()


async def test_a_horizon_past_the_last_full_listing_lists_in_full_again(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    first = await account.busy_changes(ANA, None, START, END)

    later = await account.busy_changes(ANA, first.state, START, END + timedelta(days=6))
    past = await account.busy_changes(ANA, later.state, START, END + timedelta(days=8))

    assert (later.full, past.full) == (False, True)


async def test_all_day_free_declined_and_working_location_events(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    peer.add_calendar("ny", "New York", "America/New_York")
    me = {"email": "ana@example.com", "self": True}
    peer.put(
        "ny", {"id": "holiday", "start": {"date": "2030-01-06"}, "end": {"date": "2030-01-08"}}
    )
    peer.put(
        "ny", {"id": "lunch", "start": at(9, 12), "end": at(9, 13), "transparency": "transparent"}
    )
    peer.put(
        "ny",
        {
            "id": "declined",
            "start": at(9, 14),
            "end": at(9, 15),
            "attendees": [me | {"responseStatus": "declined"}],
        },
    )
    peer.put(
        "ny",
        {
            "id": "accepted",
            "start": at(9, 16),
            "end": at(9, 17),
            "attendees": [me | {"responseStatus": "accepted"}],
        },
    )
    peer.put(
        "ny",
        {
            "id": "office",
            "start": {"date": "2030-01-09"},
            "end": {"date": "2030-01-10"},
            "eventType": "workingLocation",
        },
    )

    changes = await account.busy_changes("ny", None, START, END)

    assert busy_ids(changes) == ["holiday", "accepted"]
    new_york = ZoneInfo("America/New_York")
    assert (changes.busy[0].start, changes.busy[0].end) == (
        datetime(2030, 1, 6, tzinfo=new_york),
        datetime(2030, 1, 8, tzinfo=new_york),
    )


async def test_an_event_turned_free_or_declined_is_removed_on_the_next_sync(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    peer.put(ANA, {"id": "call", "start": at(2, 10), "end": at(2, 11)})
    peer.put(ANA, {"id": "party", "start": at(3, 20), "end": at(3, 23)})
    first = await account.busy_changes(ANA, None, START, END)
    peer.put(ANA, peer.calendars[ANA].events["call"] | {"transparency": "transparent"})
    declined = [{"email": ANA, "self": True, "responseStatus": "declined"}]
    peer.put(ANA, peer.calendars[ANA].events["party"] | {"attendees": declined})

    changes = await account.busy_changes(ANA, first.state, START, END)

    assert changes.busy == []
    assert changes.removed == ["call", "party"]


async def test_put_event_inserts_under_the_booking_event_id(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    booking = a_booking()

    written = await account.put_event(ANA, booking)

    [insert] = peer.requests
    assert (insert.method, insert.path) == ("POST", EVENTS)
    assert insert.headers["Content-Type"] == "application/json"
    assert_bearer(insert, peer)
    assert insert.json() == {
        "id": event_name(booking.booking_id),
        "summary": "Haircut with Bea",
        "description": "Booked through bookings.example.com",
        "start": {"dateTime": "2030-01-04T09:00:00+01:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2030-01-04T09:45:00+01:00", "timeZone": "Europe/Berlin"},
    }
    assert written.calendar_id == ANA
    assert written.event_id == event_name(booking.booking_id)
    assert written.etag == peer.calendars[ANA].events[written.event_id]["etag"]


async def test_put_event_twice_and_a_move_leave_one_event(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    booking = a_booking()
    moved = booking.model_copy(
        update={
            "start": booking.start + timedelta(hours=2),
            "end": booking.end + timedelta(hours=2),
        }
    )

    await account.put_event(ANA, booking)
    await account.put_event(ANA, booking)  # a retried step
    await account.put_event(ANA, moved)

    assert list(peer.calendars[ANA].events) == [event_name(booking.booking_id)]
    stored = peer.calendars[ANA].events[event_name(booking.booking_id)]
    assert stored["start"]["dateTime"] == "2030-01-04T11:00:00+01:00"
    methods = [(r.method, r.path.removeprefix(EVENTS)) for r in peer.requests]
    name = event_name(booking.booking_id)
    assert methods == [
        ("POST", ""),
        ("POST", ""),
        ("PATCH", f"/{name}"),
        ("POST", ""),
        ("PATCH", f"/{name}"),
    ]
    assert peer.requests[-1].json()["status"] == "confirmed"


async def test_our_own_events_come_back_with_their_booking_id(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    booking = a_booking()
    await account.put_event(ANA, booking)

    changes = await account.busy_changes(ANA, None, START, END)

    [ours] = changes.busy
    assert ours.booking_id == booking.booking_id
    assert ours.start == booking.start


async def test_delete_event_twice_is_fine_and_a_deleted_event_can_be_put_again(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    booking = a_booking()
    await account.put_event(ANA, booking)
    name = event_name(booking.booking_id)

    never = uuid.uuid4()
    await account.delete_event(ANA, booking.booking_id)
    await account.delete_event(ANA, booking.booking_id)  # 410 Gone: deleted already
    await account.delete_event(ANA, never)  # 404: never made

    assert [(r.method, r.path) for r in peer.requests[1:]] == [
        ("DELETE", f"{EVENTS}/{name}"),
        ("DELETE", f"{EVENTS}/{name}"),
        ("DELETE", f"{EVENTS}/{event_name(never)}"),
    ]
    assert peer.calendars[ANA].events[name]["status"] == "cancelled"
    await account.put_event(ANA, booking)
    assert peer.calendars[ANA].events[name]["status"] == "confirmed"


async def test_token_refreshed_before_it_expires_and_stored(
    connection: Connection, peer: GooglePeer
) -> None:
    tokens = connection.tokens(expires_in=timedelta(minutes=4))
    account = connection.account(tokens)
    try:
        await account.calendars()
        await account.calendars()
    finally:
        await account.aclose()

    assert [r.path for r in peer.requests] == [
        "/token",
        "/calendar/v3/users/me/calendarList",
        "/calendar/v3/users/me/calendarList",
    ]
    assert peer.requests[0].form()["refresh_token"] == tokens.refresh_token
    [stored] = connection.stored
    assert stored.access_token != tokens.access_token
    assert stored.refresh_token == tokens.refresh_token
    for listing in peer.requests[1:]:
        assert listing.headers["Authorization"] == f"Bearer {stored.access_token}"


async def test_a_401_refreshes_once_and_retries(
    connection: Connection, account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    peer.grants.expire_access_tokens()

    listed = await account.calendars()

    assert [c.id for c in listed] == [ANA]
    assert [(r.method, r.path) for r in peer.requests] == [
        ("GET", "/calendar/v3/users/me/calendarList"),
        ("POST", "/token"),
        ("GET", "/calendar/v3/users/me/calendarList"),
    ]
    assert (
        peer.requests[2].headers["Authorization"] == f"Bearer {connection.stored[0].access_token}"
    )


async def test_a_401_after_a_refresh_breaks_the_grant(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    unauthorized = google_error(401, "authError", "Invalid Credentials")
    peer.answer_next("/calendar/v3/", unauthorized, unauthorized)

    with pytest.raises(GrantBroken, match="Invalid Credentials"):
        await account.calendars()

    assert [r.path for r in peer.requests].count("/token") == 1


async def test_a_revoked_grant_breaks_with_googles_reason(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    peer.grants.revoke()

    with pytest.raises(GrantBroken, match="Token has been expired or revoked"):
        await account.busy_changes(ANA, None, START, END)


async def test_rate_limits_mean_retry_later_after_retry_after(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    peer.answer_next(
        EVENTS,
        google_error(429, "rateLimitExceeded", "Rate Limit Exceeded", {"Retry-After": "30"}),
        google_error(
            403, "userRateLimitExceeded", "User Rate Limit Exceeded", {"Retry-After": "12"}
        ),
    )

    with pytest.raises(CalendarRetryLater) as too_many:
        await account.busy_changes(ANA, None, START, END)
    with pytest.raises(CalendarRetryLater) as user_limit:
        await account.put_event(ANA, a_booking())

    assert too_many.value.retry_after == 30
    assert user_limit.value.retry_after == 12
    assert "User Rate Limit Exceeded" in str(user_limit.value)


async def test_5xx_means_retry_later_then_the_same_call_succeeds(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    peer.put(ANA, {"id": "dentist", "start": at(2, 10), "end": at(2, 11)})
    peer.answer_next(EVENTS, google_error(503, "backendError", "Backend Error"))

    with pytest.raises(CalendarRetryLater) as down:
        await account.busy_changes(ANA, None, START, END)
    changes = await account.busy_changes(ANA, None, START, END)

    assert down.value.retry_after is None
    assert busy_ids(changes) == ["dentist"]


async def test_a_refusal_other_than_a_rate_limit_is_for_good(
    account: GoogleCalendarAccount, peer: GooglePeer
) -> None:
    peer.answer_next(
        EVENTS,
        google_error(
            403, "requiredAccessLevel", "You need to have writer access to this calendar."
        ),
    )

    with pytest.raises(CalendarRefused, match="writer access"):
        await account.put_event(ANA, a_booking())
    with pytest.raises(CalendarRefused, match="404"):
        await account.busy_changes("nobody@example.com", None, START, END)


async def test_google_unreachable_means_retry_later(connection: Connection) -> None:
    await connection.peer.close()
    account = connection.account()
    try:
        with pytest.raises(CalendarRetryLater, match="could not be reached"):
            await account.calendars()
    finally:
        await account.aclose()
