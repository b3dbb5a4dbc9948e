"""The provider's settings in the dashboard: hours, holidays and services change what the API
offers; calendar connections show their status."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from uuid import UUID

import httpx
import pytest
from playwright.sync_api import expect

from config import Settings
from db import calendar_connections as store
from db.engine import Database
from tests.browser.conftest import (
    PHONE,
    NewContext,
    Screenshot,
    assert_accessible,
    assert_no_horizontal_scroll,
)
from tests.browser.dashboard_steps import notice, pick_day_in, sign_in
from tests.browser.scenario import Provider, days_ahead, make_provider
from tests.integration.caldav_events import new_calendar
from tests.integration.radicale_server import Radicale, start_radicale


def free_starts(api: httpx.Client, provider: Provider, day: date) -> list[str]:
    """The day's free starts as the API offers them, as local "HH:MM" in the provider's zone."""
    response = api.get(
        f"/providers/{provider.id}/availability",
        params={"service_id": provider.service_id, "from": str(day), "to": str(day)},
    )
    assert response.status_code == 200, response.text
    return [slot["start"][11:16] for slot in response.json()["slots"]]


def test_a_working_hours_edit_changes_the_availability(
    api: httpx.Client, new_context: NewContext, screenshot: Screenshot
) -> None:
    provider = make_provider(api, hours=(("09:00", "11:00"),))
    day, next_day = days_ahead(provider, 3), days_ahead(provider, 4)
    morning = ["09:00", "09:30", "10:00", "10:30"]
    assert free_starts(api, provider, day) == morning
    page = new_context().new_page()
    sign_in(page, provider)
    page.get_by_role("link", name="Hours").click()
    expect(page.get_by_role("heading", name="Working hours")).to_be_visible()
    expect(page.get_by_text(provider.timezone, exact=True)).to_be_visible()

    weekday = f"{day:%A}"
    hours = page.get_by_role("group", name=weekday, exact=True)
    expect(hours.get_by_label(f"{weekday}, hours 1, from")).to_have_value("09:00")
    hours.get_by_role("button", name=f"Add hours on {weekday}").click()
    # An interval that ends before it starts is refused in words, and nothing is sent.
    hours.get_by_label(f"{weekday}, hours 2, from").fill("15:00")
    hours.get_by_label(f"{weekday}, hours 2, until").fill("13:00")
    week = page.get_by_role("form", name="Weekly hours")
    week.get_by_role("button", name="Save weekly hours").click()
    expect(week.get_by_role("alert")).to_have_text(
        f"{weekday}: 15:00\u201313:00 must start before it ends."
    )
    assert free_starts(api, provider, day) == morning
    # After lunch: a break from 11:00 to 13:00.
    hours.get_by_label(f"{weekday}, hours 2, from").fill("13:00")
    hours.get_by_label(f"{weekday}, hours 2, until").fill("14:00")
    week.get_by_role("button", name="Save weekly hours").click()
    expect(notice(page, "Working hours saved.")).to_be_visible()
    screenshot(page, "1-hours-saved")

    assert free_starts(api, provider, day) == [*morning, "13:00", "13:30"]
    if f"{next_day:%A}" != weekday:
        assert free_starts(api, provider, next_day) == morning
    stored = api.get("/providers/me/working-hours", headers=provider.account.headers).json()
    assert stored[weekday.lower()] == [
        {"start": "09:00", "end": "11:00"},
        {"start": "13:00", "end": "14:00"},
    ]


def test_an_override_and_a_holiday_change_the_availability(
    api: httpx.Client, new_context: NewContext, screenshot: Screenshot
) -> None:
    provider = make_provider(api, hours=(("09:00", "11:00"),))
    short_day, holiday = days_ahead(provider, 5), days_ahead(provider, 6)
    page = new_context().new_page()
    sign_in(page, provider)
    page.get_by_role("link", name="Hours").click()

    overrides = page.get_by_role("region", name="Date overrides")
    pick_day_in(overrides, short_day)
    overrides.get_by_label("Override, hours 1, from").fill("10:00")
    overrides.get_by_label("Override, hours 1, until").fill("11:00")
    overrides.get_by_role("button", name="Save override").click()
    expect(notice(page, "has its own hours")).to_be_visible()
    assert free_starts(api, provider, short_day) == ["10:00", "10:30"]

    holidays = page.get_by_role("region", name="Holidays")
    pick_day_in(holidays, holiday)
    holidays.get_by_label("Name").fill("Team day")
    holidays.get_by_role("button", name="Add holiday").click()
    expect(notice(page, "is a holiday")).to_be_visible()
    assert free_starts(api, provider, holiday) == []
    expect(holidays.get_by_role("listitem")).to_contain_text("Team day")
    # The same date again: the API's refusal (409 holiday_exists) as a sentence.
    pick_day_in(holidays, holiday)
    holidays.get_by_label("Name").fill("Again")
    holidays.get_by_role("button", name="Add holiday").click()
    expect(holidays.get_by_role("alert")).to_have_text("That date is already a holiday.")
    screenshot(page, "1-override-and-holiday")

    overrides.get_by_role("button", name="Remove the override").click()
    expect(notice(page, "has its weekday's hours again")).to_be_visible()
    assert free_starts(api, provider, short_day) == ["09:00", "09:30", "10:00", "10:30"]


def test_a_service_and_the_approval_setting_are_saved(
    api: httpx.Client, new_context: NewContext, screenshot: Screenshot
) -> None:
    provider = make_provider(api)
    page = new_context().new_page()
    sign_in(page, provider)
    expect(page.get_by_text("Bookings confirm without your approval.")).to_be_visible()
    page.get_by_role("link", name="Services").click()

    page.get_by_label("New bookings wait for my approval").check()
    page.get_by_role("button", name="Save profile").click()
    expect(notice(page, "Profile saved.")).to_be_visible()

    page.get_by_role("button", name="Add a service").click()
    form = page.get_by_role("region", name="New service")
    form.get_by_label("Name").fill("Deep tissue")
    form.get_by_label("Duration (minutes)").fill("60")
    form.get_by_label("Currency").select_option("EUR")
    form.get_by_label("Price").fill("25.5")
    form.get_by_label("Buffer after (minutes)").fill("15")
    form.get_by_label("Bookings per day at most").fill("4")
    form.get_by_label("Reminders (minutes before the start)").fill("120")
    assert_accessible(page, "the services page with the new-service form")
    form.get_by_role("button", name="Add service").click()
    expect(notice(page, "Deep tissue is offered now.")).to_be_visible()
    screenshot(page, "1-service-added")

    profile = api.get("/providers/me", headers=provider.account.headers).json()
    assert profile["auto_confirm"] is False
    added = next(s for s in profile["services"] if s["name"] == "Deep tissue")
    assert added["price"] == {"amount": 2550, "currency": "EUR"}
    assert added["duration_minutes"] == 60
    assert added["slot_interval_minutes"] == 60
    assert added["buffer_after_minutes"] == 15
    assert added["max_per_day"] == 4
    assert added["reminders_minutes_before"] == [120]
    page.get_by_role("link", name="Bookings").click()
    expect(page.get_by_text("New bookings wait for your approval.")).to_be_visible()


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server, running = start_radicale(tmp_path_factory.mktemp("radicale"))
    try:
        yield running
    finally:
        server.stop()


def _mark_broken(settings: Settings, connection_id: str, reason: str) -> None:
    """What the calendar sync does when the server refuses the login for good."""

    async def mark() -> None:
        db = Database.from_settings(settings)
        try:
            await store.mark_broken(db, UUID(connection_id), reason, now=datetime.now(UTC))
        finally:
            await db.dispose()

    # Playwright's sync API owns this thread's event loop.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, mark()).result()


def test_calendar_connections_show_their_status(
    api: httpx.Client,
    new_context: NewContext,
    screenshot: Screenshot,
    radicale: Radicale,
    browser_settings: Settings,
) -> None:
    provider = make_provider(api)
    new_calendar(radicale, f"Work {provider.id[:6]}")
    connected = api.post(
        "/calendar/connections/caldav",
        headers=provider.account.headers,
        json={"url": radicale.url, "username": radicale.username, "password": radicale.password},
    )
    assert connected.status_code == 201, connected.text
    page = new_context().new_page()
    sign_in(page, provider)
    page.get_by_role("link", name="Calendars").click()

    connection = page.get_by_role("article", name=f"CalDAV: {radicale.username}")
    expect(connection).to_contain_text("Active")
    expect(connection).to_contain_text(radicale.url)
    page.get_by_role("button", name="Read my calendars now").click()
    expect(notice(page, "Your calendar is being read now.")).to_be_visible()
    assert_accessible(page, "the calendars page")
    screenshot(page, "1-active")

    _mark_broken(browser_settings, connected.json()["id"], "the server refused the app password")
    page.reload()
    expect(connection).to_contain_text("Broken: connect it again to mend it")
    expect(connection).to_contain_text("Why: the server refused the app password")
    screenshot(page, "2-broken")
    # Long calendar addresses wrap on a phone instead of widening the page.
    phone = new_context(viewport=PHONE).new_page()
    sign_in(phone, provider)
    phone.get_by_role("link", name="Calendars").click()
    expect(phone.get_by_role("article", name=f"CalDAV: {radicale.username}")).to_be_visible()
    assert_no_horizontal_scroll(phone, "the calendars page with a connection")
    assert_accessible(phone, "the calendars page with a broken connection")
    screenshot(phone, "3-phone")
