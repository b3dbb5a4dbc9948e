"""A provider's calendars: connect (Google and Microsoft 365 by OAuth, CalDAV by app password),
choose which block their time and where bookings go, sync now, disconnect."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response

from activities.calendars.accounts import CalendarAccounts
from activities.calendars.addresses import require_public_host
from activities.calendars.caldav_account import connect_caldav
from activities.calendars.port import CalendarRefused, CalendarRetryLater, GrantBroken
from api.deps import CurrentProvider, DatabaseDep, ServicesDep, SettingsDep
from api.errors import APIError, DocumentedErrorRoute, not_found
from api.schemas.calendars import (
    AuthorizationStarted,
    CalDavConnect,
    CalendarChoice,
    CalendarPublic,
    ConnectionPublic,
    SyncInitiated,
)
from api.schemas.common import errors
from contract.calendars import CalendarInfo, CalendarKind, ConnectionStatus
from db import calendar_connections as store
from db.users import Account
from domain.timezones import utc_now
from workflows.calendar_client import CalendarSyncClient
from workflows.client import BookingEngineUnavailable

router = APIRouter(
    prefix="/calendar",
    tags=["calendars"],
    route_class=DocumentedErrorRoute,
    responses=errors(400, 401, 403, 404, 409, 413, 422, 503),
)
OAuthKind = Literal["google", "microsoft"]
# How long the provider has to answer the vendor's consent screen.
AUTHORIZATION_TTL = timedelta(minutes=15)


async def _accounts(services: ServicesDep) -> CalendarAccounts:
    return services.calendars


async def _syncs(services: ServicesDep) -> CalendarSyncClient:
    return services.calendar_syncs


AccountsDep = Annotated[CalendarAccounts, Depends(_accounts)]
SyncsDep = Annotated[CalendarSyncClient, Depends(_syncs)]


def _provider_id(provider: Account) -> UUID:
    assert provider.provider_id is not None
    return provider.provider_id


@contextmanager
def _vendor_answers() -> Iterator[None]:
    """The calendar server's answer as ours: a refused login or server is the request's
    problem (422); a server that cannot answer now is a dependency down (503)."""
    try:
        yield
    except GrantBroken as refused:
        raise APIError(422, "calendar_login_refused", str(refused)) from refused
    except CalendarRefused as refused:
        raise APIError(422, "calendar_refused", str(refused)) from refused
    except CalendarRetryLater as later:
        wait = max(1, round(later.retry_after or 5))
        raise APIError(
            503, "calendar_unavailable", str(later), {"Retry-After": str(wait)}
        ) from later


def _defaults(calendars: list[CalendarInfo]) -> tuple[list[str], str | None]:
    """What a new connection blocks and writes to: its primary calendar, else its first
    writable one. Birthdays and holidays calendars stay out unless chosen."""
    writable = [c for c in calendars if c.can_write]
    first = next((c for c in calendars if c.primary), writable[0] if writable else None)
    if first is None:
        return [], None
    return [first.id], first.id if first.can_write else None


async def _owned(db: DatabaseDep, connection_id: UUID, provider: Account) -> store.Connection:
    connection = await store.get(db, connection_id)
    if connection is None or connection.provider_id != provider.provider_id:
        raise not_found("calendar_connection")
    return connection


@router.post("/connections/caldav", status_code=201)
async def connect_caldav_account(
    body: CalDavConnect,
    provider: CurrentProvider,
    db: DatabaseDep,
    accounts: AccountsDep,
    syncs: SyncsDep,
    settings: SettingsDep,
) -> ConnectionPublic:
    """Connect a CalDAV account (iCloud, Fastmail, Nextcloud...). The login is checked first;
    the password is stored sealed. Connecting the same account again replaces its password and
    mends a broken connection. Its calendars are read at once, then every few minutes."""
    password = body.password.get_secret_value()
    with _vendor_answers():
        if not settings.caldav_private_hosts_allowed:
            await require_public_host(body.url)
        account, calendars = await connect_caldav(body.url, body.username, password)
    await account.aclose()
    return await _connected(
        db,
        accounts,
        syncs,
        provider_id=_provider_id(provider),
        kind=CalendarKind.CALDAV,
        account=body.username,
        secret={"username": body.username, "password": password},
        calendars=calendars,
        server_url=body.url,
    )


async def _connected(
    db: DatabaseDep,
    accounts: CalendarAccounts,
    syncs: CalendarSyncClient,
    *,
    provider_id: UUID,
    kind: CalendarKind,
    account: str,
    secret: dict[str, str],
    calendars: list[CalendarInfo],
    server_url: str | None = None,
) -> ConnectionPublic:
    """Store the connection (sealed), choose its defaults if it is new, start its sync."""
    now = utc_now()
    connection = await store.connect(
        db,
        provider_id=provider_id,
        kind=kind,
        account=account,
        secret=accounts.seal(secret),
        server_url=server_url,
        now=now,
    )
    if not connection.blocking_calendars and connection.destination_calendar is None:
        blocking, destination = _defaults(calendars)
        await store.choose(db, connection.id, blocking=blocking, destination=destination, now=now)
        found = await store.get(db, connection.id)
        assert found is not None
        connection = found
    # Stored first: if the engine is down the answer is 503, and connecting again starts it.
    await syncs.start(connection.id, connection.provider_id)
    return ConnectionPublic.of(connection, calendars)


@router.post("/connections/{kind}", status_code=201)
async def start_authorization(
    kind: OAuthKind, provider: CurrentProvider, db: DatabaseDep, accounts: AccountsDep
) -> AuthorizationStarted:
    """Connect a Google or Microsoft 365 calendar: the authorization URL to send my browser to
    (OAuth 2.0 authorization code with PKCE). It comes back to our callback, which stores the
    grant and starts the sync."""
    calendar_kind = CalendarKind(kind)
    oauth = accounts.oauth(calendar_kind)
    if oauth is None:
        raise APIError(
            422, "calendar_not_configured", f"{kind} calendars are not configured on this server"
        )
    state = secrets.token_urlsafe(32)
    try:
        with _vendor_answers():
            url, pending = await oauth.authorization_url(state)
    finally:
        await oauth.aclose()
    now = utc_now()
    expires_at = now + AUTHORIZATION_TTL
    await store.start_authorization(
        db,
        state=state,
        user_id=provider.id,
        provider_id=_provider_id(provider),
        kind=calendar_kind,
        secret=accounts.seal({"pending": pending}),
        expires_at=expires_at,
        now=now,
    )
    return AuthorizationStarted(authorization_url=url, expires_at=expires_at)


async def _finish(
    kind: CalendarKind,
    callback: dict[str, str],
    db: DatabaseDep,
    accounts: CalendarAccounts,
    syncs: CalendarSyncClient,
) -> ConnectionPublic:
    taken = await store.take_authorization(
        db, state=callback.get("state", ""), kind=kind, now=utc_now()
    )
    if taken is None:
        raise APIError(
            400,
            "invalid_authorization_state",
            "this authorization is unknown, used already or expired; connect again",
        )
    oauth = accounts.oauth(kind)
    if oauth is None:
        raise APIError(422, "calendar_not_configured", f"{kind} calendars are not configured")
    try:
        with _vendor_answers():
            tokens = await oauth.complete(accounts.unseal(taken.secret)["pending"], callback)
    finally:
        await oauth.aclose()
    with _vendor_answers():
        account = accounts.grant_account(kind, tokens)
        try:
            calendars = await account.calendars()
        finally:
            await account.aclose()
    # The primary calendar's id names the account (for Google it is the address itself).
    named = next((c for c in calendars if c.primary), calendars[0] if calendars else None)
    if named is None:
        raise APIError(422, "calendar_refused", "the account has no calendar")
    return await _connected(
        db,
        accounts,
        syncs,
        provider_id=taken.provider_id,
        kind=kind,
        account=named.id,
        secret=tokens.model_dump(mode="json"),
        calendars=calendars,
    )


@router.get("/connections/google/callback", status_code=201)
async def google_callback(
    request: Request, db: DatabaseDep, accounts: AccountsDep, syncs: SyncsDep
) -> ConnectionPublic:
    """Where Google sends the browser back (code and state in the query)."""
    return await _finish(CalendarKind.GOOGLE, dict(request.query_params), db, accounts, syncs)


@router.post("/connections/microsoft/callback", status_code=201)
async def microsoft_callback(
    request: Request, db: DatabaseDep, accounts: AccountsDep, syncs: SyncsDep
) -> ConnectionPublic:
    """Where Microsoft posts the browser back (code and state as a form: form_post)."""
    form = await request.form()
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    return await _finish(CalendarKind.MICROSOFT, fields, db, accounts, syncs)


@router.get("/connections")
async def my_connections(provider: CurrentProvider, db: DatabaseDep) -> list[ConnectionPublic]:
    """Every calendar connection of mine, with its status, last sync and last error."""
    return [ConnectionPublic.of(c) for c in await store.of_provider(db, _provider_id(provider))]


@router.get("/connections/{connection_id}/calendars")
async def connection_calendars(
    connection_id: UUID, provider: CurrentProvider, db: DatabaseDep, accounts: AccountsDep
) -> list[CalendarPublic]:
    """The account's calendars as its server lists them now, with my choices marked."""
    connection = await _owned(db, connection_id, provider)
    if connection.status == ConnectionStatus.BROKEN:
        raise APIError(
            409, "calendar_connection_broken", f"reconnect first: {connection.broken_reason}"
        )
    with _vendor_answers():
        account = await accounts.open(connection)
        try:
            calendars = await account.calendars()
        finally:
            await account.aclose()
    return [CalendarPublic.of(c, connection) for c in calendars]


@router.put("/connections/{connection_id}/calendars")
async def choose_calendars(
    connection_id: UUID,
    body: CalendarChoice,
    provider: CurrentProvider,
    db: DatabaseDep,
    accounts: AccountsDep,
    syncs: SyncsDep,
) -> ConnectionPublic:
    """Choose which calendars block my time and where bookings are written; read at once."""
    connection = await _owned(db, connection_id, provider)
    with _vendor_answers():
        account = await accounts.open(connection)
        try:
            calendars = await account.calendars()
        finally:
            await account.aclose()
    known = {c.id: c for c in calendars}
    unknown = [c for c in [*body.blocking, body.destination] if c is not None and c not in known]
    if unknown:
        raise APIError(422, "unknown_calendar", f"the account has no calendar {unknown[0]!r}")
    if body.destination is not None and not known[body.destination].can_write:
        raise APIError(422, "calendar_read_only", f"{body.destination!r} cannot be written to")
    blocking = list(dict.fromkeys(body.blocking))
    await store.choose(
        db, connection.id, blocking=blocking, destination=body.destination, now=utc_now()
    )
    await syncs.sync_now(connection.id, connection.provider_id)
    chosen = await _owned(db, connection.id, provider)
    return ConnectionPublic.of(chosen, calendars)


@router.delete("/connections/{connection_id}", status_code=204)
async def disconnect(
    connection_id: UUID, provider: CurrentProvider, db: DatabaseDep, syncs: SyncsDep
) -> Response:
    """Disconnect: the sync stops and the busy time this connection brought is removed."""
    connection = await _owned(db, connection_id, provider)
    await store.disconnect(db, connection.id, now=utc_now())
    # With the engine down the sync stops by itself: its next run finds the connection gone.
    with contextlib.suppress(BookingEngineUnavailable):
        await syncs.stop(connection.id)
    return Response(status_code=204)


@router.post("/sync/initiate", status_code=202)
async def initiate_sync(
    provider: CurrentProvider, db: DatabaseDep, syncs: SyncsDep
) -> SyncInitiated:
    """Read every active connection of mine now, instead of at its next period."""
    active = [
        c
        for c in await store.of_provider(db, _provider_id(provider))
        if c.status == ConnectionStatus.ACTIVE
    ]
    for connection in active:
        await syncs.sync_now(connection.id, connection.provider_id)
    return SyncInitiated(connections=len(active))
