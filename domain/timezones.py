"""IANA time zones: parsing with a readable refusal, and rendering instants in a zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_KNOWN = frozenset(available_timezones())


def parse_zone(name: str) -> ZoneInfo:
    """The zone called `name` (e.g. "Europe/Berlin"); ValueError naming the problem otherwise."""
    if name not in _KNOWN:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {name!r}") from err


def utc_now() -> datetime:
    """The clock every adapter gets by default; tests hand theirs in."""
    return datetime.now(UTC)


def in_zone(instant: datetime, zone: ZoneInfo | None) -> datetime:
    """`instant` shown in `zone` (UTC when none is asked for); the instant never changes."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: attach a time zone")
    return instant.astimezone(zone or ZoneInfo("UTC"))
