from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import CurrentUser, DatabaseDep, SettingsDep
from api.errors import APIError
from api.schemas.auth import Token, UserCreate, UserPublic
from api.security import create_access_token
from db.users import EmailTaken, create_account, password_hash_of
from domain.passwords import hash_password, verify_password

router = APIRouter(prefix="/auth", tags=["auth"])

# Verified when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password")


@router.post("/register", status_code=201, responses={409: {"description": "email taken"}})
async def register(body: UserCreate, db: DatabaseDep) -> UserPublic:
    """Create a customer or provider account."""
    try:
        account = await create_account(
            db,
            email=body.email,
            password_hash=hash_password(body.password),
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
    dependencies=[Depends(_form_body)],
    responses={
        401: {"description": "wrong email or password"},
        422: {"description": "not a form (form_expected), or a field missing"},
    },
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], db: DatabaseDep, settings: SettingsDep
) -> Token:
    """Exchange email (as `username`) and password for a bearer token."""
    # No account has a NUL in its email, and PostgreSQL refuses NUL in text parameters.
    found = None if "\x00" in form.username else await password_hash_of(db, form.username)
    password_ok = verify_password(found[1] if found else _DUMMY_HASH, form.password)
    if found is None or not password_ok:
        raise APIError(401, "invalid_credentials", "wrong email or password")
    user_id, _, role = found
    return Token(access_token=create_access_token(user_id, role, settings))


@router.get("/me")
async def me(user: CurrentUser) -> UserPublic:
    """The signed-in account."""
    return UserPublic(**_fields(user))


def _fields(account: object) -> dict[str, object]:
    return {name: getattr(account, name) for name in UserPublic.model_fields}
