"""Invites calendar apps follow: one UID for a booking's life, a rising SEQUENCE, real zones."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from activities.notifications.facts import BookingFacts, Person
from activities.notifications.invites import invite
from contract.messages import Money

NEW_YORK = "America/New_York"
DOMAIN = "bookings.example.com"


def _facts(start: datetime, minutes: int = 60) -> BookingFacts:
    booking_id = uuid.uuid4()
    return BookingFacts(
        booking_id=booking_id,
        service_name="Consultation",
        provider_timezone=NEW_YORK,
        # Stored in UTC, as the database hands it over: the invite shows it in the provider's zone.
        start=start.astimezone(UTC),
        end=(start + timedelta(minutes=minutes)).astimezone(UTC),
        price=Money(amount=5000, currency="USD"),
        customer=Person(uuid.uuid4(), "Jo Customer", "jo@example.com", "Europe/Berlin"),
        provider=Person(uuid.uuid4(), "Dr Ann Provider", "ann@example.com", NEW_YORK),
        link=f"https://api.example.com/appointments/{booking_id}",
    )


def _parse(text: str) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(text)
    [event] = calendar.events
    return calendar, event


def _invite(
    facts: BookingFacts, method: Literal["REQUEST", "CANCEL"], sequence: int
) -> tuple[str, Calendar, Event]:
    text = invite(facts, method=method, sequence=sequence, domain=DOMAIN)
    return (text, *_parse(text))


def test_confirm_reschedule_cancel_update_one_event() -> None:
    first = _facts(datetime(2026, 12, 10, 14, tzinfo=ZoneInfo(NEW_YORK)))
    moved_start = datetime(2026, 12, 11, 9, 30, tzinfo=ZoneInfo(NEW_YORK))
    moved = replace(first, start=moved_start, end=moved_start + timedelta(minutes=45))
    steps: list[tuple[BookingFacts, Literal["REQUEST", "CANCEL"], int, str]] = [
        (first, "REQUEST", 0, "CONFIRMED"),
        (moved, "REQUEST", 1, "CONFIRMED"),
        (moved, "CANCEL", 2, "CANCELLED"),
    ]
    uids = set()
    for facts, method, sequence, status in steps:
        text, calendar, event = _invite(facts, method, sequence)
        uids.add(str(event["UID"]))
        assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
        assert calendar["VERSION"] == "2.0"
        assert calendar["PRODID"]
        assert calendar["METHOD"] == method
        assert event["SEQUENCE"] == sequence
        assert event["STATUS"] == status
        assert event.start == facts.start and event.end == facts.end
        assert event["DTSTART"].params["TZID"] == NEW_YORK
        assert event["DTEND"].params["TZID"] == NEW_YORK
        assert [tz.tz_name for tz in calendar.timezones] == [NEW_YORK]
        assert calendar.get_missing_tzids() == set()
        assert "Consultation" in event["SUMMARY"] and "Dr Ann Provider" in event["SUMMARY"]
        assert facts.link in event["DESCRIPTION"]
        organizer = event["ORGANIZER"]
        assert organizer == "mailto:ann@example.com"
        assert organizer.params["CN"] == "Dr Ann Provider"
        [attendee] = event.attendees
        assert attendee == "mailto:jo@example.com"
        assert attendee.params["CN"] == "Jo Customer"
        assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
        if method == "REQUEST":
            assert attendee.params["PARTSTAT"] == "ACCEPTED"
    assert uids == {f"booking-{first.booking_id}@{DOMAIN}"}


def test_the_stamp_is_now_in_utc() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    _, _, event = _invite(_facts(datetime(2026, 6, 1, 10, tzinfo=ZoneInfo(NEW_YORK))), "REQUEST", 0)
    stamp = event["DTSTAMP"].dt
    assert stamp.utcoffset() == timedelta(0)
    assert before <= stamp <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        # The day New York springs forward (02:00 EST -> 03:00 EDT): 14:00 is already EDT.
        (datetime(2026, 3, 8, 14), datetime(2026, 3, 8, 18, tzinfo=UTC)),
        (datetime(2026, 3, 7, 14), datetime(2026, 3, 7, 19, tzinfo=UTC)),
        # The day it falls back.
        (datetime(2026, 11, 1, 14), datetime(2026, 11, 1, 19, tzinfo=UTC)),
    ],
)
def test_a_booking_on_a_dst_change_day_keeps_its_instant(local: datetime, utc: datetime) -> None:
    text, calendar, event = _invite(_facts(local.replace(tzinfo=ZoneInfo(NEW_YORK))), "REQUEST", 0)
    assert f"DTSTART;TZID={NEW_YORK}:{local:%Y%m%dT%H%M%S}" in text
    assert event.start == utc
    # The VTIMEZONE alone, not the client's own zone database, gives the same offset.
    [vtimezone] = calendar.timezones
    from_component = vtimezone.to_tz(lookup_tzid=False)
    assert local.replace(tzinfo=from_component).astimezone(UTC) == utc


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "Australia/Lord_Howe", "Europe/Berlin", NEW_YORK])
@pytest.mark.parametrize(
    "start",
    # A plain day, and an event that crosses into the next year (the zone's rules must cover it).
    [datetime(2026, 12, 10, 15, tzinfo=UTC), datetime(2027, 12, 31, 23, 30, tzinfo=UTC)],
)
def test_each_zone_is_described_once_before_the_event(zone: str, start: datetime) -> None:
    facts = replace(_facts(start), provider_timezone=zone)
    # The second invite of a zone reuses the first one's VTIMEZONE: it must be the same.
    for method, sequence in (("REQUEST", 0), ("CANCEL", 1)):
        text, calendar, event = _invite(facts, method, sequence)  # type: ignore[arg-type]
        assert text.count("BEGIN:VTIMEZONE") == 1
        assert text.index("END:VTIMEZONE") < text.index("BEGIN:VEVENT")
        [vtimezone] = calendar.timezones
        assert vtimezone.tz_name == zone
        described = vtimezone.to_tz(lookup_tzid=False)
        for instant, written in (
            (facts.start, event["DTSTART"].dt),
            (facts.end, event["DTEND"].dt),
        ):
            assert written.replace(tzinfo=None).replace(tzinfo=described) == instant
