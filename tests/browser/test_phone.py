"""At a phone's width (375 px) every page fits without scrolling sideways, and passes axe-core."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import (
    PHONE,
    NewContext,
    Screenshot,
    assert_accessible,
    assert_no_horizontal_scroll,
)
from tests.browser.scenario import (
    clock_label,
    days_ahead,
    local_start,
    make_customer,
    make_provider,
    pick_day,
    sign_in_on_page,
    slot_button,
)

ZONE = "Asia/Kolkata"


def test_every_page_fits_a_phone(
    api: httpx.Client, new_context: NewContext, screenshot: Screenshot
) -> None:
    provider = make_provider(api, hours=(("09:00", "12:00"), ("13:00", "17:00")))
    customer = make_customer(api, "Pat Phone")
    day = days_ahead(provider, 2)
    page = new_context(timezone=ZONE, viewport=PHONE).new_page()

    page.goto("/?service=Consultation")
    expect(page.get_by_role("link", name="Consultation").first).to_be_visible()
    assert_no_horizontal_scroll(page, "the provider search")
    assert_accessible(page, "the provider search")
    screenshot(page, "1-search")

    page.goto(f"/book/{provider.id}?service={provider.service_id}")
    start = local_start(provider, day, "13:00")
    pick_day(page, start.astimezone(ZoneInfo(ZONE)).date())
    slot_button(page, clock_label(start, ZONE)).click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_no_horizontal_scroll(page, "the booking page")
    assert_accessible(page, "the booking page on a phone")
    screenshot(page, "2-book")

    sign_in_on_page(page, customer.email)
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_test_id("booking-status")).to_have_text("Waiting for payment")
    assert_no_horizontal_scroll(page, "the checkout")
    assert_accessible(page, "the checkout on a phone")
    screenshot(page, "3-checkout")
    page.get_by_role("button", name="Pay $50.00").click()
    expect(page.get_by_test_id("booking-status")).to_have_text("Confirmed")
    assert_no_horizontal_scroll(page, "the confirmation")

    page.goto("/bookings")
    expect(page.get_by_test_id("booking-status")).to_have_text("Confirmed")
    page.get_by_role("button", name="Reschedule").click()
    expect(page.get_by_role("heading", name="Choose a day")).to_be_visible()
    assert_no_horizontal_scroll(page, "my bookings with a reschedule open")
    assert_accessible(page, "my bookings on a phone")
    screenshot(page, "4-my-bookings")
