"""Calendar connections as the provider sees and changes them. Secrets never come back out."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import BaseModel, Field, SecretStr, field_validator

from api.schemas.common import Strict
from api.schemas.providers import NO_NUL
from contract.calendars import CalendarInfo
from db.calendar_connections import Connection


class CalDavConnect(Strict):
    """A CalDAV account: the server's address, the user name and an app password (iCloud,
    Fastmail and Nextcloud issue one per app). Checked by logging in before it is stored."""

    url: str = Field(
        min_length=8,
        max_length=1024,
        pattern=r"^https?://[^\s\x00]+$",
        examples=["https://caldav.fastmail.com/dav/calendars/user/ann@example.com/"],
    )
    username: str = Field(min_length=1, max_length=320, pattern=NO_NUL)
    password: SecretStr = Field(min_length=1, max_length=1024)

    @field_validator("url")
    @classmethod
    def _server_address(cls, url: str) -> str:
        try:
            parts = urlsplit(url)
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            raise ValueError("the CalDAV address is not a valid URL") from None
        if not parts.hostname or not port_ok:
            raise ValueError("the CalDAV address must name a server: https://host/path")
        if not parts.hostname.startswith("["):  # an IPv6 literal has no labels
            try:
                parts.hostname.encode("idna")  # each label 1 to 63 characters, none empty
            except UnicodeError:
                raise ValueError(f"{parts.hostname} is not a server's name") from None
        return url


class CalendarChoice(Strict):
    """Which of the connection's calendars block my time, and where new bookings are written
    (one of the connection's calendars, or null for none)."""

    blocking: list[str] = Field(max_length=50)
    destination: str | None = Field(default=None, max_length=1024)


class CalendarPublic(BaseModel):
    id: str
    name: str
    primary: bool
    can_write: bool
    timezone: str | None
    blocking: bool
    destination: bool

    @classmethod
    def of(cls, calendar: CalendarInfo, connection: Connection) -> CalendarPublic:
        return cls(
            **calendar.model_dump(),
            blocking=calendar.id in connection.blocking_calendars,
            destination=calendar.id == connection.destination_calendar,
        )


class ConnectionPublic(BaseModel):
    id: UUID
    kind: str
    status: str = Field(description="active, or broken: reconnect to mend it")
    account: str
    server_url: str | None
    blocking_calendars: list[str]
    destination_calendar: str | None
    last_synced_at: datetime | None
    last_error: str | None
    broken_reason: str | None = Field(description="why the grant or password stopped working")
    created_at: datetime
    calendars: list[CalendarPublic] | None = Field(
        default=None, description="the account's calendars, when the answer lists them"
    )

    @classmethod
    def of(
        cls, connection: Connection, calendars: list[CalendarInfo] | None = None
    ) -> ConnectionPublic:
        fields = connection._asdict()
        for private in ("secret", "sync_state", "provider_id", "updated_at", "full_synced_at"):
            fields.pop(private)
        listed = (
            None if calendars is None else [CalendarPublic.of(c, connection) for c in calendars]
        )
        return cls(**fields, calendars=listed)


class SyncInitiated(BaseModel):
    connections: int = Field(description="how many connections were asked to sync now")


class AuthorizationStarted(BaseModel):
    """Send the provider's browser to `authorization_url`; the vendor sends it back to our
    callback, which stores the grant. Single use, and only until `expires_at`."""

    authorization_url: str
    expires_at: datetime
