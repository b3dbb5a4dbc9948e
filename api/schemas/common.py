from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

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


class ErrorPublic(BaseModel):
    """Every error a client sees (api/errors.py): a stable code and a readable sentence."""

    code: str
    detail: str
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="validation_error only: each invalid field's loc, msg, type"
    )


ERROR_DESCRIPTIONS = {
    400: "the body cannot be read as the type it claims",
    401: "not signed in, or the token is invalid or expired",
    403: "signed in, but not allowed (providers_only, admins_only, ...)",
    404: "nothing of yours with that id",
    409: "refused by the resource's state",
    413: "the body is over the size limit (body_too_large)",
    422: "the request is invalid (validation_error, or the rule its code names)",
    503: "a dependency cannot be reached; try again after Retry-After seconds",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for errors a router's routes answer, with their body's schema."""
    return {s: {"model": ErrorPublic, "description": ERROR_DESCRIPTIONS[s]} for s in statuses}
