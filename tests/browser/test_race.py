"""Two browsers want one slot: one books it; the other never books a taken time."""

from __future__ import annotations

import re
from datetime import date

import httpx
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.browser.conftest import NewContext, PageErrors, Screenshot, assert_accessible
from tests.browser.scenario import (
    Account,
    Provider,
    clock_label,
    days_ahead,
    local_start,
    make_customer,
    make_provider,
    pick_day,
    sign_in_on_page,
    slot_button,
    slot_buttons,
    slot_labels,
)

TAKEN = (
    "Sorry, that time was just taken by someone else. The free times below are up to date: "
    "please pick another."
)
ZONE = "America/Chicago"


def open_day(context: BrowserContext, provider: Provider, day: date, customer: Account) -> Page:
    page = context.new_page()
    page.goto(f"/book/{provider.id}?service={provider.service_id}")
    pick_day(page, day)
    expect(slot_buttons(page)).to_have_count(4)
    return page


def choose(page: Page, label: str, customer: Account) -> None:
    slot_button(page, label).click()
    if page.get_by_role("button", name="Book this time").count() == 0:
        sign_in_on_page(page, customer.email)
    expect(page.get_by_role("button", name="Book this time")).to_be_enabled()


def book_and_pay_on_page(page: Page) -> None:
    page.get_by_role("button", name="Book this time").click()
    page.get_by_role("button", name="Pay $50.00").click()
    expect(page.get_by_test_id("booking-status")).to_have_text("Confirmed")


def test_a_slot_booked_in_one_browser_vanishes_live_in_the_other(
    api: httpx.Client, new_context: NewContext, screenshot: Screenshot
) -> None:
    provider = make_provider(api)
    day = days_ahead(provider, 4)
    labels = [clock_label(local_start(provider, day, at), ZONE) for at in ("09:00", "09:30")]
    first, second = make_customer(api, "Ann First"), make_customer(api, "Bob Second")
    winner = open_day(new_context(timezone=ZONE), provider, day, first)
    watcher = open_day(new_context(timezone=ZONE), provider, day, second)
    expect(watcher.get_by_text("Free times update live.")).to_be_visible()
    choose(winner, labels[0], first)
    choose(watcher, labels[0], second)
    # Set in this document only: a reload would lose it.
    watcher.evaluate("() => { window.__sameDocument = true; }")

    book_and_pay_on_page(winner)

    expect(slot_buttons(watcher)).to_have_count(3)
    assert labels[0] not in slot_labels(watcher)
    expect(watcher.get_by_test_id("taken-notice")).to_have_text(TAKEN)
    expect(watcher.get_by_role("button", name="Book this time")).to_have_count(0)
    assert watcher.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    screenshot(watcher, "watcher")
    mine = api.get("/users/me/appointments", headers=second.headers).json()
    assert mine["count"] == 0


def test_without_live_updates_the_loser_is_told_the_time_was_just_taken(
    api: httpx.Client,
    new_context: NewContext,
    page_errors: PageErrors,
    screenshot: Screenshot,
) -> None:
    provider = make_provider(api)
    day = days_ahead(provider, 5)
    labels = [clock_label(local_start(provider, day, at), ZONE) for at in ("09:00", "09:30")]
    first, second = make_customer(api, "Ann First"), make_customer(api, "Bob Second")
    winner = open_day(new_context(timezone=ZONE), provider, day, first)
    # An API without the stream (404): the page works on, just not live.
    stale = new_context(timezone=ZONE)
    page_errors.allowed.append(re.compile(r"EventSource"))

    def no_stream(route: Route) -> None:
        route.fulfill(status=404, json={"code": "not_found", "detail": "Not Found"})

    stale.route("**/availability/events", no_stream)
    loser = open_day(stale, provider, day, second)
    expect(loser.get_by_text("Free times are as of when the page was loaded.")).to_be_visible()
    choose(winner, labels[0], first)
    choose(loser, labels[0], second)

    book_and_pay_on_page(winner)
    assert labels[0] in slot_labels(loser), "without the stream the page cannot know yet"
    loser.get_by_role("button", name="Book this time").click()

    expect(loser.get_by_test_id("taken-notice")).to_have_text(TAKEN)
    expect(slot_buttons(loser)).to_have_count(3)
    assert labels[0] not in slot_labels(loser)
    assert labels[1] in slot_labels(loser)
    assert_accessible(loser, "the booking page after a lost race")
    screenshot(loser, "loser")
    mine = api.get("/users/me/appointments", headers=second.headers).json()
    assert mine["count"] == 0
