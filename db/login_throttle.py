"""Failed logins in a row per account: a growing wait between tries, then a temporary lock.

A try while the account must wait is refused before its password is checked and is not
counted, so nobody (the owner or a stranger) can push the end of a wait or a lock further out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

from sqlalchemy import Table, Uuid, bindparam, case, or_, select, update

from config import Settings
from db import audit
from db.engine import Database
from db.models import User
from db.types import UTCDateTime

_users = cast(Table, User.__table__)


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    backoff_after: int
    lock_after: int
    lock: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        return cls(
            settings.login_backoff_after,
            settings.login_lock_after,
            timedelta(minutes=settings.login_lock_minutes),
        )

    def wait_after(self, failures: int) -> timedelta | None:
        """How long the account waits after `failures` in a row: none at first, then 1 s
        doubling (never longer than the lock), then the lock."""
        if failures >= self.lock_after:
            return self.lock
        if failures < self.backoff_after:
            return None
        return min(timedelta(seconds=2 ** (failures - self.backoff_after)), self.lock)


@dataclass(frozen=True, slots=True)
class LoginAccount:
    """What a login decides on: the account, its hash, and until when it must wait."""

    user_id: UUID
    password_hash: str
    role: str
    failed_logins: int
    retry_at: datetime | None


_LOGIN_ACCOUNT = select(
    _users.c.id,
    _users.c.password_hash,
    _users.c.role,
    _users.c.failed_logins,
    _users.c.login_retry_at,
).where(_users.c.email == bindparam("email"), _users.c.erased_at.is_(None))

# Counted only once any wait is over (a concurrent failure may have started one); the count
# starts again after a lock, so a lock is followed by the backoff, not by another lock at once.
_COUNT_FAILURE = (
    update(_users)
    .where(
        _users.c.id == bindparam("user_id", type_=Uuid),
        or_(
            _users.c.login_retry_at.is_(None),
            _users.c.login_retry_at <= bindparam("now", type_=UTCDateTime),
        ),
    )
    .values(
        failed_logins=case(
            (_users.c.failed_logins >= bindparam("lock_after"), 1),
            else_=_users.c.failed_logins + 1,
        )
    )
    .returning(_users.c.failed_logins)
)
_SET_RETRY_AT = (
    update(_users)
    .where(_users.c.id == bindparam("user_id", type_=Uuid))
    .values(login_retry_at=bindparam("retry_at", type_=UTCDateTime))
)
_RESET = (
    update(_users)
    .where(_users.c.id == bindparam("user_id", type_=Uuid))
    .values(failed_logins=0, login_retry_at=None)
)


async def login_account(db: Database, email: str) -> LoginAccount | None:
    async with db.reading() as connection:
        row = (await connection.execute(_LOGIN_ACCOUNT, {"email": email.lower()})).first()
    return None if row is None else LoginAccount(*row)


async def count_failure(
    db: Database, user_id: UUID, policy: LoginPolicy, *, now: datetime
) -> datetime | None:
    """Count a wrong password; when the account may try again (None: at once)."""
    async with db.transaction() as connection:
        failures = await connection.scalar(
            _COUNT_FAILURE, {"user_id": user_id, "now": now, "lock_after": policy.lock_after}
        )
        if failures is None:  # a concurrent failure already started a wait: not counted
            return None
        wait = policy.wait_after(failures)
        retry_at = None if wait is None else now + wait
        await connection.execute(_SET_RETRY_AT, {"user_id": user_id, "retry_at": retry_at})
        if failures == policy.lock_after:
            await audit.record(
                connection,
                audit.ANONYMOUS,
                "account.login_locked",
                now=now,
                account_id=user_id,
                detail={"failed_logins": failures, "until": retry_at},
            )
        return retry_at


async def reset_failures(db: Database, user_id: UUID) -> None:
    async with db.transaction() as connection:
        await connection.execute(_RESET, {"user_id": user_id})
