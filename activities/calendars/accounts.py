"""A stored connection's account: its sealed secret opened, the vendor's adapter built.

The API uses it to check a login on connect and to list calendars; the sync worker to read
them. A refreshed OAuth grant is sealed and stored again at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from activities.calendars.caldav_account import CalDavAccount
from activities.calendars.port import CalendarAccount, CalendarRefused
from config import Settings
from contract.calendars import CalendarKind
from db import calendar_connections as store
from db.engine import Database
from db.sealed import Sealer
from domain.timezones import utc_now


class CalendarAccounts:
    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        settings: Settings,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._sealer = sealer
        self._settings = settings
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, db: Database) -> CalendarAccounts:
        return cls(db, Sealer.from_settings(settings), settings)

    def seal(self, secret: dict[str, str]) -> str:
        return self._sealer.seal(secret)

    async def open(self, connection: store.Connection) -> CalendarAccount:
        """The connection's account; SealBroken if no configured key opens its secret."""
        secret = self._sealer.open(connection.secret)
        if connection.kind == CalendarKind.CALDAV:
            assert connection.server_url is not None
            return CalDavAccount(connection.server_url, secret["username"], secret["password"])
        raise CalendarRefused(f"{connection.kind} calendars cannot be read yet")
