"""Every view of the dashboard at phone width (375 px): no sideways scrolling, no serious or
critical axe-core violation, a screenshot of each."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import (
    PHONE,
    NewContext,
    Screenshot,
    assert_accessible,
    assert_no_horizontal_scroll,
)
from tests.browser.dashboard_steps import (
    book,
    card,
    heading_of,
    sign_in,
)
from tests.browser.scenario import days_ahead, local_start, make_customer, make_provider


def test_every_view_fits_a_phone_and_passes_axe(
    api: httpx.Client, new_context: NewContext, screenshot: Screenshot
) -> None:
    provider = make_provider(api, hours=(("09:00", "11:00"),), auto_confirm=False)
    customer = make_customer(api)
    day = days_ahead(provider, 2)
    waiting = book(api, customer, provider, local_start(provider, day, "09:00"))
    confirmed = book(api, customer, provider, local_start(provider, day, "10:00"))
    approved = api.post(f"/appointments/{confirmed}/approve", headers=provider.account.headers)
    assert approved.status_code == 200, approved.text
    page = new_context(viewport=PHONE).new_page()

    def check(where: str, name: str) -> None:
        assert_no_horizontal_scroll(page, where)
        assert_accessible(page, where)
        screenshot(page, name)

    page.goto("/dashboard")
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    check("the sign-in form", "1-sign-in")

    sign_in(page, provider)
    expect(card(page, waiting).get_by_role("button", name="Approve")).to_be_visible()
    check("the bookings", "2-bookings")
    card(page, waiting).get_by_role("button", name="Decline").click()
    card(page, confirmed).get_by_role("button", name="Reschedule").click()
    expect(card(page, confirmed).get_by_role("grid")).to_be_visible()
    expect(
        card(page, confirmed).get_by_role("group", name=f"Free times on {heading_of(day)}")
    ).to_be_visible()
    check("the bookings with decline and reschedule open", "3-bookings-open")

    page.get_by_role("link", name="Hours").click()
    expect(page.get_by_role("form", name="Weekly hours")).to_be_visible()
    check("the working hours", "4-hours")

    page.get_by_role("link", name="Services").click()
    page.get_by_role("button", name="Edit Consultation").click()
    expect(page.get_by_role("button", name="Save service")).to_be_visible()
    check("the services with a form open", "5-services")

    page.get_by_role("link", name="Calendars").click()
    expect(page.get_by_text("No calendar is connected.")).to_be_visible()
    check("the calendars", "6-calendars")
