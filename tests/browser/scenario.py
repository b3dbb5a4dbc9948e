"""Providers and customers made through the API, with random emails, for the browser tests."""

from __future__ import annotations

import re
import time as time_module
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import Locator, Page, expect

PASSWORD = "a long browser password"
WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    full_name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Provider:
    id: str
    service_id: str
    name: str
    timezone: str
    account: Account


def login(api: httpx.Client, email: str, password: str = PASSWORD) -> str:
    response = api.post("/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def make_customer(api: httpx.Client, name: str = "Casey Customer") -> Account:
    email = f"customer-{uuid.uuid4().hex[:12]}@example.com"
    response = api.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "full_name": name}
    )
    assert response.status_code == 201, response.text
    return Account(email, PASSWORD, name, login(api, email))


def make_provider(
    api: httpx.Client,
    *,
    timezone: str = "America/New_York",
    hours: tuple[tuple[str, str], ...] = (("09:00", "11:00"),),
    duration_minutes: int = 30,
    price: int = 5000,
    horizon_days: int = 90,
    auto_confirm: bool = True,
) -> Provider:
    """A provider working `hours` every day of the week in `timezone`, with one service."""
    suffix = uuid.uuid4().hex[:8]
    email = f"provider-{suffix}@example.com"
    name = f"Dr. Browser {suffix}"
    response = api.post(
        "/auth/register",
        json={
            "email": email,
            "password": PASSWORD,
            "full_name": name,
            "role": "provider",
            "timezone": timezone,
            "display_name": name,
        },
    )
    assert response.status_code == 201, response.text
    provider_id = response.json()["provider_id"]
    account = Account(email, PASSWORD, name, login(api, email))
    day = [{"start": start, "end": end} for start, end in hours]
    response = api.put(
        "/providers/me/working-hours",
        headers=account.headers,
        json={weekday: day for weekday in WEEK},
    )
    assert response.status_code == 200, response.text
    response = api.post(
        "/providers/me/services",
        headers=account.headers,
        json={
            "name": "Consultation",
            "duration_minutes": duration_minutes,
            "price": {"amount": price, "currency": "USD"},
            "min_notice_minutes": 0,
            "horizon_days": horizon_days,
        },
    )
    assert response.status_code == 201, response.text
    service_id = response.json()["id"]
    if not auto_confirm:
        response = api.patch("/providers/me", headers=account.headers, json={"auto_confirm": False})
        assert response.status_code == 200, response.text
    return Provider(provider_id, service_id, name, timezone, account)


def local_start(provider: Provider, day: date, at: str) -> datetime:
    hour, minute = map(int, at.split(":"))
    return datetime.combine(day, time(hour, minute), ZoneInfo(provider.timezone))


def days_ahead(provider: Provider, days: int) -> date:
    return datetime.now(ZoneInfo(provider.timezone)).date() + timedelta(days=days)


def clock_label(instant: datetime, zone: str) -> str:
    """The page's en-US label of an instant in `zone`: '3:00 PM'."""
    local = instant.astimezone(ZoneInfo(zone))
    return f"{local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def book_paid(
    api: httpx.Client, customer: Account, provider: Provider, start: datetime
) -> tuple[str, str]:
    """A booking made through the API and paid in the sandbox: its id, and its status as the
    payment's answer gives it."""
    response = api.post(
        "/appointments",
        headers=customer.headers,
        json={"service_id": provider.service_id, "start": start.isoformat()},
    )
    assert response.status_code == 201, response.text
    booking = response.json()
    paid = api.post(
        f"/sandbox/payments/{booking['payment']['intent_id']}/succeed", headers=customer.headers
    )
    assert paid.status_code == 200, paid.text
    return str(booking["id"]), str(paid.json()["booking"]["status"])


def book_and_pay(api: httpx.Client, customer: Account, provider: Provider, start: datetime) -> str:
    """A confirmed booking made through the API; its id."""
    booking_id, status = book_paid(api, customer, provider, start)
    # The checkout waits up to 5 s for the booking to act; a loaded machine may take longer.
    deadline = time_module.monotonic() + 30
    while status != "confirmed" and time_module.monotonic() < deadline:
        time_module.sleep(0.2)
        state = api.get(f"/appointments/{booking_id}", headers=customer.headers)
        status = state.json()["status"]
    assert status == "confirmed", f"booking {booking_id} is {status}"
    return booking_id


# --- on the page ------------------------------------------------------------------------------


def normalized(text: str) -> str:
    """Intl puts a narrow no-break space before AM/PM; compare with plain spaces."""
    return re.sub(r"\s+", " ", text).strip()


def slot_buttons(page: Page) -> Locator:
    return page.get_by_role("list", name="Free times").get_by_role("button")


def slot_labels(page: Page) -> list[str]:
    return [normalized(text) for text in slot_buttons(page).all_inner_texts()]


def slot_button(page: Page, label: str) -> Locator:
    labels = slot_labels(page)
    assert label in labels, f"no free time {label!r} among {labels}"
    return slot_buttons(page).nth(labels.index(label))


def pick_day(page: Page, day: date, *, max_months: int = 6) -> None:
    """Opens `day` in the month view (moving month by month) and selects it."""
    cell = page.locator(f'td[data-day="{day.isoformat()}"]')
    footer = page.locator(".rdp-footer")
    for _ in range(max_months):
        # The month's free days are read before a day is looked for.
        expect(footer).to_have_text(re.compile(r"this month\.$"))
        if cell.count():
            break
        page.get_by_role("button", name="Go to the Next Month").click()
    expect(cell.get_by_role("button")).to_be_enabled()
    cell.get_by_role("button").click()
    expect(page.get_by_role("heading", name=re.compile(day.strftime("%B %-d, %Y")))).to_be_visible()


def sign_up_on_page(page: Page, name: str) -> str:
    """Registers a new customer in the page's own form; the email."""
    email = f"visitor-{uuid.uuid4().hex[:12]}@example.com"
    page.get_by_role("button", name="Create an account").click()
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    return email


def sign_in_on_page(page: Page, email: str, password: str = PASSWORD) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
