"""My bookings: the refund the policy gives is shown before a cancel; moving to a free time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import NewContext, Screenshot, assert_accessible
from tests.browser.scenario import (
    book_and_pay,
    clock_label,
    days_ahead,
    local_start,
    make_customer,
    make_provider,
    pick_day,
    sign_in_on_page,
    slot_button,
)

ZONE = "America/New_York"


def open_panel(page: Page, booking_id: str, action: str) -> None:
    page.locator(f'[data-booking-id="{booking_id}"]').get_by_role("button", name=action).click()


def test_cancel_shows_the_refund_first_and_reschedule_moves_to_a_free_time(
    api: httpx.Client, new_context: NewContext, screenshot: Screenshot
) -> None:
    provider = make_provider(api, timezone=ZONE, hours=(("00:00", "24:00"),))
    customer = make_customer(api, "Mia Mover")
    later_day = days_ahead(provider, 3)
    later = book_and_pay(api, customer, provider, local_start(provider, later_day, "09:00"))
    # Inside the 24 hours before its start: cancelling it is not refunded.
    # On the hour in UTC is on the hour in New York too: on the service's 30-minute grid.
    soon_start = (datetime.now(UTC) + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    soon = book_and_pay(api, customer, provider, soon_start)

    page = new_context(timezone=ZONE).new_page()
    page.goto("/bookings")
    sign_in_on_page(page, customer.email)
    later_card = page.locator(f'[data-booking-id="{later}"]')
    soon_card = page.locator(f'[data-booking-id="{soon}"]')
    expect(later_card.get_by_test_id("booking-status")).to_have_text("Confirmed")
    expect(soon_card.get_by_test_id("booking-status")).to_have_text("Confirmed")

    open_panel(page, soon, "Cancel booking")
    not_refunded = "has passed, so cancelling now is not refunded: you keep paying $50.00."
    expect(soon_card.get_by_test_id("refund-preview")).to_contain_text(not_refunded)
    soon_card.get_by_role("button", name="Keep it").click()
    expect(soon_card.get_by_test_id("refund-preview")).to_have_count(0)

    # Moved by the customer from inside the no-refund window to days later, it keeps the passed
    # deadline: the page shows the booking's own, not 24 hours before the new start.
    moved_soon = local_start(provider, later_day, "15:00")
    answer = api.post(
        f"/appointments/{soon}/reschedule",
        json={"start": moved_soon.isoformat()},
        headers=customer.headers,
    )
    assert answer.status_code == 200, answer.text
    page.reload()
    open_panel(page, soon, "Cancel booking")
    expect(soon_card.get_by_test_id("refund-preview")).to_contain_text(not_refunded)
    soon_card.get_by_role("button", name="Keep it").click()

    open_panel(page, later, "Cancel booking")
    expect(later_card.get_by_test_id("refund-preview")).to_contain_text(
        "You will be refunded in full: $50.00, if you cancel before"
    )
    assert_accessible(page, "my bookings with a cancel open")
    later_card.get_by_role("button", name="Keep it").click()

    open_panel(page, later, "Reschedule")
    moved_day = later_day + timedelta(days=1)
    pick_day(page, moved_day)
    new_start = local_start(provider, moved_day, "10:00")
    slot_button(page, clock_label(new_start, ZONE)).click()
    assert_accessible(page, "my bookings with a reschedule open")
    screenshot(page, "reschedule")
    later_card.get_by_role("button", name="Move to").click()
    expect(later_card).to_contain_text(
        f"{moved_day:%A, %B} {moved_day.day}, {moved_day:%Y}, 10:00 AM"
    )
    moved = api.get(f"/appointments/{later}", headers=customer.headers).json()
    assert datetime.fromisoformat(moved["start"]) == new_start
    assert moved["status"] == "confirmed"

    open_panel(page, later, "Cancel booking")
    later_card.get_by_role("button", name="Yes, cancel it").click()
    expect(later_card.get_by_test_id("booking-status")).to_have_text("Cancelled")
    expect(later_card.get_by_role("button", name="Cancel booking")).to_have_count(0)
    assert api.get(f"/appointments/{later}", headers=customer.headers).json()["status"] == (
        "cancelled"
    )
    screenshot(page, "cancelled")
