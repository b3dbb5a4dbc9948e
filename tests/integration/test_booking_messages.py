"""A booking tells its people, through the real activity and the sandbox senders: one message
per event and person, each recorded with what it said, and one invite per booking that calendar
apps follow (same UID, SEQUENCE raised by each move, CANCEL to withdraw it)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
from icalendar import Calendar
from sqlalchemy import select

from db.models import Notification
from tests.factories import future_local, make_provider
from tests.integration.api_helpers import book, sign_up
from tests.temporal_fixtures import Saga
from tests.workflows.helpers import eventually


async def messages(saga: Saga, booking_id: str) -> list[Notification]:
    async with saga.db.session() as session:
        rows = await session.scalars(
            select(Notification)
            .where(Notification.appointment_id == uuid.UUID(booking_id))
            .order_by(Notification.created_at)
        )
        return list(rows)


async def kinds_become(saga: Saga, booking_id: str, count: int) -> list[Notification]:
    rows = await eventually(
        lambda: messages(saga, booking_id),
        lambda r: len(r) >= count and all(m.status != "pending" for m in r),
    )
    assert len(rows) == count, [(r.kind, r.recipient) for r in rows]
    return rows


def event_of(ics: str) -> tuple[str, str, int, datetime]:
    calendar = Calendar.from_ical(ics)
    (event,) = calendar.walk("VEVENT")
    return (
        str(calendar["METHOD"]),
        str(event["UID"]),
        int(event["SEQUENCE"]),
        event.decoded("DTSTART"),
    )


async def test_confirm_move_and_cancel_each_tell_both_sides_with_one_invite(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    customer = await sign_up(api)
    start = future_local(provider.timezone)
    booking = await book(api, customer, provider.service_id, start)
    url = f"/appointments/{booking['id']}"
    assert (await api.get(f"{url}/calendar.ics", headers=customer)).status_code == 404

    paid = await api.post(
        f"/sandbox/payments/{booking['payment']['intent_id']}/succeed", headers=customer
    )
    assert paid.json()["booking"]["status"] == "confirmed", paid.text
    confirmed = await kinds_become(saga, booking["id"], 2)
    assert sorted(r.kind for r in confirmed) == ["confirmed", "provider_new_booking"]
    assert all(r.status == "sent" and r.external_id and r.attempts == 1 for r in confirmed)
    to_customer = next(r for r in confirmed if r.kind == "confirmed")
    assert to_customer.ics is not None and to_customer.channel == "email"
    method, uid, sequence, dtstart = event_of(to_customer.ics)
    assert (method, sequence, dtstart) == ("REQUEST", 0, start)
    served = await api.get(f"{url}/calendar.ics", headers=customer)
    assert served.status_code == 200 and served.headers["content-type"].startswith("text/calendar")
    assert event_of(served.text) == (method, uid, sequence, dtstart)

    later = start + timedelta(hours=4)
    moved = await api.post(f"{url}/reschedule", json={"start": later.isoformat()}, headers=customer)
    assert moved.status_code == 200, moved.text
    after_move = (await kinds_become(saga, booking["id"], 4))[2:]
    assert sorted(r.kind for r in after_move) == ["provider_rescheduled", "rescheduled"]
    rescheduled = next(r for r in after_move if r.kind == "rescheduled")
    assert rescheduled.ics is not None
    assert event_of(rescheduled.ics) == ("REQUEST", uid, 1, later)

    cancelled = await api.put(f"{url}/cancel", headers=customer)
    assert cancelled.json()["status"] == "cancelled", cancelled.text
    after_cancel = (await kinds_become(saga, booking["id"], 6))[4:]
    assert sorted(r.kind for r in after_cancel) == ["cancelled", "provider_cancelled"]
    withdrawn = next(r for r in after_cancel if r.kind == "cancelled")
    assert withdrawn.ics is not None
    assert event_of(withdrawn.ics)[:3] == ("CANCEL", uid, 2)
    assert event_of((await api.get(f"{url}/calendar.ics", headers=customer)).text)[0] == "CANCEL"


async def test_a_booking_cancelled_before_it_was_confirmed_withdraws_no_invite(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider = await make_provider(saga.db)
    customer = await sign_up(api)
    booking = await book(api, customer, provider.service_id, future_local(provider.timezone))
    cancelled = await api.put(f"/appointments/{booking['id']}/cancel", headers=customer)
    assert cancelled.json()["status"] == "cancelled", cancelled.text

    (told,) = await kinds_become(saga, booking["id"], 1)
    # The provider never heard of a booking that was never paid: only the customer is told.
    assert (told.kind, told.ics) == ("cancelled", None)
