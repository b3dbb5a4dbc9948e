"""A stored connection's account: its sealed secret opened, the vendor's adapter built.

The API uses it to check a login on connect, to start and finish an OAuth flow, and to list
calendars; the sync worker to read them. A refreshed OAuth grant is sealed and stored at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from activities.calendars.caldav_account import CalDavAccount
from activities.calendars.google_account import GoogleCalendarAccount
from activities.calendars.microsoft_account import GRAPH_API, MicrosoftCalendarAccount
from activities.calendars.oauth import (
    GOOGLE_AUTH_URI,
    GOOGLE_TOKEN_URI,
    GoogleOAuth,
    MicrosoftOAuth,
    OAuthClient,
)
from activities.calendars.port import CalendarAccount, CalendarRefused
from config import Settings
from contract.calendars import CalendarKind, OAuthTokens
from db import calendar_connections as store
from db.engine import Database
from db.sealed import Sealer
from domain.timezones import utc_now

OAUTH_KINDS = (CalendarKind.GOOGLE, CalendarKind.MICROSOFT)


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

    def unseal(self, sealed: str) -> dict[str, str]:
        return self._sealer.open(sealed)

    def redirect_uri(self, kind: CalendarKind) -> str:
        return f"{self._settings.public_base_url.rstrip('/')}/calendar/connections/{kind}/callback"

    def oauth(self, kind: CalendarKind) -> OAuthClient | None:
        """The vendor's OAuth client, or None when it is not configured."""
        s = self._settings
        if kind == CalendarKind.GOOGLE and s.google_client_id and s.google_client_secret:
            return GoogleOAuth(
                client_id=s.google_client_id,
                client_secret=s.google_client_secret.get_secret_value(),
                redirect_uri=self.redirect_uri(kind),
                auth_uri=s.google_oauth_auth_uri or GOOGLE_AUTH_URI,
                token_uri=s.google_oauth_token_uri or GOOGLE_TOKEN_URI,
                ca_bundle=s.calendar_oauth_ca_bundle,
            )
        if kind == CalendarKind.MICROSOFT and s.microsoft_client_id and s.microsoft_client_secret:
            return MicrosoftOAuth(
                client_id=s.microsoft_client_id,
                client_secret=s.microsoft_client_secret.get_secret_value(),
                redirect_uri=self.redirect_uri(kind),
                authority=s.microsoft_authority,
                ca_bundle=s.calendar_oauth_ca_bundle,
            )
        return None

    def grant_account(
        self, kind: CalendarKind, tokens: OAuthTokens, connection_id: UUID | None = None
    ) -> CalendarAccount:
        """An account on a grant; a refreshed grant is stored for `connection_id` (if any)."""
        oauth = self.oauth(kind)
        if oauth is None:
            raise CalendarRefused(f"{kind} calendars are not configured on this server")

        async def on_refreshed(fresh: OAuthTokens) -> None:
            if connection_id is not None:
                sealed = self.seal(fresh.model_dump(mode="json"))
                await store.replace_secret(self._db, connection_id, sealed, now=self._clock())

        if kind == CalendarKind.GOOGLE:
            return GoogleCalendarAccount(
                tokens, oauth, on_refreshed, api_base=self._settings.google_calendar_api_base
            )
        return MicrosoftCalendarAccount(
            tokens, oauth, on_refreshed, api_base=self._settings.graph_api_base or GRAPH_API
        )

    async def open(self, connection: store.Connection) -> CalendarAccount:
        """The connection's account; SealBroken if no configured key opens its secret."""
        secret = self._sealer.open(connection.secret)
        if connection.kind == CalendarKind.CALDAV:
            assert connection.server_url is not None
            return CalDavAccount(connection.server_url, secret["username"], secret["password"])
        kind = CalendarKind(connection.kind)
        return self.grant_account(kind, OAuthTokens.model_validate(secret), connection.id)
