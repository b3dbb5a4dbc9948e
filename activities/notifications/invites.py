"""The booking as an iCalendar invite (RFC 5545/5546) that calendar apps add, move and remove."""

from __future__ import annotations

from datetime import date
from typing import Literal

from icalendar import STATUS, Calendar, Event, vCalAddress

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
    # Rules from the start's year to the end of the next: small, and it covers the event.
    calendar.add_missing_timezones(
        first_date=date(start.year, 1, 1), last_date=date(end.year + 2, 1, 1)
    )
    text: bytes = calendar.to_ical()
    return text.decode()
