"""The iCalendar side of CalDAV: the booking as a resource we write, and a resource's busy time
(recurring events expanded, all-day events on their local day, free, cancelled and declined
events left out)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, tzinfo
from urllib.parse import quote, unquote, urljoin, urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

import recurring_ical_events  # type: ignore[import-untyped]
from icalendar import Calendar, Component, Event, Timezone
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from activities.calendars.port import event_name
from activities.notifications.invites import PRODID, vtimezone
from contract.calendars import BusyEvent, EventToWrite
from domain.timezones import parse_zone

log = logging.getLogger(__name__)
OUR_UID = re.compile(r"booking-([0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12})@", re.IGNORECASE)
OUR_RESOURCE = re.compile(r"/booking([0-9a-f]{32})\.ics$")
BOOKING_UID_DOMAIN = "bookings"


def resource_key(href: str) -> str:
    """A resource's path, encoded one way whatever the server's href looked like."""
    return quote(unquote(urlsplit(href).path))


def event_url(calendar_id: str, booking_id: UUID) -> str:
    collection = calendar_id if calendar_id.endswith("/") else calendar_id + "/"
    return urljoin(collection, f"{event_name(booking_id)}.ics")


def mailbox(address: str) -> str:
    """`mailto:Ann@Example.com` → `ann@example.com`."""
    address = address.strip().lower()
    return address.removeprefix("mailto:")


def booking_ics(event: EventToWrite) -> str:
    """The booking as one VEVENT in the provider's zone, its VTIMEZONE ahead of it."""
    zone = parse_zone(event.timezone)
    start, end = event.start.astimezone(zone), event.end.astimezone(zone)
    vevent = Event.new(
        uid=f"booking-{event.booking_id}@{BOOKING_UID_DOMAIN}",
        start=start,
        end=end,
        summary=event.summary,
        description=event.description,
    )
    calendar = Calendar.new(prodid=PRODID, subcomponents=[vevent])
    for tzid in sorted(calendar.get_missing_tzids()):
        calendar.subcomponents.insert(0, Timezone.from_ical(vtimezone(tzid, start.year, end.year)))
    text: str = calendar.to_ical().decode()
    return text


def busy_of_resource(
    key: str,
    ics: str,
    start: datetime,
    end: datetime,
    calendar_zone: Callable[[], tzinfo | None],
    is_own: Callable[[str], bool],
) -> list[BusyEvent]:
    """The occurrences of one calendar resource between `start` and `end` that block time."""
    if not ics:
        return []
    try:
        calendar = Calendar.from_ical(ics)
        window = start.astimezone(UTC), end.astimezone(UTC)  # one tzinfo for both, as it asks
        occurrences = recurring_ical_events.of(calendar, skip_bad_series=True).between(*window)
    except ValueError as err:
        log.warning("calendar resource %s is not iCalendar we can read: %s", key, err)
        return []
    booking_id = _booking_of(key, calendar)
    zones: list[tzinfo] = []

    def local() -> tzinfo:
        if not zones:
            zones.append(calendar_zone() or _resource_zone(calendar) or UTC)
        return zones[0]

    busy = []
    for occurrence in occurrences:
        if not _blocks(occurrence, is_own):
            continue
        begins, ends = _instant(occurrence.start, local), _instant(occurrence.end, local)
        recurrence = occurrence.get("RECURRENCE-ID")
        which = _occurrence_id(recurrence.dt if recurrence is not None else occurrence.start)
        if ends > begins:
            busy.append(
                BusyEvent(
                    external_id=f"{key}#{which}", start=begins, end=ends, booking_id=booking_id
                )
            )
    return busy


def _blocks(occurrence: Component, is_own: Callable[[str], bool]) -> bool:
    """Not free (TRANSP:TRANSPARENT), not cancelled, not declined by the account's owner."""
    if str(occurrence.get("TRANSP", "")).upper() == "TRANSPARENT":
        return False
    if str(occurrence.get("STATUS", "")).upper() == "CANCELLED":
        return False
    attendees = occurrence.get("ATTENDEE", [])
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        declined = str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED"
        if declined and is_own(mailbox(str(attendee))):
            return False
    return True


def _instant(value: date | datetime, local: Callable[[], tzinfo]) -> datetime:
    """A DATE is its day's start, a floating time a wall time, both in the `local` zone."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(), local())
    elif value.tzinfo is None:
        value = value.replace(tzinfo=local())
    return value.astimezone(UTC)


def _occurrence_id(value: date | datetime) -> str:
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if value.tzinfo is None:
        return value.strftime("%Y%m%dT%H%M%S")
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _booking_of(key: str, calendar: Calendar) -> UUID | None:
    """Ours: written by put_event (its resource name) or an invite's UID `booking-<uuid>@…`."""
    if named := OUR_RESOURCE.search(unquote(key)):
        return UUID(hex=named.group(1))
    for vevent in calendar.walk("VEVENT"):
        if uid := OUR_UID.match(str(vevent.get("UID", ""))):
            return UUID(uid.group(1))
    return None


def _resource_zone(calendar: Calendar) -> tzinfo | None:
    """The zone a resource names for itself: X-WR-TIMEZONE, else its VTIMEZONE."""
    tzids = [str(calendar.get("X-WR-TIMEZONE", ""))]
    tzids += [str(vtimezone.get("TZID", "")) for vtimezone in calendar.walk("VTIMEZONE")]
    name = next(filter(None, map(_iana, tzids)), None)
    return ZoneInfo(name) if name else None


def zone_name(calendar_timezone: str | None) -> str | None:
    """The IANA name of a calendar-timezone property (a VCALENDAR holding a VTIMEZONE)."""
    if not calendar_timezone:
        return None
    try:
        vtimezones = Calendar.from_ical(calendar_timezone).walk("VTIMEZONE")
    except ValueError:
        return None
    return next(filter(None, (_iana(str(v.get("TZID", ""))) for v in vtimezones)), None)


def _iana(tzid: str) -> str | None:
    """An IANA name from a TZID: itself, a Windows name, or one behind a prefix
    (`/mozilla.org/20050126_1/Europe/Berlin`)."""
    tzid = WINDOWS_TO_OLSON.get(tzid.strip(), tzid.strip())
    parts = tzid.split("/")
    for first in range(len(parts)):
        try:
            return parse_zone("/".join(parts[first:])).key
        except ValueError:
            continue
    return None
