"""Every kind of message renders, in the reader's zone, escaped where it is HTML, short as SMS."""

# The en dash between two times is what readers see, so the expected strings hold it.
# ruff: noqa: RUF001

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from activities.notifications.facts import BookingFacts, Person
from activities.notifications.render import (
    SMS_LIMIT,
    Rendered,
    format_money,
    format_span,
    lead_phrase,
    render,
    render_notice,
)
from contract.messages import Money
from contract.notifications import NOTICE_KINDS, Kind, Tell

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
# 14:00 in New York, 20:00 in Berlin.
START = datetime(2026, 12, 10, 19, tzinfo=UTC)


def _facts(**changes: Any) -> BookingFacts:
    booking_id = uuid.uuid4()
    facts = BookingFacts(
        booking_id=booking_id,
        service_name="Consultation",
        provider_timezone=NEW_YORK,
        start=START,
        end=START + timedelta(hours=1),
        price=Money(amount=5000, currency="USD"),
        customer=Person(uuid.uuid4(), "Jo Customer", "jo@example.com", BERLIN),
        provider=Person(uuid.uuid4(), "Dr Ann Provider", "ann@example.com", NEW_YORK),
        link=f"https://api.example.com/appointments/{booking_id}",
    )
    return replace(facts, **changes)


def _tell(facts: BookingFacts, kind: Kind, **fields: Any) -> Tell:
    defaults: dict[str, Any] = {
        "lead_minutes": 24 * 60,
        "by": "customer",
        "refunded": True,
        "reason": "changed plans",
        "previous_start": START - timedelta(days=1),
    }
    return Tell(booking_id=facts.booking_id, kind=kind, key="k", **{**defaults, **fields})


def _reader(facts: BookingFacts, kind: Kind) -> Person:
    return facts.provider if kind.value.startswith("provider_") else facts.customer


def _render(kind: Kind, facts: BookingFacts | None = None, **fields: Any) -> Rendered:
    facts = facts or _facts()
    return render(kind, _reader(facts, kind), facts, _tell(facts, kind, **fields))


BOOKING_KINDS = [kind for kind in Kind if kind not in NOTICE_KINDS]


@pytest.mark.parametrize("kind", BOOKING_KINDS)
def test_every_kind_renders_every_part(kind: Kind) -> None:
    facts = _facts()
    rendered = _render(kind, facts)
    assert rendered.subject and "\n" not in rendered.subject
    assert "Consultation" in rendered.subject
    assert rendered.text.strip() and facts.link in rendered.text
    assert rendered.html.startswith("<!DOCTYPE html>") and facts.link in rendered.html
    assert rendered.sms and "\n" not in rendered.sms
    assert len(rendered.sms) <= SMS_LIMIT


@pytest.mark.parametrize("kind", BOOKING_KINDS)
def test_sms_stays_within_two_segments_whatever_people_typed(kind: Kind) -> None:
    long = "x" * 400
    facts = _facts(
        service_name=long,
        customer=Person(uuid.uuid4(), long, "jo@example.com", BERLIN),
        provider=Person(uuid.uuid4(), long, "ann@example.com", NEW_YORK),
    )
    assert len(_render(kind, facts, reason=long).sms) <= SMS_LIMIT


def test_each_reader_sees_the_same_instant_on_their_own_clock() -> None:
    facts = _facts()
    customer = _render(Kind.CONFIRMED, facts)
    provider = _render(Kind.PROVIDER_NEW_BOOKING, facts)
    assert "Thursday 10 December 2026, 20:00–21:00 (Europe/Berlin, CET)" in customer.text
    assert "Thursday 10 December 2026, 14:00–15:00 (America/New_York, EST)" in provider.text
    assert "20:00–21:00 CET" in customer.sms
    assert "14:00–15:00 EST" in provider.sms


def test_format_span_names_the_offset_on_each_side_of_a_dst_change() -> None:
    zone = ZoneInfo(NEW_YORK)
    before = datetime(2026, 3, 7, 14, tzinfo=zone)
    after = datetime(2026, 3, 8, 14, tzinfo=zone)
    assert (
        format_span(before, before + timedelta(hours=1), NEW_YORK)
        == "Saturday 7 March 2026, 14:00–15:00 (America/New_York, EST)"
    )
    # 24 hours later by the clock on the wall is 23 hours later in fact.
    assert after.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=23)
    assert (
        format_span(after, after + timedelta(hours=1), NEW_YORK)
        == "Sunday 8 March 2026, 14:00–15:00 (America/New_York, EDT)"
    )
    # One hour across the jump: 01:30 EST to 03:30 EDT.
    night = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)
    assert (
        format_span(night, night + timedelta(hours=1), NEW_YORK)
        == "Sunday 8 March 2026, 01:30–03:30 (America/New_York, EST/EDT)"
    )
    assert format_span(night, None, BERLIN, short=True) == "Sun 8 Mar 2026, 07:30 CET"


def test_format_span_across_midnight_and_in_utc() -> None:
    late = datetime(2026, 12, 10, 23, tzinfo=UTC)
    assert (
        format_span(late, late + timedelta(hours=2), "UTC")
        == "Thursday 10 December 2026, 23:00 – Friday 11 December 2026, 01:00 (UTC)"
    )


def test_html_escapes_what_people_typed_and_text_keeps_it() -> None:
    script = "<script>alert(1)</script>"
    facts = _facts(customer=Person(uuid.uuid4(), script, "jo@example.com", BERLIN))
    for kind in (Kind.CANCELLED, Kind.PROVIDER_CANCELLED, Kind.PROVIDER_APPROVAL_REQUESTED):
        rendered = _render(kind, facts, by="customer", reason=f"because {script}")
        assert "<script>" not in rendered.html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
        assert script in rendered.text


@pytest.mark.parametrize(
    ("by", "kind", "sentence"),
    [
        ("customer", Kind.CANCELLED, "You cancelled this booking."),
        ("provider", Kind.CANCELLED, "Dr Ann Provider cancelled this booking."),
        ("admin", Kind.CANCELLED, "Our support team cancelled this booking."),
        ("customer", Kind.PROVIDER_CANCELLED, "Jo Customer cancelled this booking."),
        ("provider", Kind.PROVIDER_CANCELLED, "You cancelled this booking."),
    ],
)
def test_a_cancellation_says_who_cancelled(by: str, kind: Kind, sentence: str) -> None:
    rendered = _render(kind, by=by, reason="the office is closed")
    assert sentence in rendered.text and sentence in rendered.html
    assert "Reason: the office is closed" in rendered.text


@pytest.mark.parametrize(
    ("refunded", "kind", "sentence"),
    [
        (True, Kind.CANCELLED, "Your payment of USD 50.00 is refunded."),
        (False, Kind.CANCELLED, "Your payment of USD 50.00 is not refunded."),
        (None, Kind.CANCELLED, "Nothing was charged."),
        (True, Kind.PROVIDER_CANCELLED, "The customer's payment of USD 50.00 is refunded."),
        (False, Kind.PROVIDER_CANCELLED, "The customer's payment of USD 50.00 is not refunded."),
        (True, Kind.DECLINED, "Your payment of USD 50.00 is refunded."),
        (None, Kind.EXPIRED, "Nothing was charged."),
    ],
)
def test_an_ending_says_whether_money_comes_back(
    refunded: bool | None, kind: Kind, sentence: str
) -> None:
    rendered = _render(kind, refunded=refunded)
    assert sentence in rendered.text
    assert sentence.replace("'", "&#39;") in rendered.html


def test_the_approval_request_holds_both_urls() -> None:
    facts = _facts()
    rendered = _render(Kind.PROVIDER_APPROVAL_REQUESTED, facts)
    for action in ("approve", "decline"):
        assert f"POST {facts.link}/{action}" in rendered.text
        assert f"POST {facts.link}/{action}" in rendered.html
        assert f"POST {facts.link}/{action}" in rendered.sms


def test_payment_failed_says_why_and_how_to_retry() -> None:
    facts = _facts()
    rendered = _render(Kind.PAYMENT_FAILED, facts, reason="Your card has insufficient funds.")
    assert "Your card has insufficient funds." in rendered.text
    assert "pay again" in rendered.text and "before the hold expires" in rendered.text
    assert facts.link in rendered.sms


def test_rescheduled_names_the_old_and_new_time_in_the_readers_zone() -> None:
    rendered = _render(Kind.RESCHEDULED, previous_start=datetime(2026, 12, 9, 8, tzinfo=UTC))
    new_time = "New time: Thursday 10 December 2026, 20:00–21:00 (Europe/Berlin, CET)"
    assert new_time in rendered.text
    assert "Was: Wednesday 9 December 2026, 09:00 (Europe/Berlin, CET)" in rendered.text


@pytest.mark.parametrize(
    ("minutes", "phrase"),
    [
        (24 * 60, "in 24 hours"),
        (60, "in 1 hour"),
        (30, "in 30 minutes"),
        (1, "in 1 minute"),
        (90, "in 1 hour and 30 minutes"),
        (2 * 24 * 60, "in 2 days"),
        (None, "soon"),
    ],
)
def test_a_reminder_phrases_its_lead(minutes: int | None, phrase: str) -> None:
    assert lead_phrase(minutes) == phrase
    rendered = _render(Kind.REMINDER, lead_minutes=minutes)
    assert rendered.subject.endswith(phrase)
    assert f"starts {phrase}" in rendered.text and f"starts {phrase}" in rendered.sms


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (5000, "USD", "USD 50.00"),
        (5, "EUR", "EUR 0.05"),
        (123456789, "EUR", "EUR 1,234,567.89"),
        (5000, "JPY", "JPY 5,000"),
        (1234, "KWD", "KWD 1.234"),
        (0, "USD", None),
    ],
)
def test_money_in_its_currencys_minor_units(amount: int, currency: str, shown: str | None) -> None:
    assert format_money(Money(amount=amount, currency=currency)) == shown


def test_a_free_booking_says_free() -> None:
    for price in (None, Money(amount=0, currency="USD")):
        rendered = _render(Kind.CONFIRMED, _facts(price=price), refunded=None)
        assert "Price: Free" in rendered.text
        assert "USD" not in rendered.text


def _notice_context(long: str = "") -> dict[str, Any]:
    return {
        "recipient_name": long or "Dr Ann",
        "account": long or "ann@example.com",
        "calendar": "Google Calendar",
        "calendar_owner": "Google",
        "reason": long or "invalid_grant: Token has been expired or revoked.",
        "link": "https://api.example.com/calendar/connections",
        "service": long or "Consultation",
        "customer_name": long or "Jo Customer",
        "customer_email": "jo@example.com",
        "when": "Thursday 10 December 2026, 14:00–15:00 (America/New_York, EST)",
        "when_short": "Thu 10 Dec 2026, 14:00–15:00 EST",
    }


@pytest.mark.parametrize("kind", sorted(NOTICE_KINDS))
def test_every_notice_renders_every_part_within_the_sms_limit(kind: Kind) -> None:
    rendered = render_notice(kind, _notice_context())
    assert rendered.subject and "\n" not in rendered.subject
    assert "Google Calendar" in rendered.text and "ann@example.com" in rendered.text
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert "https://api.example.com/calendar/connections" in rendered.sms or kind == (
        Kind.PROVIDER_CALENDAR_CONFLICT
    )
    assert len(render_notice(kind, _notice_context("x" * 400)).sms) <= SMS_LIMIT


def test_a_broken_connection_says_why_and_how_to_mend_it() -> None:
    text = render_notice(Kind.PROVIDER_CALENDAR_BROKEN, _notice_context()).text
    assert "Google said: invalid_grant: Token has been expired or revoked." in text
    assert "Connect it again: https://api.example.com/calendar/connections" in text


def test_a_clash_names_the_booking_and_leaves_it_standing() -> None:
    text = render_notice(Kind.PROVIDER_CALENDAR_CONFLICT, _notice_context()).text
    assert "When: Thursday 10 December 2026, 14:00–15:00 (America/New_York, EST)" in text
    assert "The booking still stands" in text
