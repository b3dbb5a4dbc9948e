"""Create an admin account: `python -m db.create_admin EMAIL`. Admins see and act on every
booking; registration never hands out the role.

The password comes from `--password-stdin`, else ADMIN_PASSWORD, else a prompt on a terminal.
Exit codes: 0 created or already an admin, 1 refused, 2 no password to read."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from config import get_settings
from db.audit import SYSTEM
from db.engine import Database
from db.users import Account, EmailTaken, create_account, password_hash_of
from domain.passwords import hash_password

MIN_PASSWORD_LENGTH = 12
CREATED, REFUSED, USAGE = 0, 1, 2


async def create_admin(
    db: Database, email: str, password: str, full_name: str = "Admin"
) -> Account:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"an admin password needs at least {MIN_PASSWORD_LENGTH} characters")
    return await create_account(
        db,
        email=email,
        password_hash=hash_password(password),
        full_name=full_name,
        phone=None,
        role="admin",
        now=datetime.now(UTC),
        actor=SYSTEM,
    )


async def existing_role(db: Database, email: str) -> str | None:
    found = await password_hash_of(db, email)
    return None if found is None else found[2]


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get("ADMIN_PASSWORD"):
        return os.environ["ADMIN_PASSWORD"]
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return None


def _already(email: str, role: str) -> int:
    if role == "admin":
        print(f"{email} is already an admin; nothing changed")
        return CREATED
    print(f"not created: {email} is already a {role} account (an admin needs its own email)")
    return REFUSED


async def _run(email: str, name: str, from_stdin: bool) -> int:
    db = Database.from_settings(get_settings())
    try:
        role = await existing_role(db, email)
        if role is not None:
            return _already(email, role)
        password = _read_password(from_stdin)
        if password is None:
            print(
                "no password: stdin is not a terminal; pipe it with --password-stdin "
                "or set ADMIN_PASSWORD",
                file=sys.stderr,
            )
            return USAGE
        try:
            await create_admin(db, email, password, name)
        except EmailTaken:
            role = await existing_role(db, email)
            return _already(email, role or "other")
        except ValueError as err:
            print(f"not created: {err}", file=sys.stderr)
            return REFUSED
    except SQLAlchemyError as err:
        print(f"not created: the database cannot be used: {err}", file=sys.stderr)
        return REFUSED
    finally:
        await db.dispose()
    print(f"admin {email} created")
    return CREATED


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("email")
    parser.add_argument("--name", default="Admin")
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    args = parser.parse_args()
    return asyncio.run(_run(args.email, args.name, args.password_stdin))


if __name__ == "__main__":
    raise SystemExit(main())
