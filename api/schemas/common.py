from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from domain.timezones import parse_zone


class Strict(BaseModel):
    """A request body that refuses unknown fields: a misspelt key must not pass for an omitted
    one (for working hours, that would silently close the day)."""

    model_config = ConfigDict(extra="forbid")


def zone_name(value: str | None) -> str | None:
    """Validator: an IANA zone name, or a readable refusal."""
    if value is not None:
        parse_zone(value)
    return value


_CLOCK = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")


def _clock(value: object) -> time:
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        raise ValueError("a wall-clock time is a string like '09:30'")
    if value == "24:00":
        return time(0)
    if not _CLOCK.match(value):
        raise ValueError(f"{value!r} is not a wall-clock time like '09:30' (00:00 to 24:00)")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _end_clock(value: time) -> str:
    return "24:00" if value == time(0) else value.strftime("%H:%M")


# "HH:MM" local wall-clock time; as an end, "24:00" (stored as 00:00) is midnight ending the day.
Clock = Annotated[
    time, BeforeValidator(_clock), PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str)
]
EndClock = Annotated[time, BeforeValidator(_clock), PlainSerializer(_end_clock, return_type=str)]


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list, with the count of all matches."""

    data: list[T]
    count: int
