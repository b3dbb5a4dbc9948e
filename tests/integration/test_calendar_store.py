"""Calendar connections as stored: a sync's busy time replaces the calendar's blocks, which
availability and the hold then respect; grants sealed; authorizations used once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from config import DEV_CALENDAR_SECRET_KEY
from contract.calendars import BusyChanges, BusyEvent, CalendarKind, ConnectionStatus
from db import calendar_connections as store
from db import calendar_events as events
from db.engine import Database
from db.holds import hold_slot
from db.models import ExternalBusyBlock
from db.sealed import SealBroken, Sealer
from domain.availability import SlotTaken
from tests.factories import (
    ProviderFixture,
    future_local,
    hold_request,
    make_customer,
    make_provider,
)

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


async def _connected(
    db: Database, provider: ProviderFixture, account: str = "ann@example.com"
) -> store.Connection:
    return await store.connect(
        db,
        provider_id=provider.provider_id,
        kind=CalendarKind.CALDAV,
        account=account,
        secret="sealed",
        now=NOW,
        server_url="http://127.0.0.1:5232/",
    )


async def _blocks(db: Database, connection_id: uuid.UUID) -> list[tuple[str | None, datetime]]:
    async with db.session() as session:
        rows = await session.execute(
            select(ExternalBusyBlock.resource, ExternalBusyBlock.start_at)
            .where(ExternalBusyBlock.connection_id == connection_id)
            .order_by(ExternalBusyBlock.start_at)
        )
        return [(resource, start) for resource, start in rows]


def _busy(
    external_id: str, start: datetime, hours: int = 1, booking_id: uuid.UUID | None = None
) -> BusyEvent:
    return BusyEvent(
        external_id=external_id,
        start=start,
        end=start + timedelta(hours=hours),
        booking_id=booking_id,
    )


async def test_a_full_sync_replaces_and_an_incremental_one_changes_only_what_it_names(
    db: Database,
) -> None:
    provider = await make_provider(db)
    connection = await _connected(db, provider)
    day = datetime(2027, 1, 4, 15, tzinfo=UTC)
    weekly = [
        _busy(
            f"/cal/standup.ics#{day + timedelta(weeks=n):%Y%m%dT%H%M%SZ}", day + timedelta(weeks=n)
        )
        for n in range(3)
    ]
    ours = _busy("/cal/booking1.ics", day + timedelta(hours=3), booking_id=uuid.uuid4())
    first = BusyChanges(
        busy=[*weekly, _busy("/cal/lunch.ics", day + timedelta(hours=2)), ours],
        full=True,
        state="token-1",
    )
    assert await store.apply_busy_changes(db, connection, "/cal/", first, now=NOW) == 4  # not ours

    connection = await store.get(db, connection.id)  # type: ignore[assignment]
    assert connection.sync_state == {"/cal/": "token-1"} and connection.last_synced_at == NOW
    # The series changed (one occurrence fewer) and lunch was deleted; nothing else is touched.
    changed = BusyChanges(busy=weekly[:2], removed=["/cal/lunch.ics"], state="token-2")
    assert await store.apply_busy_changes(db, connection, "/cal/", changed, now=NOW) == 2
    assert [r for r, _ in await _blocks(db, connection.id)] == ["/cal/standup.ics"] * 2

    # A full listing drops whatever it no longer has.
    connection = await store.get(db, connection.id)  # type: ignore[assignment]
    empty = BusyChanges(busy=[], full=True, state="token-3")
    assert await store.apply_busy_changes(db, connection, "/cal/", empty, now=NOW) == 0
    assert (await store.get(db, connection.id)).sync_state == {"/cal/": "token-3"}  # type: ignore[union-attr]


async def test_a_synced_meeting_takes_its_slots_and_the_hold_is_refused(db: Database) -> None:
    provider = await make_provider(db)
    connection = await _connected(db, provider)
    start = future_local(provider.timezone, days_ahead=5, at=time(10))
    meeting = BusyChanges(busy=[_busy("/cal/meeting.ics", start.astimezone(UTC))], full=True)
    await store.apply_busy_changes(db, connection, "/cal/", meeting, now=NOW)

    customer = await make_customer(db)
    with pytest.raises(SlotTaken):
        await hold_slot(db, hold_request(provider, customer, start), now=datetime.now(UTC))
    # Once the meeting is gone from the calendar, the time is bookable again.
    connection = await store.get(db, connection.id)  # type: ignore[assignment]
    await store.apply_busy_changes(
        db, connection, "/cal/", BusyChanges(busy=[], removed=["/cal/meeting.ics"]), now=NOW
    )
    await hold_slot(db, hold_request(provider, customer, start), now=datetime.now(UTC))


async def test_disconnecting_or_unchoosing_a_calendar_removes_its_blocks(db: Database) -> None:
    provider = await make_provider(db)
    connection = await _connected(db, provider)
    at = datetime(2027, 1, 5, 9, tzinfo=UTC)
    for calendar in ("/work/", "/home/"):
        connection = await store.get(db, connection.id)  # type: ignore[assignment]
        changes = BusyChanges(busy=[_busy(f"{calendar}a.ics", at)], full=True, state=f"{calendar}1")
        await store.apply_busy_changes(db, connection, calendar, changes, now=NOW)
    await store.choose(db, connection.id, blocking=["/work/"], destination="/work/", now=NOW)
    chosen = await store.get(db, connection.id)
    assert chosen is not None
    assert (chosen.blocking_calendars, chosen.destination_calendar) == (["/work/"], "/work/")
    assert chosen.sync_state == {"/work/": "/work/1"}
    assert [r for r, _ in await _blocks(db, connection.id)] == ["/work/a.ics"]

    assert await store.disconnect(db, connection.id) is True
    assert await _blocks(db, connection.id) == []
    assert await store.get(db, connection.id) is None
    assert await store.disconnect(db, connection.id) is False


async def test_a_broken_grant_is_reported_once_and_mended_by_reconnecting(db: Database) -> None:
    provider = await make_provider(db)
    connection = await _connected(db, provider)
    assert await store.mark_broken(db, connection.id, "invalid_grant: revoked", now=NOW) is True
    assert await store.mark_broken(db, connection.id, "invalid_grant: revoked", now=NOW) is False
    broken = await store.get(db, connection.id)
    assert broken is not None and broken.status == ConnectionStatus.BROKEN
    assert broken.broken_reason == "invalid_grant: revoked"

    again = await _connected(db, provider)
    assert again.id == connection.id  # the same account: the same connection, its choices kept
    assert (again.status, again.broken_reason) == (ConnectionStatus.ACTIVE, None)
    other = await _connected(db, provider, account="ann@work.example.com")
    assert other.id != connection.id
    assert [c.account for c in await store.of_provider(db, provider.provider_id)] == [
        "ann@example.com",
        "ann@work.example.com",
    ]


async def test_an_authorization_names_its_user_is_used_once_and_expires(db: Database) -> None:
    provider = await make_provider(db)
    user = provider.user_id

    async def start(state: str, expires_at: datetime) -> None:
        await store.start_authorization(
            db,
            state=state,
            user_id=user,
            provider_id=provider.provider_id,
            kind="google",
            secret="sealed-verifier",
            expires_at=expires_at,
            now=NOW,
        )

    await start("state-1", NOW + timedelta(minutes=10))
    take = store.take_authorization
    assert await take(db, state="state-0", kind="google", now=NOW) is None
    assert await take(db, state="state-1", kind="microsoft", now=NOW) is None
    taken = await take(db, state="state-1", kind="google", now=NOW)
    assert taken == store.Authorization(user, provider.provider_id, "google", "sealed-verifier")
    assert await take(db, state="state-1", kind="google", now=NOW) is None  # once

    await start("state-2", NOW + timedelta(minutes=10))
    later = NOW + timedelta(minutes=11)
    assert await take(db, state="state-2", kind="google", now=later) is None


def test_secrets_are_sealed_and_old_keys_still_open_them() -> None:
    old, new = DEV_CALENDAR_SECRET_KEY, Fernet.generate_key().decode()
    sealed = Sealer([old]).seal({"refresh_token": "1//secret"})
    assert "1//secret" not in sealed
    rotated = Sealer([new, old])
    assert rotated.open(sealed) == {"refresh_token": "1//secret"}
    resealed = rotated.reseal(sealed)
    assert Sealer([new]).open(resealed) == {"refresh_token": "1//secret"}
    with pytest.raises(SealBroken):
        Sealer([new]).open(sealed)


async def test_an_event_we_wrote_is_not_counted_even_when_the_vendor_drops_our_mark(
    db: Database,
) -> None:
    """Graph's delta may not echo transactionId: the event id we wrote still names it ours."""
    provider = await make_provider(db)
    connection = await _connected(db, provider)
    start = future_local(provider.timezone, days_ahead=6, at=time(10))
    request = hold_request(provider, await make_customer(db), start)
    await hold_slot(db, request, now=datetime.now(UTC))
    link = events.Link(connection.id, "/cal/", "AAMkOurEvent=", start, start + timedelta(hours=1))
    await events.written(db, request.booking_id, link, etag=None, now=NOW)

    synced = BusyChanges(
        busy=[
            _busy("AAMkOurEvent=", start.astimezone(UTC)),  # ours, unmarked
            _busy("AAMkTheirs=", start.astimezone(UTC) + timedelta(hours=2)),
        ],
        full=True,
    )
    assert await store.apply_busy_changes(db, connection, "/cal/", synced, now=NOW) == 1
    assert [r for r, _ in await _blocks(db, connection.id)] == ["AAMkTheirs="]
