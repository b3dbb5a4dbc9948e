"""Dependencies as `Annotated` aliases, so route signatures stay short and honest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from temporalio.client import Client

from activities.calendars.accounts import CalendarAccounts
from activities.payments.port import PaymentGateway
from api.availability_stream import AvailabilityHub
from api.errors import APIError
from api.passwords import PasswordHasher
from api.rate_limiter import RateLimiter
from api.security import user_id_from_token
from api.slot_gate import SlotGate
from api.unknown_logins import UnknownLogins
from config import Settings
from db.engine import Database
from db.users import Account, get_account
from workflows.calendar_client import CalendarSyncClient
from workflows.client import BookingClient


@dataclass(frozen=True, slots=True)
class AppServices:
    """What the API's lifespan wires once: the only place clients are constructed."""

    settings: Settings
    db: Database
    temporal: Client
    payments: PaymentGateway
    bookings: BookingClient
    calendars: CalendarAccounts
    calendar_syncs: CalendarSyncClient
    limiter: RateLimiter
    passwords: PasswordHasher
    availability: AvailabilityHub
    slot_gate: SlotGate = field(default_factory=SlotGate)
    unknown_logins: UnknownLogins = field(default_factory=UnknownLogins)


# Dependencies are coroutines even when they do not await: FastAPI runs a plain `def` one in
# its thread pool, a round trip to another thread per dependency per request.
async def _services(request: Request) -> AppServices:
    services: AppServices = request.app.state.services
    return services


ServicesDep = Annotated[AppServices, Depends(_services)]


async def _settings(services: ServicesDep) -> Settings:
    return services.settings


async def _db(services: ServicesDep) -> Database:
    return services.db


async def _temporal(services: ServicesDep) -> Client:
    return services.temporal


async def _payments(services: ServicesDep) -> PaymentGateway:
    return services.payments


async def _slot_gate(services: ServicesDep) -> SlotGate:
    return services.slot_gate


async def _unknown_logins(services: ServicesDep) -> UnknownLogins:
    return services.unknown_logins


async def _bookings(services: ServicesDep) -> BookingClient:
    return services.bookings


async def _passwords(services: ServicesDep) -> PasswordHasher:
    return services.passwords


SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_db)]
TemporalDep = Annotated[Client, Depends(_temporal)]
PaymentsDep = Annotated[PaymentGateway, Depends(_payments)]
SlotGateDep = Annotated[SlotGate, Depends(_slot_gate)]
BookingsDep = Annotated[BookingClient, Depends(_bookings)]
PasswordsDep = Annotated[PasswordHasher, Depends(_passwords)]
UnknownLoginsDep = Annotated[UnknownLogins, Depends(_unknown_logins)]

_bearer = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)

UNAUTHENTICATED = APIError(
    401,
    "not_authenticated",
    "sign in first: send the access token from POST /auth/login as a Bearer token",
    headers={"WWW-Authenticate": "Bearer"},
)


async def _current_user(
    token: Annotated[str | None, Depends(_bearer)], settings: SettingsDep, db: DatabaseDep
) -> Account:
    if token is None:
        raise UNAUTHENTICATED
    user_id = user_id_from_token(token, settings)
    account = None if user_id is None else await get_account(db, user_id)
    if account is None:
        raise APIError(
            401,
            "invalid_token",
            "the access token is invalid or expired; sign in again",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return account


CurrentUser = Annotated[Account, Depends(_current_user)]


async def _current_provider(user: CurrentUser) -> Account:
    if user.provider_id is None:
        raise APIError(403, "providers_only", "only a provider account has a provider profile")
    return user


CurrentProvider = Annotated[Account, Depends(_current_provider)]


async def _current_admin(user: CurrentUser) -> Account:
    if user.role != "admin":
        raise APIError(403, "admins_only", "only an admin may do this")
    return user


CurrentAdmin = Annotated[Account, Depends(_current_admin)]
