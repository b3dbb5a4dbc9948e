"""A visitor books on the page: provider's link, day, time in their zone, account, pay, .ics."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import NewContext, Screenshot, assert_accessible
from tests.browser.scenario import (
    PASSWORD,
    clock_label,
    days_ahead,
    local_start,
    login,
    make_provider,
    pick_day,
    sign_in_on_page,
    sign_up_on_page,
    slot_button,
    slot_labels,
)


def test_a_visitor_books_pays_and_downloads_the_invite(
    api: httpx.Client, new_context: NewContext, screenshot: Screenshot
) -> None:
    provider = make_provider(api, hours=(("09:00", "11:00"),))
    day = days_ahead(provider, 3)
    starts = [local_start(provider, day, at) for at in ("09:00", "09:30", "10:00", "10:30")]
    page = new_context(timezone="Europe/Berlin").new_page()

    # The provider's own link; the visitor's zone is detected.
    page.goto(f"/book/{provider.id}?service={provider.service_id}")
    expect(page.get_by_role("heading", name=f"Book with {provider.name}")).to_be_visible()
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    pick_day(page, day)
    expected = [clock_label(start, "Europe/Berlin") for start in starts]
    expect(page.get_by_role("list", name="Free times").get_by_role("button")).to_have_count(4)
    assert slot_labels(page) == expected
    assert_accessible(page, "the booking page with a day open")
    screenshot(page, "1-slots")

    slot_button(page, expected[0]).click()
    summary = page.get_by_role("region", name="Your booking")
    expect(summary).to_contain_text("$50.00")
    expect(summary).to_contain_text("Europe/Berlin")

    # A wrong password is a sentence, not a code; then a new account, made in place.
    sign_in_on_page(page, "nobody@example.com", "not the password")
    expect(page.get_by_role("alert")).to_have_text(
        "That email and password do not match an account."
    )
    email = sign_up_on_page(page, "Vera Visitor")
    assert_accessible(page, "the booking summary, signed in")
    page.get_by_role("button", name="Book this time").click()

    expect(page).to_have_url(re.compile(r"/bookings/[0-9a-f-]{36}$"))
    booking_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_test_id("booking-status")).to_have_text("Waiting for payment")
    assert_accessible(page, "the checkout")
    screenshot(page, "2-checkout")
    page.get_by_role("button", name="Pay $50.00").click()

    expect(page.get_by_role("heading", name="Your booking is confirmed")).to_be_visible()
    expect(page.get_by_test_id("booking-status")).to_have_text("Confirmed")
    assert_accessible(page, "the confirmation")
    screenshot(page, "3-confirmed")
    token = login(api, email, PASSWORD)
    booking = api.get(f"/appointments/{booking_id}", headers={"Authorization": f"Bearer {token}"})
    assert booking.json()["status"] == "confirmed"
    assert datetime.fromisoformat(booking.json()["start"]) == starts[0]

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download calendar invite (.ics)").click()
    download = download_info.value
    assert download.suggested_filename == f"booking-{booking_id}.ics"
    invite = download.path().read_text()
    assert "BEGIN:VCALENDAR" in invite
    assert starts[0].astimezone(UTC).strftime("DTSTART:%Y%m%dT%H%M%SZ") in invite or (
        starts[0].strftime("%Y%m%dT%H%M%S") in invite
    ), invite

    # The time is gone for the next visitor.
    other = new_context(timezone="Europe/Berlin").new_page()
    other.goto(f"/book/{provider.id}?service={provider.service_id}")
    pick_day(other, day)
    expect(other.get_by_role("list", name="Free times").get_by_role("button")).to_have_count(3)
    assert slot_labels(other) == expected[1:]

    page.goto("/bookings")
    entry = page.locator(f'[data-booking-id="{booking_id}"]')
    expect(entry.get_by_test_id("booking-status")).to_have_text("Confirmed")
    assert_accessible(page, "my bookings")
    screenshot(page, "4-my-bookings")
