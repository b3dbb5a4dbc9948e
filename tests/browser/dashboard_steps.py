"""Steps the dashboard's browser tests share: bookings set up through the API, sign-in, cards."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.browser.scenario import Account, Provider, book_paid

T = TypeVar("T")
# A decision or a cancel goes through the booking's workflow: allow a loaded machine its time.
DECIDED_MS = 20_000


def book(api: httpx.Client, customer: Account, provider: Provider, start: datetime) -> str:
    """A paid booking made through the API; it waits for approval or is confirmed, by the
    provider's setting. Its id."""
    booking_id, status = book_paid(api, customer, provider, start)
    assert status in ("awaiting_approval", "confirmed"), f"booking {booking_id} is {status}"
    return booking_id


def booking(api: httpx.Client, customer: Account, booking_id: str) -> dict[str, Any]:
    response = api.get(f"/appointments/{booking_id}", headers=customer.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def eventually(read: Callable[[], T], done: Callable[[T], bool], *, within: float = 30) -> T:
    """Reads until `done` holds (a 202'd change finishing in its workflow); fails after
    `within` seconds with the last value read."""
    deadline = time.monotonic() + within
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r} after {within}s"
        time.sleep(0.2)


def heading_of(day: date) -> str:
    """The dashboard's en-US heading of a day: 'Monday, December 7, 2026'."""
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"


def sign_in(page: Page, provider: Provider) -> None:
    page.goto("/dashboard")
    expect(page.get_by_role("heading", name="Provider dashboard")).to_be_visible()
    page.get_by_label("Email").fill(provider.account.email)
    page.get_by_label("Password").fill(provider.account.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Upcoming bookings")).to_be_visible()


def notice(page: Page, text: str | re.Pattern[str]) -> Locator:
    """The page's confirmation of a change (a polite live region) saying `text`."""
    return page.get_by_role("status").filter(has_text=text)


def card(page: Page, booking_id: str) -> Locator:
    return page.locator(f'[data-booking-id="{booking_id}"]')


def pick_day_in(area: Locator, day: date, *, max_months: int = 6) -> None:
    """Selects `day` in the react-day-picker inside `area`, moving month by month."""
    cell = area.locator(f'td[data-day="{day.isoformat()}"]')
    expect(area.get_by_role("grid")).to_be_visible()
    for _ in range(max_months):
        if cell.count():
            break
        area.get_by_role("button", name="Go to the Next Month").click()
    expect(cell.get_by_role("button")).to_be_enabled()
    cell.get_by_role("button").click()
    expect(cell).to_have_attribute("aria-selected", "true")
