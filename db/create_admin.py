"""Create an admin account: `python -m db.create_admin EMAIL` (password from ADMIN_PASSWORD or a
prompt). Admins see and act on every booking; registration never hands out the role."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
from datetime import UTC, datetime

from config import get_settings
from db.engine import Database
from db.users import Account, EmailTaken, create_account
from domain.passwords import hash_password

MIN_PASSWORD_LENGTH = 12


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
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("email")
    parser.add_argument("--name", default="Admin")
    args = parser.parse_args()
    password = os.environ.get("ADMIN_PASSWORD") or getpass.getpass("Password: ")

    async def run() -> None:
        db = Database.from_settings(get_settings())
        try:
            await create_admin(db, args.email, password, args.name)
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except (ValueError, EmailTaken) as err:
        print(f"not created: {err}")
        return 1
    print(f"admin {args.email} created")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
