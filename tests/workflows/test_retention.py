"""Retention: what each purge takes and what it leaves, and the workflow on the time-skipping
server with the real activity and database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.retention import RetentionActivities
from contract.notifications import Delivery
from contract.retention import Purged, RetentionPeriods, RetentionRun
from db import retention
from db.engine import Database
from db.models import Appointment, CalendarAuthorization, Notification, PaymentEvent, User
from domain.booking_state import BookingStatus
from tests.factories import ProviderFixture, make_customer, make_provider
from workflows.retention import RetentionWorkflow

PERIODS = RetentionPeriods(message_days=90, payment_event_days=90, calendar_authorization_days=1)
LONG_AGO = timedelta(days=200)


@dataclass
class Seeded:
    purged_messages: list[uuid.UUID]
    kept_messages: list[uuid.UUID]
    purged_events: list[str]
    kept_events: list[str]
    purged_states: list[str]
    kept_states: list[str]
    # About an erased account, to someone else: the text goes, the address stays.
    blanked_messages: list[uuid.UUID]


async def _booking(
    db: Database, provider: ProviderFixture, status: BookingStatus, start: datetime
) -> uuid.UUID:
    booking_id = uuid.uuid4()
    async with db.session() as session, session.begin():
        session.add(
            Appointment(
                id=booking_id,
                provider_id=provider.provider_id,
                service_id=provider.service_id,
                customer_id=await make_customer(db),
                start_at=start,
                end_at=start + provider.duration,
                blocked_start=start,
                blocked_end=start + provider.duration,
                status=status,
                price_amount=provider.price,
                currency="USD",
                created_at=start - timedelta(days=1),
                updated_at=start - timedelta(days=1),
            )
        )
    return booking_id


def _message(booking_id: uuid.UUID | None, status: Delivery, created: datetime) -> Notification:
    return Notification(
        id=uuid.uuid4(),
        appointment_id=booking_id,
        user_id=uuid.uuid4(),
        channel="email",
        kind="confirmed",
        recipient="kept-too-long@example.com",
        status=status,
        idempotency_key=f"retention-test:{uuid.uuid4()}",
        subject="Your booking",
        body_text="Hello Ada Lovelace",
        body_html="<p>Hello Ada Lovelace</p>",
        ics="BEGIN:VCALENDAR",
        created_at=created,
    )


def _event(handled: datetime | None, received: datetime) -> PaymentEvent:
    return PaymentEvent(
        event_id=f"evt_{uuid.uuid4().hex}",
        event_type="payment_intent.succeeded",
        intent_id=f"pi_{uuid.uuid4().hex}",
        received_at=received,
        handled_at=handled,
        outcome="delivered" if handled else None,
    )


def _authorization(
    provider: ProviderFixture, expires: datetime, used: datetime | None = None
) -> CalendarAuthorization:
    return CalendarAuthorization(
        state=uuid.uuid4().hex,
        user_id=provider.user_id,
        provider_id=provider.provider_id,
        kind="google",
        secret="sealed-verifier",
        expires_at=expires,
        used_at=used,
        created_at=expires - timedelta(minutes=10),
    )


async def _seed(db: Database) -> Seeded:
    now = datetime.now(UTC)
    provider = await make_provider(db)
    ended = await _booking(db, provider, BookingStatus.COMPLETED, now - LONG_AGO)
    upcoming = await _booking(db, provider, BookingStatus.CONFIRMED, now + timedelta(days=30))
    purged = [
        _message(ended, Delivery.DELIVERED, now - LONG_AGO),
        _message(ended, Delivery.FAILED, now - LONG_AGO),
        _message(None, Delivery.SENT, now - LONG_AGO),
    ]
    kept = [
        _message(ended, Delivery.PENDING, now - LONG_AGO),
        _message(ended, Delivery.DELIVERED, now - timedelta(days=1)),
        _message(upcoming, Delivery.DELIVERED, now - LONG_AGO),
    ]
    old_events = [_event(now - LONG_AGO, now - LONG_AGO)]
    new_events = [
        _event(now - timedelta(days=1), now - timedelta(days=1)),
        _event(None, now - LONG_AGO),
    ]
    lapsed = [
        _authorization(provider, now - timedelta(days=3)),
        _authorization(provider, now - timedelta(days=2), used=now - timedelta(days=2)),
    ]
    live = [_authorization(provider, now + timedelta(minutes=5))]
    # Recorded just after its customer's erasure, by a booking that read them just before.
    erased_ones = await _booking(db, provider, BookingStatus.CANCELLED, now + timedelta(days=9))
    late = _message(erased_ones, Delivery.SENT, now)
    to_provider = _message(erased_ones, Delivery.SENT, now)
    to_provider.user_id = provider.user_id
    async with db.session() as session, session.begin():
        booking = await session.get(Appointment, erased_ones)
        assert booking is not None
        late.user_id = booking.customer_id
        customer = await session.get(User, booking.customer_id)
        assert customer is not None
        customer.erased_at = now
        purged.append(late)
        session.add_all([*purged, *kept, *old_events, *new_events, *lapsed, *live, to_provider])
    return Seeded(
        purged_messages=[m.id for m in purged],
        kept_messages=[m.id for m in kept],
        purged_events=[e.event_id for e in old_events],
        kept_events=[e.event_id for e in new_events],
        purged_states=[a.state for a in lapsed],
        kept_states=[a.state for a in live],
        blanked_messages=[to_provider.id],
    )


async def _assert_purged(db: Database, seeded: Seeded) -> None:
    async with db.session() as session:
        messages = {
            m.id: m
            for m in await session.scalars(
                select(Notification).where(
                    Notification.id.in_(
                        seeded.purged_messages + seeded.kept_messages + seeded.blanked_messages
                    )
                )
            )
        }
        events = set(
            await session.scalars(
                select(PaymentEvent.event_id).where(
                    PaymentEvent.event_id.in_(seeded.purged_events + seeded.kept_events)
                )
            )
        )
        states = set(
            await session.scalars(
                select(CalendarAuthorization.state).where(
                    CalendarAuthorization.state.in_(seeded.purged_states + seeded.kept_states)
                )
            )
        )
    for message_id in seeded.purged_messages:
        gone = messages[message_id]
        assert (gone.recipient, gone.subject, gone.body_text, gone.body_html, gone.ics) == (
            "redacted",
            None,
            None,
            None,
            None,
        )
        assert gone.status != Delivery.PENDING and gone.kind == "confirmed"
    for message_id in seeded.kept_messages:
        kept = messages[message_id]
        assert kept.recipient == "kept-too-long@example.com"
        assert kept.body_text == "Hello Ada Lovelace" and kept.ics
    [blanked] = [messages[m] for m in seeded.blanked_messages]
    assert (blanked.recipient, blanked.body_text, blanked.ics) == (
        "kept-too-long@example.com",
        None,
        None,
    )
    assert events == set(seeded.kept_events)
    assert states == set(seeded.kept_states)


async def test_a_purge_takes_what_is_past_retention_and_leaves_the_rest(db: Database) -> None:
    seeded = await _seed(db)

    first = await retention.purge(db, PERIODS, batch_size=1000, now=datetime.now(UTC))
    again = await retention.purge(db, PERIODS, batch_size=1000, now=datetime.now(UTC))

    await _assert_purged(db, seeded)
    assert first.messages >= 3 and first.payment_events >= 1
    assert first.calendar_authorizations >= 2
    assert again == Purged()


async def test_the_retention_workflow_purges_batch_after_batch(
    time_skipping_env: WorkflowEnvironment, db: Database
) -> None:
    seeded = await _seed(db)
    task_queue = f"retention-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[RetentionWorkflow],
        activities=RetentionActivities(db).all(),
    ):
        report = await time_skipping_env.client.execute_workflow(
            RetentionWorkflow.run,
            RetentionRun(periods=PERIODS, batch_size=1, max_batches=50),
            id=f"data-retention-{uuid.uuid4()}",
            task_queue=task_queue,
        )

    await _assert_purged(db, seeded)
    assert report.messages >= 3 and report.calendar_authorizations >= 2
    assert report.payment_events >= 1
