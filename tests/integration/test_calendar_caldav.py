"""The CalDAV adapter against a real Radicale: the login checked on connect, the calendars
listed, busy time read in full and by sync token, and the booking's event written once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import caldav
import pytest

from activities.calendars.caldav_account import CalDavAccount, connect_caldav
from activities.calendars.caldav_http import LOGIN_REFUSED
from activities.calendars.port import CalendarRefused, CalendarRetryLater, GrantBroken, event_name
from contract.calendars import BusyChanges, BusyEvent, EventToWrite
from devstack.peers.notify import Answer, Recorded, VendorPeer
from tests.integration.caldav_events import (
    ACCEPTED,
    ALL_DAY,
    CANCELLED,
    DECLINED,
    LATER,
    SINGLE,
    TRANSPARENT,
    WEEKLY,
    ics,
    new_calendar,
    put,
)
from tests.integration.notifier_helpers import closed_port_url
from tests.integration.radicale_server import (
    OTHER_PASSWORD,
    OTHER_USERNAME,
    Radicale,
    radicale_fixture,  # noqa: F401 (the `radicale` fixture)
)

START, END = datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
async def account(radicale: Radicale) -> AsyncIterator[CalDavAccount]:
    account = CalDavAccount(radicale.url, radicale.username, radicale.password)
    yield account
    await account.aclose()


@pytest.fixture
def calendar(radicale: Radicale) -> Iterator[caldav.Calendar]:
    """Ann's calendar, kept in New York time, holding nothing yet."""
    calendar = new_calendar(radicale, "Work", timezone="America/New_York")
    yield calendar
    calendar.delete()


def spans(changes: BusyChanges) -> dict[str, tuple[datetime, datetime]]:
    """Each block by `<resource name>#<occurrence>`, the resource's path left out."""
    return {e.external_id.rsplit("/", 1)[1]: (e.start, e.end) for e in changes.busy}


def resource_path(obj: caldav.CalendarObjectResource) -> str:
    assert obj.url is not None
    return str(obj.url.path)


async def test_connect_checks_the_login_and_lists_event_calendars(radicale: Radicale) -> None:
    work = new_calendar(radicale, "Work", timezone="America/New_York")
    tasks = new_calendar(radicale, "Chores", components=["VTODO"])

    account, calendars = await connect_caldav(radicale.url, radicale.username, radicale.password)
    await account.aclose()

    listed = {c.id: c for c in calendars}
    assert str(work.url) in listed
    assert str(tasks.url) not in listed  # a task list holds no busy time
    assert listed[str(work.url)].name == "Work"
    assert listed[str(work.url)].timezone == "America/New_York"
    assert listed[str(work.url)].can_write
    assert account.kind == "caldav"


async def test_a_wrong_app_password_breaks_the_grant(
    radicale: Radicale, calendar: caldav.Calendar
) -> None:
    with pytest.raises(GrantBroken, match=LOGIN_REFUSED):
        await connect_caldav(radicale.url, radicale.username, "wrong-password")

    # A password revoked after connecting: the next sync says so.
    revoked = CalDavAccount(radicale.url, radicale.username, "revoked-password")
    with pytest.raises(GrantBroken, match=LOGIN_REFUSED):
        await revoked.busy_changes(str(calendar.url), None, START, END)
    await revoked.aclose()


class DavStandIn(VendorPeer):
    """A web server that is not CalDAV: PROPFIND is not a method it knows."""

    def accept(self, request: Recorded) -> Answer:
        return Answer(405, headers={"Allow": "GET, HEAD"})


@pytest.fixture
async def stand_in() -> AsyncIterator[DavStandIn]:
    peer = DavStandIn()
    await peer.start()
    yield peer
    await peer.close()


async def test_connect_tells_what_is_wrong_with_the_server(stand_in: DavStandIn) -> None:
    with pytest.raises(CalendarRefused, match="405 Method Not Allowed; is it the CalDAV address"):
        await connect_caldav(stand_in.url, "ann", "pw")
    assert stand_in.requests[0].method == "PROPFIND"

    stand_in.answer_next(Answer(200, {"html": "a web page"}))
    with pytest.raises(CalendarRefused, match="200 OK; is it the CalDAV address"):
        await connect_caldav(stand_in.url, "ann", "pw")

    stand_in.answer_next(Answer(429, headers={"Retry-After": "7"}))
    with pytest.raises(CalendarRetryLater) as slow_down:
        await connect_caldav(stand_in.url, "ann", "pw")
    assert slow_down.value.retry_after == 7

    stand_in.answer_next(Answer(503))
    with pytest.raises(CalendarRetryLater) as down:
        await connect_caldav(stand_in.url, "ann", "pw")
    assert down.value.retry_after is None

    with pytest.raises(CalendarRetryLater, match="could not be reached"):
        await connect_caldav(closed_port_url(), "ann", "pw")


async def test_a_full_sync_expands_series_and_skips_what_does_not_block(
    account: CalDavAccount, calendar: caldav.Calendar
) -> None:
    for text in (WEEKLY, SINGLE, ALL_DAY, TRANSPARENT, CANCELLED, DECLINED, ACCEPTED, LATER):
        put(calendar, text)

    changes = await account.busy_changes(str(calendar.url), None, START, END)

    assert changes.full and changes.removed == [] and changes.state
    assert spans(changes) == {
        # Weekly from the 4th: the 11th excluded, the 18th moved (named by its original start),
        # the 1st of February cancelled.
        "weekly-standup.ics#20270104T090000Z": (at(4, 9), at(4, 9, 30)),
        "weekly-standup.ics#20270118T090000Z": (at(18, 13), at(18, 14)),
        "weekly-standup.ics#20270125T090000Z": (at(25, 9), at(25, 9, 30)),
        "weekly-standup.ics#20270208T090000Z": (at(8, 9, month=2), at(8, 9, 30, month=2)),
        "dentist.ics#20270106T150000Z": (at(6, 15), at(6, 16)),
        # The whole 5th in the calendar's New York time.
        "offsite.ics#20270105": (at(5, 5), at(6, 5)),
        "review.ics#20270113T090000Z": (at(13, 9), at(13, 10)),
    }
    assert all(e.booking_id is None for e in changes.busy)


async def test_an_incremental_sync_returns_just_the_changes(
    account: CalDavAccount, calendar: caldav.Calendar
) -> None:
    weekly, single = put(calendar, WEEKLY), put(calendar, SINGLE)
    put(calendar, ALL_DAY)
    first = await account.busy_changes(str(calendar.url), None, START, END)

    added = put(calendar, ics("new", "DTSTART:20270120T160000Z", "DTEND:20270120T170000Z"))
    put(  # the series moved an hour later and cut to three weeks
        calendar,
        ics(
            "weekly-standup",
            "DTSTART;TZID=Europe/Berlin:20270104T110000",
            "DTEND;TZID=Europe/Berlin:20270104T113000",
            "RRULE:FREQ=WEEKLY;COUNT=3",
        ),
    )
    single.delete()
    changes = await account.busy_changes(str(calendar.url), first.state, START, END)

    assert not changes.full
    assert changes.state and changes.state != first.state
    assert set(changes.removed) == {resource_path(o) for o in (added, weekly, single)}
    assert spans(changes) == {
        "new.ics#20270120T160000Z": (at(20, 16), at(20, 17)),
        "weekly-standup.ics#20270104T100000Z": (at(4, 10), at(4, 10, 30)),
        "weekly-standup.ics#20270111T100000Z": (at(11, 10), at(11, 10, 30)),
        "weekly-standup.ics#20270118T100000Z": (at(18, 10), at(18, 10, 30)),
    }
    # Every block names its resource before the `#`, as the store expects.
    assert {e.external_id.split("#")[0] for e in changes.busy} <= set(changes.removed)

    quiet = await account.busy_changes(str(calendar.url), changes.state, START, END)
    assert quiet == BusyChanges(busy=[], removed=[], full=False, state=changes.state)


@pytest.mark.parametrize(
    "token",
    ["http://radicale.org/ns/sync/" + "0" * 64, "not-a-sync-token"],
    ids=["unknown", "bogus"],
)
async def test_a_token_the_server_does_not_know_starts_a_full_listing(
    account: CalDavAccount, calendar: caldav.Calendar, token: str
) -> None:
    put(calendar, SINGLE)
    put(calendar, ALL_DAY)

    changes = await account.busy_changes(str(calendar.url), token, START, END)

    assert changes.full and changes.removed == [] and changes.state
    assert set(spans(changes)) == {"dentist.ics#20270106T150000Z", "offsite.ics#20270105"}


def booking_event(booking_id: uuid.UUID, start: datetime) -> EventToWrite:
    return EventToWrite(
        booking_id=booking_id,
        summary="Haircut with Ann",
        description="Booked through the booking site",
        start=start,
        end=start + timedelta(minutes=45),
        timezone="Europe/Berlin",
    )


def events_of(calendar: caldav.Calendar, booking_id: uuid.UUID) -> list[str]:
    return [e.data for e in calendar.events() if f"booking-{booking_id}@" in e.data]


async def test_the_booking_is_written_once_and_moved(
    account: CalDavAccount, calendar: caldav.Calendar
) -> None:
    booking_id = uuid.uuid4()
    written = await account.put_event(str(calendar.url), booking_event(booking_id, at(7, 9)))
    moved = await account.put_event(str(calendar.url), booking_event(booking_id, at(7, 11)))

    assert written.event_id == moved.event_id == f"{calendar.url}{event_name(booking_id)}.ics"
    assert written.etag and moved.etag and written.etag != moved.etag
    [data] = events_of(calendar, booking_id)
    assert f"UID:booking-{booking_id}@bookings" in data
    assert "DTSTART;TZID=Europe/Berlin:20270107T120000" in data
    assert "DTEND;TZID=Europe/Berlin:20270107T124500" in data
    assert "BEGIN:VTIMEZONE" in data and "TZID:Europe/Berlin" in data
    assert "SUMMARY:Haircut with Ann" in data

    changes = await account.busy_changes(str(calendar.url), None, START, END)
    assert changes.busy == [
        BusyEvent(
            external_id=f"{urlsplit(moved.event_id).path}#20270107T110000Z",
            start=at(7, 11),
            end=at(7, 11, 45),
            booking_id=booking_id,
        )
    ]


async def test_deleting_the_booking_twice_is_fine(
    account: CalDavAccount, calendar: caldav.Calendar
) -> None:
    booking_id = uuid.uuid4()
    await account.put_event(str(calendar.url), booking_event(booking_id, at(7, 9)))
    before = await account.busy_changes(str(calendar.url), None, START, END)

    await account.delete_event(str(calendar.url), booking_id)
    await account.delete_event(str(calendar.url), booking_id)

    assert events_of(calendar, booking_id) == []
    after = await account.busy_changes(str(calendar.url), before.state, START, END)
    assert after.busy == [] and after.removed == [before.busy[0].external_id.split("#")[0]]


async def test_an_invitation_to_a_booking_counts_as_ours(
    account: CalDavAccount, calendar: caldav.Calendar
) -> None:
    """The customer's invite, imported by the provider's app, names the booking in its UID."""
    booking_id = uuid.uuid4()
    put(
        calendar,
        ics(
            f"booking-{booking_id}@example.com",
            "DTSTART:20270107T090000Z",
            "DTEND:20270107T100000Z",
        ),
    )

    changes = await account.busy_changes(str(calendar.url), None, START, END)

    assert [e.booking_id for e in changes.busy] == [booking_id]


async def test_a_calendar_we_may_not_write_to_refuses_without_breaking_the_grant(
    account: CalDavAccount, radicale: Radicale
) -> None:
    bobs = new_calendar(
        Radicale(radicale.url, OTHER_USERNAME, OTHER_PASSWORD, radicale.log), "Bob's"
    )
    with pytest.raises(CalendarRefused, match="403"):
        await account.put_event(str(bobs.url), booking_event(uuid.uuid4(), at(7, 9)))
    with pytest.raises(CalendarRefused, match="403"):
        await account.busy_changes(str(bobs.url), None, START, END)
    assert await account.calendars()  # the login still works
