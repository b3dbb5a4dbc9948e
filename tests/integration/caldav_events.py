"""A provider's own CalDAV calendar, as their calendar app would fill it: the tests' events."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date

import caldav
from caldav.elements import cdav
from icalendar import Calendar, Timezone

from tests.integration.radicale_server import Radicale


def provider_client(server: Radicale) -> caldav.DAVClient:
    return caldav.DAVClient(server.url, username=server.username, password=server.password)


def new_calendar(
    server: Radicale, name: str, *, timezone: str | None = None, components: list[str] | None = None
) -> caldav.Calendar:
    """A fresh collection (a random id, so tests never share one), with a calendar-timezone."""
    principal = provider_client(server).principal()
    calendar = principal.make_calendar(
        name=name, cal_id=uuid.uuid4().hex, supported_calendar_component_set=components
    )
    if timezone is not None:
        zone = Timezone.from_tzid(timezone, first_date=date(2026, 1, 1), last_date=date(2029, 1, 1))
        text = Calendar.new(prodid="-//Tests//EN", subcomponents=[zone]).to_ical().decode()
        calendar.set_properties([cdav.CalendarTimeZone(text)])
    return calendar


def ics(uid: str, *lines: str, extra: Iterable[Iterable[str]] = ()) -> str:
    """One resource: a VEVENT with `lines`, and more VEVENTs of the same UID (overrides)."""
    events = [lines, *extra]
    body = "".join(
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261201T000000Z\r\n"
        + "".join(f"{line}\r\n" for line in event)
        + "END:VEVENT\r\n"
        for event in events
    )
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Provider's app//EN\r\n{body}END:VCALENDAR\r\n"
    )


def put(calendar: caldav.Calendar, text: str) -> caldav.Event:
    """Save as a calendar app does: the resource is named after the UID, overwritten if there."""
    return calendar.save_event(text)


# Monday 4 January 2027 onwards; Berlin is UTC+1 and New York UTC-5 in January.
WEEKLY = ics(
    "weekly-standup",
    "SUMMARY:Stand-up",
    "DTSTART;TZID=Europe/Berlin:20270104T100000",
    "DTEND;TZID=Europe/Berlin:20270104T103000",
    "RRULE:FREQ=WEEKLY;COUNT=6",
    "EXDATE;TZID=Europe/Berlin:20270111T100000",
    extra=[
        # The 18th moved to the afternoon; the 1st of February called off.
        (
            "RECURRENCE-ID;TZID=Europe/Berlin:20270118T100000",
            "DTSTART;TZID=Europe/Berlin:20270118T140000",
            "DTEND;TZID=Europe/Berlin:20270118T150000",
        ),
        (
            "RECURRENCE-ID;TZID=Europe/Berlin:20270201T100000",
            "DTSTART;TZID=Europe/Berlin:20270201T100000",
            "DTEND;TZID=Europe/Berlin:20270201T103000",
            "STATUS:CANCELLED",
        ),
    ],
)
SINGLE = ics("dentist", "SUMMARY:Dentist", "DTSTART:20270106T150000Z", "DTEND:20270106T160000Z")
ALL_DAY = ics(
    "offsite", "SUMMARY:Offsite", "DTSTART;VALUE=DATE:20270105", "DTEND;VALUE=DATE:20270106"
)
TRANSPARENT = ics(
    "focus",
    "SUMMARY:Focus time",
    "DTSTART:20270107T080000Z",
    "DTEND:20270107T120000Z",
    "TRANSP:TRANSPARENT",
)
CANCELLED = ics("lunch", "DTSTART:20270108T120000Z", "DTEND:20270108T130000Z", "STATUS:CANCELLED")
# Ann declined this one (her address in another case), and accepted the next one, which
# somebody else declined.
DECLINED = ics(
    "board-meeting",
    "DTSTART:20270112T090000Z",
    "DTEND:20270112T100000Z",
    "ORGANIZER:mailto:carol@example.com",
    "ATTENDEE;PARTSTAT=DECLINED:mailto:Ann@Example.COM",
)
ACCEPTED = ics(
    "review",
    "DTSTART:20270113T090000Z",
    "DTEND:20270113T100000Z",
    "ORGANIZER:mailto:carol@example.com",
    "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.com",
    "ATTENDEE;PARTSTAT=DECLINED:mailto:dave@example.com",
)
LATER = ics("next-year", "DTSTART:20280110T090000Z", "DTEND:20280110T100000Z")
