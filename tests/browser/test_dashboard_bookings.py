"""The provider's bookings in the dashboard: approve, decline, cancel and reschedule, each
checked through the API afterwards; and refusals shown as sentences."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import NewContext, Screenshot, assert_accessible
from tests.browser.dashboard_steps import (
    DECIDED_MS,
    book,
    booking,
    card,
    eventually,
    heading_of,
    notice,
    pick_day_in,
    sign_in,
)
from tests.browser.scenario import (
    clock_label,
    days_ahead,
    local_start,
    make_customer,
    make_provider,
    normalized,
)


def test_the_provider_approves_a_booking_from_the_dashboard(
    api: httpx.Client, new_context: NewContext, screenshot: Screenshot
) -> None:
    provider = make_provider(api, hours=(("09:00", "11:00"),), auto_confirm=False)
    customer = make_customer(api)
    day = days_ahead(provider, 3)
    # 10:30 in New York is already the next day in Tokyo, the browser's zone.
    start = local_start(provider, day, "10:30")
    booking_id = book(api, customer, provider, start)
    assert booking(api, customer, booking_id)["status"] == "awaiting_approval"
    page = new_context(timezone="Asia/Tokyo").new_page()

    sign_in(page, provider)
    # Grouped under its day in the provider's zone (not the browser's), the zone named.
    expect(page.get_by_text(provider.timezone, exact=True)).to_be_visible()
    day_section = page.get_by_role("region", name=heading_of(day))
    entry = day_section.locator(f'[data-booking-id="{booking_id}"]')
    expect(entry).to_contain_text("Waiting for your approval")
    label = clock_label(start, provider.timezone)
    assert normalized(entry.get_by_role("heading").inner_text()).startswith(label)
    expect(entry).to_contain_text("$50.00")
    expect(entry).to_contain_text(f"{customer.full_name} <{customer.email}>")  # who is coming
    expect(page.get_by_text("1 booking waits for your approval.")).to_be_visible()
    assert_accessible(page, "the dashboard's bookings with one awaiting approval")
    screenshot(page, "1-awaiting-approval")

    entry.get_by_role("button", name="Approve").click()
    expect(notice(page, "is confirmed")).to_be_visible(timeout=DECIDED_MS)
    # The answer the page showed is the booking's state, as its customer reads it too.
    assert booking(api, customer, booking_id)["status"] == "confirmed"
    expect(card(page, booking_id)).to_contain_text("Confirmed")
    expect(card(page, booking_id).get_by_role("button", name="Approve")).to_have_count(0)
    screenshot(page, "2-approved")


def test_the_provider_declines_one_booking_and_cancels_another(
    api: httpx.Client, new_context: NewContext, screenshot: Screenshot
) -> None:
    provider = make_provider(api, hours=(("09:00", "11:00"),), auto_confirm=False)
    customer = make_customer(api)
    day = days_ahead(provider, 2)
    to_decline = book(api, customer, provider, local_start(provider, day, "09:00"))
    to_cancel = book(api, customer, provider, local_start(provider, day, "10:00"))
    approved = api.post(f"/appointments/{to_cancel}/approve", headers=provider.account.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "confirmed"
    page = new_context().new_page()
    sign_in(page, provider)

    declining = card(page, to_decline)
    declining.get_by_role("button", name="Decline").click()
    expect(declining).to_contain_text("The customer is refunded in full.")
    declining.get_by_label("Reason for the customer (optional)").fill("Away that morning")
    screenshot(page, "1-declining")
    declining.get_by_role("button", name="Decline booking").click()
    expect(notice(page, "Declined")).to_be_visible(timeout=DECIDED_MS)
    declined = eventually(
        lambda: booking(api, customer, to_decline), lambda b: b["status"] == "declined"
    )
    assert declined["payment"]["status"] == "refunded", declined
    # Gone from the upcoming list, which holds only bookings still to happen.
    expect(card(page, to_decline)).to_have_count(0)

    cancelling = card(page, to_cancel)
    expect(cancelling).to_contain_text("Confirmed")
    cancelling.get_by_role("button", name="Cancel booking").click()
    cancelling.get_by_label("Reason for the customer (optional)").fill("Ill today")
    cancelling.get_by_role("button", name="Yes, cancel it").click()
    expect(notice(page, re.compile("Cancelled|being cancelled"))).to_be_visible(timeout=DECIDED_MS)
    cancelled = eventually(
        lambda: booking(api, customer, to_cancel), lambda b: b["status"] == "cancelled"
    )
    assert cancelled["note"] == "Ill today"
    assert cancelled["payment"]["status"] == "refunded", cancelled
    expect(page.get_by_text("No upcoming bookings.")).to_be_visible()
    screenshot(page, "2-none-left")


def test_the_provider_moves_a_booking_to_a_free_time(
    api: httpx.Client, new_context: NewContext, screenshot: Screenshot
) -> None:
    provider = make_provider(api, hours=(("09:00", "11:00"),))
    customer = make_customer(api)
    first_day, later_day = days_ahead(provider, 2), days_ahead(provider, 40)
    booking_id = book(api, customer, provider, local_start(provider, first_day, "09:00"))
    page = new_context().new_page()
    sign_in(page, provider)

    entry = card(page, booking_id)
    entry.get_by_role("button", name="Reschedule").click()
    # The booking's own day first: its own time is taken, the others are offered.
    times = entry.get_by_role("group", name=re.compile("^Free times on"))
    expect(times.get_by_role("button")).to_have_count(3)
    pick_day_in(entry, later_day)
    expect(times).to_have_accessible_name(f"Free times on {heading_of(later_day)}")
    new_start = local_start(provider, later_day, "10:30")
    label = clock_label(new_start, provider.timezone)
    expect(times.get_by_role("button")).to_have_count(4)
    spaced = r"\s".join(re.escape(part) for part in label.split(" "))
    times.get_by_role("button", name=re.compile(f"^{spaced}$")).click()
    assert_accessible(page, "the reschedule panel")
    screenshot(page, "1-choosing")
    entry.get_by_role("button", name=re.compile("^Move to")).click()
    expect(notice(page, "Moved")).to_be_visible(timeout=DECIDED_MS)

    moved = booking(api, customer, booking_id)
    assert moved["status"] == "confirmed"
    assert moved["reschedules"] == 1
    assert datetime.fromisoformat(moved["start"]) == new_start
    later = page.get_by_role("region", name=heading_of(later_day))
    expect(later.locator(f'[data-booking-id="{booking_id}"]')).to_contain_text(label)
    expect(page.get_by_role("region", name=heading_of(first_day))).to_have_count(0)


def test_refusals_are_shown_as_sentences(
    api: httpx.Client, new_context: NewContext, screenshot: Screenshot
) -> None:
    provider = make_provider(api, hours=(("09:00", "11:00"),), auto_confirm=False)
    customer = make_customer(api)
    page = new_context().new_page()

    page.goto("/dashboard")
    page.get_by_label("Email").fill(provider.account.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(
        "That email and password do not match an account."
    )
    # A customer's account has no dashboard, and is told so.
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(customer.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("This account is not a provider account.")).to_be_visible()

    # Decided elsewhere while the list was open: approving now is refused, in words.
    booking_id = book(
        api, customer, provider, local_start(provider, days_ahead(provider, 2), "09:00")
    )
    sign_in(page, provider)
    expect(card(page, booking_id)).to_contain_text("Waiting for your approval")
    declined = api.post(f"/appointments/{booking_id}/decline", headers=provider.account.headers)
    assert declined.status_code == 200, declined.text
    card(page, booking_id).get_by_role("button", name="Approve").click()
    alert = card(page, booking_id).get_by_role("alert")
    expect(alert).to_have_text(
        "This booking is not waiting for approval any more: it was decided, cancelled or it "
        "expired.",
        timeout=DECIDED_MS,
    )
    screenshot(page, "refused")
    assert booking(api, customer, booking_id)["status"] == "declined"


def test_an_ended_session_returns_to_the_sign_in_with_a_sentence(
    api: httpx.Client, new_context: NewContext
) -> None:
    provider = make_provider(api)
    page = new_context().new_page()
    sign_in(page, provider)
    # The token stops being accepted while the dashboard is open (as when it expires).
    page.evaluate("() => localStorage.setItem('booking.token', 'no-longer-valid')")
    page.get_by_role("link", name="Hours").click()
    expect(page.get_by_text("Your session has ended. Please sign in again.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    page.get_by_label("Email").fill(provider.account.email)
    page.get_by_label("Password").fill(provider.account.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Working hours")).to_be_visible()
