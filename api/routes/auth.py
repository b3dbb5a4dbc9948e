from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import CurrentUser, DatabaseDep, PasswordsDep, SettingsDep, UnknownLoginsDep
from api.errors import APIError, DocumentedErrorRoute
from api.limits import limit_login, limit_register
from api.schemas.auth import Token, UserCreate, UserPublic
from api.schemas.common import errors
from api.security import create_access_token
from db import login_throttle
from db.users import EmailTaken, create_account
from domain.passwords import hash_password

router = APIRouter(
    prefix="/auth",
    tags=["auth"],
    route_class=DocumentedErrorRoute,
    responses=errors(400, 401, 413, 422, 503),
)

# Verified when the email is unknown, so a wrong email costs as long as a wrong password.
# Hashed once, at import, before any request is served.
_DUMMY_HASH = hash_password("not-a-real-password")
WRONG_CREDENTIALS = APIError(401, "invalid_credentials", "wrong email or password")


@router.post(
    "/register",
    status_code=201,
    dependencies=[Depends(limit_register)],
    responses={
        409: {"description": "email taken"},
        429: {"description": "too many registrations from this address (rate_limited)"},
    },
)
async def register(body: UserCreate, db: DatabaseDep, passwords: PasswordsDep) -> UserPublic:
    """Create a customer or provider account."""
    try:
        account = await create_account(
            db,
            email=body.email,
            password_hash=await passwords.hash(body.password),
            full_name=body.full_name,
            phone=body.phone,
            role=body.role,
            now=datetime.now(UTC),
            provider_timezone=body.timezone,
            provider_display_name=body.display_name,
        )
    except EmailTaken as err:
        raise APIError(409, "email_taken", "an account with this email already exists") from err
    return UserPublic(**_fields(account))


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def _form_body(request: Request) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_TYPES:
        raise APIError(
            422,
            "form_expected",
            "send the OAuth2 password form: Content-Type application/x-www-form-urlencoded "
            "with the fields username (your email) and password, e.g. "
            "curl $API/auth/login -d username=EMAIL -d password=PASSWORD",
        )


@router.post(
    "/login",
    dependencies=[Depends(_form_body), Depends(limit_login)],
    responses={
        401: {"description": "wrong email or password"},
        422: {"description": "not a form (form_expected), or a field missing"},
        429: {
            "description": "too many tries: for this account or address (rate_limited), or "
            "failed logins in a row make this account wait (login_backoff)"
        },
    },
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: DatabaseDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
    unknown: UnknownLoginsDep,
) -> Token:
    """Exchange email (as `username`) and password for a bearer token."""
    # No account has a NUL in its email, and PostgreSQL refuses NUL in text parameters.
    found = (
        None if "\x00" in form.username else await login_throttle.login_account(db, form.username)
    )
    now = datetime.now(UTC)
    # An email no account has waits as an account would: its answers tell nobody it is unknown.
    retry_at = found.retry_at if found is not None else unknown.retry_at(form.username)
    if retry_at is not None and retry_at > now:
        raise _must_wait(retry_at, now)
    password_ok = await passwords.verify(
        found.password_hash if found else _DUMMY_HASH, form.password
    )
    if found is None or not password_ok:
        policy = login_throttle.LoginPolicy.from_settings(settings)
        # The wait runs from the answer, not from the request: hashing took a while.
        now = datetime.now(UTC)
        if found is None:
            retry_at = unknown.count_failure(form.username, policy, now=now)
        else:
            retry_at = await login_throttle.count_failure(db, found.user_id, policy, now=now)
        if retry_at is None:
            raise WRONG_CREDENTIALS
        headers = {"Retry-After": str(_seconds_until(retry_at, now))}
        raise APIError(401, WRONG_CREDENTIALS.code, WRONG_CREDENTIALS.detail, headers)
    if found.failed_logins or found.retry_at is not None:
        await login_throttle.reset_failures(db, found.user_id)
    return Token(access_token=create_access_token(found.user_id, found.role, settings))


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def _must_wait(retry_at: datetime, now: datetime) -> APIError:
    seconds = _seconds_until(retry_at, now)
    return APIError(
        429,
        "login_backoff",
        f"too many failed logins for this account in a row; try again in {seconds} seconds",
        headers={"Retry-After": str(seconds)},
    )


@router.get("/me")
async def me(user: CurrentUser) -> UserPublic:
    """The signed-in account."""
    return UserPublic(**_fields(user))


def _fields(account: object) -> dict[str, object]:
    return {name: getattr(account, name) for name in UserPublic.model_fields}
