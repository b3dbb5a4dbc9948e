"""The booking as an iCalendar invite (RFC 5545/5546) that calendar apps add, move and remove."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Literal

from icalendar import STATUS, Calendar, Event, Timezone, vCalAddress

from activities.notifications.facts import BookingFacts
from domain.timezones import parse_zone

PRODID = "-//Booking//Appointments//EN"


def invite(
    facts: BookingFacts, *, method: Literal["REQUEST", "CANCEL"], sequence: int, domain: str
) -> str:
    """The invite's text (CRLF lines); a later one with a higher `sequence` replaces it."""
    zone = parse_zone(facts.provider_timezone)
    start, end = facts.start.astimezone(zone), facts.end.astimezone(zone)
    provider, customer = facts.provider, facts.customer
    event = Event.new(
        # One UID for the booking's whole life: that is how a calendar finds the event to update.
        uid=f"booking-{facts.booking_id}@{domain}",
        sequence=sequence,
        start=start,
        end=end,
        summary=f"{facts.service_name} with {provider.name}",
        description=f"Your booking: {facts.link}",
        url=facts.link,
        status=STATUS.CONFIRMED if method == "REQUEST" else STATUS.CANCELLED,
        organizer=vCalAddress.new(provider.email, cn=provider.name),
        attendees=[
            vCalAddress.new(
                customer.email,
                cn=customer.name,
                role="REQ-PARTICIPANT",
                # Booked and paid: nothing to answer, so no RSVP is asked for.
                partstat="ACCEPTED" if method == "REQUEST" else None,
            )
        ],
    )
    calendar = Calendar.new(prodid=PRODID, method=method, subcomponents=[event])
    text: str = calendar.to_ical().decode()
    # The VTIMEZONE goes before the event that names its TZID, as add_missing_timezones puts it.
    zones = "".join(
        vtimezone(tzid, start.year, end.year) for tzid in sorted(calendar.get_missing_tzids())
    )
    before, event_begins, rest = text.partition("BEGIN:VEVENT\r\n")
    return before + zones + event_begins + rest


@lru_cache(maxsize=256)
def vtimezone(tzid: str, first_year: int, last_year: int) -> str:
    """The zone's VTIMEZONE with its rules from the start's year to the end of the next: small,
    and it covers the event. Cached: icalendar walks the zone's offsets to build it, which
    takes 20 ms for a zone without daylight saving time (it walks to the year 9999)."""
    zone = Timezone.from_tzid(
        tzid, first_date=date(first_year, 1, 1), last_date=date(last_year + 2, 1, 1)
    )
    text: bytes = zone.to_ical()
    return text.decode()
