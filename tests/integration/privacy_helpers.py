"""Accounts with personal data that appears nowhere else, and where it can still be found."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select

from db.engine import Database
from db.models import AuditEntry, Base, Notification, PaymentTransaction
from tests.integration.api_helpers import PASSWORD, book


class Person:
    """A signed-up account whose email, name and phone appear nowhere else."""

    def __init__(self, tag: str) -> None:
        self.email = f"zq-{tag}-{uuid.uuid4().hex[:10]}@example.com"
        self.name = f"Zelda Quillfeather {uuid.uuid4().hex[:6]}"
        self.phone = f"+1212555{random.randrange(1000, 10000)}"
        self.headers: dict[str, str] = {}
        self.id = uuid.UUID(int=0)

    @property
    def personal(self) -> tuple[str, str, str]:
        return (self.email, self.name, self.phone)


async def signed_up(api: httpx.AsyncClient, role: str = "customer", **extra: Any) -> Person:
    person = Person(role)
    body = {
        "email": person.email,
        "password": PASSWORD,
        "full_name": person.name,
        "phone": person.phone,
        "role": role,
    }
    registered = await api.post("/auth/register", json=body | extra)
    assert registered.status_code == 201, registered.text
    person.id = uuid.UUID(registered.json()["id"])
    login = await api.post("/auth/login", data={"username": person.email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    person.headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    opted_in = await api.patch("/users/me", json={"sms_opt_in": True}, headers=person.headers)
    assert opted_in.status_code == 200, opted_in.text
    return person


async def paid_booking(
    api: httpx.AsyncClient, customer: Person, service_id: object, start: datetime
) -> dict[str, Any]:
    booked = await book(api, customer.headers, service_id, start)
    paid = await api.post(
        f"/sandbox/payments/{booked['payment']['intent_id']}/succeed", headers=customer.headers
    )
    assert paid.json()["booking"]["status"] == "confirmed", paid.text
    return booked


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


async def messages_to(db: Database, user_id: uuid.UUID) -> list[Notification]:
    async with db.session() as session:
        return list(
            await session.scalars(select(Notification).where(Notification.user_id == user_id))
        )


async def payment_of(db: Database, booking_id: object) -> PaymentTransaction:
    async with db.session() as session:
        found = await session.scalar(
            select(PaymentTransaction).where(
                PaymentTransaction.appointment_id == uuid.UUID(str(booking_id))
            )
        )
    assert found is not None
    return found


async def mentions(db: Database, needles: tuple[str, ...]) -> list[str]:
    """Every table and column in which any of `needles` still appears."""
    found = []
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                for column, value in row.items():
                    text = str(value).lower()
                    found += [f"{table.name}.{column}" for n in needles if n.lower() in text]
    return found


async def audit_entries(db: Database, account_id: uuid.UUID, action: str) -> list[AuditEntry]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.account_id == account_id, AuditEntry.action == action
                )
            )
        )


async def has_messages(db: Database, user_id: uuid.UUID) -> bool:
    return {m.channel for m in await messages_to(db, user_id)} == {"email", "sms"}
