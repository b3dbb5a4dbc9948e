"""Accounts: customers, providers (with their profile) and admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import Uuid, bindparam, select
from sqlalchemy.exc import IntegrityError

from db import audit
from db.engine import Database
from db.models import ProviderProfile, User


class EmailTaken(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Account:
    """A signed-in user as the API sees them: who, what role, and which provider profile if any."""

    id: UUID
    email: str
    full_name: str
    phone: str | None
    role: str
    provider_id: UUID | None


async def create_account(
    db: Database,
    *,
    email: str,
    password_hash: str,
    full_name: str,
    phone: str | None,
    role: str,
    now: datetime,
    provider_timezone: str | None = None,
    provider_display_name: str | None = None,
    user_id: UUID | None = None,
    provider_id: UUID | None = None,
    actor: audit.Actor | None = None,
) -> Account:
    """Create the account (and a provider's profile); `actor` None: the person registering."""
    user = User(
        email=email.lower(),
        password_hash=password_hash,
        full_name=full_name,
        phone=phone,
        role=role,
        created_at=now,
    )
    if user_id is not None:
        user.id = user_id
    profile: ProviderProfile | None = None
    try:
        async with db.session() as session, session.begin():
            session.add(user)
            await session.flush()
            if role == "provider":
                profile = ProviderProfile(
                    user_id=user.id,
                    display_name=provider_display_name or full_name,
                    timezone=provider_timezone or "UTC",
                    auto_confirm=True,
                    created_at=now,
                )
                if provider_id is not None:
                    profile.id = provider_id
                session.add(profile)
                await session.flush()
            await audit.record(
                await session.connection(),
                actor or audit.Actor(user.id, role),
                "account.registered",
                now=now,
                account_id=user.id,
                detail={"role": role, "provider_id": profile.id if profile else None},
            )
    except IntegrityError as err:
        raise EmailTaken(email) from err
    return _account(user, profile)


async def password_hash_of(db: Database, email: str) -> tuple[UUID, str, str] | None:
    """(user id, password hash, role) for the email, for logging in."""
    async with db.session() as session:
        row = (
            await session.execute(
                select(User.id, User.password_hash, User.role).where(User.email == email.lower())
            )
        ).first()
        return None if row is None else (row[0], row[1], row[2])


_ACCOUNT = (
    select(User.id, User.email, User.full_name, User.phone, User.role, ProviderProfile.id)
    .outerjoin(ProviderProfile, ProviderProfile.user_id == User.id)
    .where(User.id == bindparam("user_id", type_=Uuid), User.erased_at.is_(None))
)


async def get_account(db: Database, user_id: UUID) -> Account | None:
    """Read on every authenticated request: one Core statement, no ORM objects."""
    async with db.reading() as connection:
        row = (await connection.execute(_ACCOUNT, {"user_id": user_id})).first()
    return None if row is None else Account(*row)


def _account(user: User, profile: ProviderProfile | None) -> Account:
    return Account(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        phone=user.phone,
        role=user.role,
        provider_id=profile.id if profile else None,
    )
