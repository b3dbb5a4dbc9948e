"""The Microsoft 365 adapter against a local peer of Microsoft Graph v1.0 and the identity
platform: requests as Microsoft documents them, delta rounds, paging, refusals and retries."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from activities.calendars.microsoft_account import BOOKING_PROPERTY, MicrosoftCalendarAccount
from activities.calendars.oauth import MicrosoftOAuth
from activities.calendars.port import (
    CalendarRefused,
    CalendarRetryLater,
    GrantBroken,
    event_name,
)
from contract.calendars import BusyChanges, CalendarInfo, EventToWrite, OAuthTokens
from devstack.peers.calendars import (
    LoopbackTls,
    MicrosoftPeer,
    OAuthGrants,
    graph_error,
    graph_time,
    make_loopback_tls,
)
from devstack.peers.notify import Recorded

CLIENT_ID = "00000000-0000-0000-0000-00000000c0de"
CLIENT_SECRET = "local-peer-secret"
CALLBACK = "https://bookings.example.com/calendar/connections/microsoft/callback"
CALENDAR = "AAMkADk0Zjc2LWNhbGVuZGFy="
DELTA = f"/v1.0/me/calendars/{CALENDAR}/calendarView/delta"
START = datetime(2030, 1, 1, tzinfo=UTC)
END = START + timedelta(days=30)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTls:
    return make_loopback_tls(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
async def peer(tls: LoopbackTls) -> AsyncIterator[MicrosoftPeer]:
    grants = OAuthGrants(CLIENT_ID, CLIENT_SECRET, CALLBACK, rotate_refresh_tokens=True)
    peer = MicrosoftPeer(tls, grants)
    peer.add_calendar(CALENDAR, "Calendar", is_default=True)
    await peer.start()
    yield peer
    await peer.close()


class Connection:
    """Accounts as the sync builds them, and the tokens they asked to store."""

    def __init__(self, peer: MicrosoftPeer, oauth: MicrosoftOAuth) -> None:
        self.peer = peer
        self.oauth = oauth
        self.stored: list[OAuthTokens] = []
        self._accounts: list[MicrosoftCalendarAccount] = []

    def tokens(self, expires_in: timedelta = timedelta(hours=1)) -> OAuthTokens:
        issued = self.peer.grants.issue("Calendars.ReadWrite", refresh=True)
        return OAuthTokens(
            access_token=issued["access_token"],
            refresh_token=issued["refresh_token"],
            expires_at=datetime.now(UTC) + expires_in,
        )

    def account(
        self, tokens: OAuthTokens | None = None, **options: Any
    ) -> MicrosoftCalendarAccount:
        async def store(refreshed: OAuthTokens) -> None:
            self.stored.append(refreshed)

        account = MicrosoftCalendarAccount(
            tokens or self.tokens(), self.oauth, store, api_base=f"{self.peer.url}/v1.0", **options
        )
        self._accounts.append(account)
        return account

    async def aclose(self) -> None:
        for account in self._accounts:
            await account.aclose()
        await self.oauth.aclose()


@pytest.fixture
async def connection(peer: MicrosoftPeer, tls: LoopbackTls) -> AsyncIterator[Connection]:
    oauth = MicrosoftOAuth(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=CALLBACK,
        authority=f"{peer.secure_url}/common",
        ca_bundle=tls.ca_path,
    )
    connection = Connection(peer, oauth)
    yield connection
    await connection.aclose()


@pytest.fixture
def account(connection: Connection) -> MicrosoftCalendarAccount:
    return connection.account()


def at(day: int, hour: int) -> dict[str, str]:
    return graph_time(datetime(2030, 1, day, hour, tzinfo=UTC))


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


def graph_requests(peer: MicrosoftPeer) -> list[Recorded]:
    return [r for r in peer.requests if r.path.startswith("/v1.0/")]


def assert_bearer(request: Recorded, peer: MicrosoftPeer) -> None:
    authorization = request.headers["Authorization"]
    assert authorization.startswith("Bearer ")
    assert authorization.removeprefix("Bearer ") in peer.grants.access_tokens


async def test_calendars_lists_the_mailboxs_calendars(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    peer.add_calendar("AAMkBirthdays=", "Birthdays", can_edit=False)

    listed = await account.calendars()

    assert listed == [
        CalendarInfo(id=CALENDAR, name="Calendar", primary=True, can_write=True),
        CalendarInfo(id="AAMkBirthdays=", name="Birthdays", primary=False, can_write=False),
    ]
    [request] = peer.requests
    assert (request.method, request.path) == ("GET", "/v1.0/me/calendars")
    assert_bearer(request, peer)


async def test_first_delta_round_lists_the_window_with_occurrences_expanded(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    peer.put(CALENDAR, {"id": "dentist", "start": at(2, 9), "end": at(2, 10)})
    peer.put(
        CALENDAR,
        {
            "id": "lastyear",
            "start": graph_time(START - timedelta(days=200)),
            "end": graph_time(START - timedelta(days=199)),
        },
    )
    occurrences = peer.add_series(
        CALENDAR, "standup", datetime(2030, 1, 3, 8, tzinfo=UTC), timedelta(minutes=15), 3
    )

    changes = await account.busy_changes(CALENDAR, None, START, END)

    assert changes.full
    assert busy_ids(changes) == ["dentist", *occurrences]  # no series master
    assert (changes.busy[0].start, changes.busy[0].end) == (
        datetime(2030, 1, 2, 9, tzinfo=UTC),
        datetime(2030, 1, 2, 10, tzinfo=UTC),
    )
    [first] = peer.requests
    assert (first.method, first.path) == ("GET", DELTA)
    assert dict(first.query) == {
        "startDateTime": "2030-01-01T00:00:00Z",
        "endDateTime": "2030-02-07T00:00:00Z",
    }
    assert first.headers.getall("Prefer") == ["odata.maxpagesize=100", 'outlook.timezone="UTC"']
    assert_bearer(first, peer)


async def test_delta_pages_follow_next_links_and_keep_the_delta_link(
    connection: Connection, peer: MicrosoftPeer
) -> None:
    for n in range(5):
        peer.put(CALENDAR, {"id": f"meeting{n}", "start": at(2 + n, 9), "end": at(2 + n, 10)})
    account = connection.account(page_size=2)

    changes = await account.busy_changes(CALENDAR, None, START, END)

    assert busy_ids(changes) == [f"meeting{n}" for n in range(5)]
    _, *rest = peer.requests
    assert [list(r.query) for r in rest] == [["$skiptoken"], ["$skiptoken"]]
    for request in peer.requests:
        assert request.path == DELTA
        assert request.headers.getall("Prefer")[0] == "odata.maxpagesize=2"
    assert changes.state is not None and "$deltatoken=" in changes.state


async def test_incremental_round_reports_changes_removals_and_new_occurrences(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    peer.put(CALENDAR, {"id": "dentist", "start": at(2, 9), "end": at(2, 10)})
    peer.put(CALENDAR, {"id": "gym", "start": at(3, 18), "end": at(3, 19)})
    first = await account.busy_changes(CALENDAR, None, START, END)
    peer.put(CALENDAR, {"id": "dentist", "start": at(2, 13), "end": at(2, 14)})
    peer.delete(CALENDAR, "gym")
    occurrences = peer.add_series(
        CALENDAR, "review", datetime(2030, 1, 7, 15, tzinfo=UTC), timedelta(hours=1), 2
    )

    changes = await account.busy_changes(CALENDAR, first.state, START, END)

    assert not changes.full
    assert busy_ids(changes) == ["dentist", *occurrences]
    assert changes.busy[0].start == datetime(2030, 1, 2, 13, tzinfo=UTC)
    assert changes.removed == ["gym"]
    delta = peer.requests[-1]
    assert set(delta.query) == {"$deltatoken"}  # the link carries the window
    assert delta.headers.getall("Prefer") == ["odata.maxpagesize=100", 'outlook.timezone="UTC"']


async def test_an_expired_delta_round_starts_a_new_one(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    peer.put(CALENDAR, {"id": "dentist", "start": at(2, 9), "end": at(2, 10)})
    first = await account.busy_changes(CALENDAR, None, START, END)
    peer.expire_delta_tokens()

    changes = await account.busy_changes(CALENDAR, first.state, START, END)

    assert changes.full
    assert busy_ids(changes) == ["dentist"]
    gone, fresh = peer.requests[-2:]
    assert "$deltatoken" in gone.query
    assert fresh.query["startDateTime"] == "2030-01-01T00:00:00Z"


async def test_resync_required_answered_as_400_also_starts_a_new_round(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    first = await account.busy_changes(CALENDAR, None, START, END)
    peer.answer_next(DELTA, graph_error(400, "resyncRequired", "Resync required."))

    changes = await account.busy_changes(CALENDAR, first.state, START, END)

    assert changes.full


async def test_all_day_free_cancelled_and_declined_events(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    midnight = {"dateTime": "2030-01-06T00:00:00.0000000", "timeZone": "UTC"}
    peer.put(
        CALENDAR,
        {
            "id": "holiday",
            "isAllDay": True,
            "originalStartTimeZone": "Pacific Standard Time",
            "start": midnight,
            "end": midnight | {"dateTime": "2030-01-08T00:00:00.0000000"},
        },
    )
    peer.put(CALENDAR, {"id": "lunch", "showAs": "free", "start": at(9, 12), "end": at(9, 13)})
    peer.put(
        CALENDAR, {"id": "cancelled", "isCancelled": True, "start": at(9, 14), "end": at(9, 15)}
    )
    peer.put(
        CALENDAR,
        {
            "id": "declined",
            "responseStatus": {"response": "declined"},
            "start": at(9, 16),
            "end": at(9, 17),
        },
    )
    peer.put(
        CALENDAR,
        {
            "id": "tentative",
            "showAs": "tentative",
            "responseStatus": {"response": "tentativelyAccepted"},
            "start": at(9, 18),
            "end": at(9, 19),
        },
    )

    changes = await account.busy_changes(CALENDAR, None, START, END)

    assert busy_ids(changes) == ["holiday", "tentative"]
    los_angeles = ZoneInfo("America/Los_Angeles")
    assert (changes.busy[0].start, changes.busy[0].end) == (
        datetime(2030, 1, 6, tzinfo=los_angeles),
        datetime(2030, 1, 8, tzinfo=los_angeles),
    )


async def test_all_day_without_a_zone_uses_the_mailboxs(
    connection: Connection, peer: MicrosoftPeer
) -> None:
    midnight = {"dateTime": "2030-01-06T00:00:00.0000000", "timeZone": "UTC"}
    peer.put(
        CALENDAR,
        {
            "id": "holiday",
            "isAllDay": True,
            "start": midnight,
            "end": midnight | {"dateTime": "2030-01-07T00:00:00.0000000"},
        },
    )
    account = connection.account(timezone="Europe/Berlin")

    changes = await account.busy_changes(CALENDAR, None, START, END)

    assert changes.busy[0].start == datetime(2030, 1, 6, tzinfo=BERLIN)


async def test_an_event_turned_free_or_cancelled_is_removed_on_the_next_round(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    peer.put(CALENDAR, {"id": "call", "start": at(2, 10), "end": at(2, 11)})
    peer.put(CALENDAR, {"id": "party", "start": at(3, 20), "end": at(3, 23)})
    first = await account.busy_changes(CALENDAR, None, START, END)
    peer.put(CALENDAR, peer.calendars[CALENDAR].events["call"] | {"showAs": "free"})
    peer.put(CALENDAR, peer.calendars[CALENDAR].events["party"] | {"isCancelled": True})

    changes = await account.busy_changes(CALENDAR, first.state, START, END)

    assert changes.busy == []
    assert changes.removed == ["call", "party"]


async def test_put_event_posts_with_transaction_id_and_extended_property(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    booking = a_booking()
    name = event_name(booking.booking_id)

    written = await account.put_event(CALENDAR, booking)

    lookup, create = peer.requests
    assert (lookup.method, lookup.path) == ("GET", f"/v1.0/me/calendars/{CALENDAR}/events")
    assert dict(lookup.query) == {
        "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{BOOKING_PROPERTY}' "
        f"and ep/value eq '{name}')",
        "$select": "id",
    }
    assert (create.method, create.path) == ("POST", f"/v1.0/me/calendars/{CALENDAR}/events")
    assert create.headers["Content-Type"] == "application/json"
    assert_bearer(create, peer)
    assert create.json() == {
        "subject": "Haircut with Bea",
        "body": {"contentType": "text", "content": "Booked through bookings.example.com"},
        "start": {"dateTime": "2030-01-04T09:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2030-01-04T09:45:00", "timeZone": "W. Europe Standard Time"},
        "transactionId": name,
        "singleValueExtendedProperties": [{"id": BOOKING_PROPERTY, "value": name}],
    }
    assert written.calendar_id == CALENDAR
    stored = peer.calendars[CALENDAR].events[written.event_id]
    assert written.etag == stored["@odata.etag"]


async def test_a_zone_windows_has_no_name_for_is_written_in_utc(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    booking = a_booking().model_copy(update={"timezone": "Antarctica/Troll"})

    await account.put_event(CALENDAR, booking)

    sent = peer.requests[-1].json()
    assert sent["start"] == {"dateTime": "2030-01-04T08:00:00", "timeZone": "UTC"}


async def test_put_event_twice_and_a_move_leave_one_event(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    booking = a_booking()
    later = {"start": booking.start + timedelta(hours=2), "end": booking.end + timedelta(hours=2)}

    first = await account.put_event(CALENDAR, booking)
    again = await account.put_event(CALENDAR, booking)  # a retried step
    moved = await account.put_event(CALENDAR, booking.model_copy(update=later))

    assert first.event_id == again.event_id == moved.event_id
    assert list(peer.calendars[CALENDAR].events) == [first.event_id]
    stored = peer.calendars[CALENDAR].events[first.event_id]
    assert stored["start"] == {
        "dateTime": "2030-01-04T11:00:00",
        "timeZone": "W. Europe Standard Time",
    }
    assert [(r.method, r.path) for r in peer.requests[2:]] == [
        ("GET", f"/v1.0/me/calendars/{CALENDAR}/events"),
        ("PATCH", f"/v1.0/me/events/{first.event_id}"),
        ("GET", f"/v1.0/me/calendars/{CALENDAR}/events"),
        ("PATCH", f"/v1.0/me/events/{first.event_id}"),
    ]
    assert "transactionId" not in peer.requests[-1].json()


async def test_put_event_with_a_known_event_id_patches_without_a_lookup(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    booking = a_booking()
    written = await account.put_event(CALENDAR, booking)
    before = len(peer.requests)

    await account.put_event(CALENDAR, booking, event_id=written.event_id)
    peer.delete(CALENDAR, written.event_id)  # the owner deleted it in Outlook
    recreated = await account.put_event(CALENDAR, booking, event_id=written.event_id)

    assert [(r.method, r.path) for r in peer.requests[before:]] == [
        ("PATCH", f"/v1.0/me/events/{written.event_id}"),
        ("PATCH", f"/v1.0/me/events/{written.event_id}"),
        ("POST", f"/v1.0/me/calendars/{CALENDAR}/events"),
    ]
    assert recreated.event_id != written.event_id


async def test_our_own_events_come_back_with_their_booking_id(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    booking = a_booking()
    await account.put_event(CALENDAR, booking)

    changes = await account.busy_changes(CALENDAR, None, START, END)

    [ours] = changes.busy
    assert ours.booking_id == booking.booking_id
    assert (ours.start, ours.end) == (booking.start, booking.end)


async def test_delete_event_twice_is_fine(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    booking = a_booking()
    written = await account.put_event(CALENDAR, booking)
    before = len(peer.requests)

    await account.delete_event(CALENDAR, booking.booking_id)
    await account.delete_event(CALENDAR, booking.booking_id)
    await account.delete_event(CALENDAR, booking.booking_id, event_id=written.event_id)

    assert peer.calendars[CALENDAR].events == {}
    assert [(r.method, r.path) for r in peer.requests[before:]] == [
        ("GET", f"/v1.0/me/calendars/{CALENDAR}/events"),
        ("DELETE", f"/v1.0/me/events/{written.event_id}"),
        ("GET", f"/v1.0/me/calendars/{CALENDAR}/events"),  # found nothing: nothing to delete
        ("DELETE", f"/v1.0/me/events/{written.event_id}"),  # 404: fine
    ]


async def test_token_refreshed_before_it_expires_and_the_new_refresh_token_stored(
    connection: Connection, peer: MicrosoftPeer
) -> None:
    tokens = connection.tokens(expires_in=timedelta(minutes=4))
    account = connection.account(tokens)

    await account.calendars()
    await account.calendars()

    [refresh] = peer.requests_to("/oauth2/v2.0/token")
    assert refresh.form()["refresh_token"] == tokens.refresh_token
    [stored] = connection.stored
    assert stored.refresh_token not in (None, tokens.refresh_token)
    for listing in graph_requests(peer):
        assert listing.headers["Authorization"] == f"Bearer {stored.access_token}"
    assert peer.requests.index(refresh) < peer.requests.index(graph_requests(peer)[0])


async def test_a_401_refreshes_once_and_retries(
    connection: Connection, account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    peer.grants.expire_access_tokens()

    await account.calendars()

    assert [(r.method, r.path) for r in peer.requests if "openid" not in r.path] == [
        ("GET", "/v1.0/me/calendars"),
        ("POST", "/common/oauth2/v2.0/token"),
        ("GET", "/v1.0/me/calendars"),
    ]
    assert (
        peer.requests[-1].headers["Authorization"] == f"Bearer {connection.stored[0].access_token}"
    )


async def test_a_401_after_a_refresh_breaks_the_grant(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    expired = graph_error(
        401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid."
    )
    peer.answer_next("/v1.0/", expired, expired)

    with pytest.raises(GrantBroken, match="InvalidAuthenticationToken"):
        await account.calendars()

    assert len(peer.requests_to("/oauth2/v2.0/token")) == 1


async def test_a_revoked_grant_breaks_with_the_aadsts_reason(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    peer.grants.revoke()

    with pytest.raises(GrantBroken, match="AADSTS70000"):
        await account.busy_changes(CALENDAR, None, START, END)


async def test_throttling_means_retry_later_after_retry_after(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    peer.answer_next(
        "/v1.0/",
        graph_error(429, "TooManyRequests", "Please retry again later.", {"Retry-After": "17"}),
        graph_error(503, "ServiceUnavailable", "Service unavailable.", {"Retry-After": "4"}),
        graph_error(504, "GatewayTimeout", "Gateway timeout."),
    )

    with pytest.raises(CalendarRetryLater) as throttled:
        await account.busy_changes(CALENDAR, None, START, END)
    with pytest.raises(CalendarRetryLater) as unavailable:
        await account.calendars()
    with pytest.raises(CalendarRetryLater) as timeout:
        await account.calendars()

    assert throttled.value.retry_after == 17
    assert unavailable.value.retry_after == 4
    assert timeout.value.retry_after is None
    assert "TooManyRequests" in str(throttled.value)


async def test_5xx_then_the_same_call_succeeds(
    account: MicrosoftCalendarAccount, peer: MicrosoftPeer
) -> None:
    peer.put(CALENDAR, {"id": "dentist", "start": at(2, 9), "end": at(2, 10)})
    peer.answer_next(DELTA, graph_error(500, "InternalServerError", "Something went wrong."))

    with pytest.raises(CalendarRetryLater):
        await account.busy_changes(CALENDAR, None, START, END)
    changes = await account.busy_changes(CALENDAR, None, START, END)

    assert busy_ids(changes) == ["dentist"]


async def test_a_4xx_is_for_good(account: MicrosoftCalendarAccount, peer: MicrosoftPeer) -> None:
    peer.answer_next(
        "/events", graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials.")
    )

    with pytest.raises(CalendarRefused, match="ErrorAccessDenied"):
        await account.put_event(CALENDAR, a_booking())
    with pytest.raises(CalendarRefused, match="ErrorItemNotFound"):
        await account.busy_changes("AAMkNoSuchCalendar=", None, START, END)


async def test_graph_unreachable_means_retry_later(connection: Connection) -> None:
    account = connection.account()
    await connection.peer.close()

    with pytest.raises(CalendarRetryLater, match="could not be reached"):
        await account.calendars()
