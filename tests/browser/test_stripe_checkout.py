"""Paying on the page with Stripe's Payment Element, against localstripe, on a stack of its own.

The stack runs with PAYMENT_GATEWAY=stripe and STRIPE_API_BASE at a localstripe on 127.0.0.1,
which signs and sends its webhooks to the stack's POST /payments/webhook: that is how a booking
learns it was paid. There is no internet here, so the browser's requests to Stripe are served
by the test (tests/browser/fake_stripe_js.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from config import Settings
from tests.browser.conftest import NewContext, Screenshot
from tests.browser.dashboard_steps import eventually
from tests.browser.fake_stripe_js import STRIPE_JS, FakeStripeJs, accept_confirm_from_stripe_js
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
)
from tests.e2e.conftest import Stack, running_stack
from tests.stripe_peer import running_localstripe

SECRET_KEY = "sk_test_localstripe"
PUBLISHABLE_KEY = "pk_test_localstripe"
WEBHOOK_SECRET = "whsec_localstripe_browser"
ZONE = "Europe/Berlin"


@pytest.fixture(scope="module")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with running_localstripe(log, accept_confirm_from_stripe_js) as url:
        yield url


@pytest.fixture(scope="module")
def stripe_stack(
    browser_settings: Settings, localstripe: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    env = {
        "PAYMENT_GATEWAY": "stripe",
        "STRIPE_API_KEY": SECRET_KEY,
        "STRIPE_API_BASE": localstripe,
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "PAYMENT_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    logs = tmp_path_factory.mktemp("stripe-stack")
    with running_stack(browser_settings, logs, extra_env=env) as stack:
        registered = httpx.post(
            f"{localstripe}/_config/webhooks/browser-stack",
            json={
                "url": f"{stack.base_url}/payments/webhook",
                "secret": WEBHOOK_SECRET,
                "events": ["payment_intent.succeeded", "payment_intent.payment_failed"],
            },
        )
        registered.raise_for_status()
        yield stack


@pytest.fixture(scope="module")
def base_url(stripe_stack: Stack) -> str:
    """This module's pages and API are the Stripe stack's (conftest's fixtures use it)."""
    return stripe_stack.base_url


@pytest.fixture
def stripe_js(localstripe: str, base_url: str) -> FakeStripeJs:
    return FakeStripeJs(localstripe, base_url)


def book_on_page(page: Page, provider: Provider, customer: Account) -> str:
    """The customer books the provider's first free time the day after tomorrow; its id."""
    day = days_ahead(provider, 2)
    page.goto(f"/book/{provider.id}?service={provider.service_id}")
    pick_day(page, day)
    slot_button(page, clock_label(local_start(provider, day, "09:00"), ZONE)).click()
    sign_in_on_page(page, customer.email, customer.password)
    page.get_by_role("button", name="Book this time").click()
    expect(page).to_have_url(re.compile(r"/bookings/[0-9a-f-]{36}$"))
    expect(page.get_by_test_id("booking-status")).to_have_text("Waiting for payment")
    return page.url.rsplit("/", 1)[1]


def booking_of(api: httpx.Client, customer: Account, booking_id: str) -> dict[str, Any]:
    response = api.get(f"/appointments/{booking_id}", headers=customer.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def enter_card(form: Locator, number: str) -> None:
    """localstripe's card element: one plain input per field."""
    form.get_by_placeholder("number").fill(number)
    form.get_by_placeholder("exp_month").fill("12")
    form.get_by_placeholder("exp_year").fill("34")
    form.get_by_placeholder("cvc").fill("123")
    form.get_by_placeholder("postal_code").fill("10115")


def mounted_payment_element(
    page: Page, api: httpx.Client, customer: Account, booking_id: str
) -> Locator:
    """The card form, once the Payment Element is mounted with this site's publishable key and
    the booking's own client secret (as POST /appointments gave it to its customer)."""
    form = page.get_by_role("form", name="Card payment")
    expect(form.get_by_placeholder("number")).to_be_visible()
    secret = booking_of(api, customer, booking_id)["payment"]["client_secret"]
    assert secret and secret.startswith("pi_"), secret
    shim = page.evaluate("() => window.__stripeShim")
    assert shim == {"publishableKey": PUBLISHABLE_KEY, "clientSecrets": [secret]}
    return form


def at_the_stripe_checkout(
    api: httpx.Client, new_context: NewContext, stripe_js: FakeStripeJs
) -> tuple[Page, Locator, Account, str]:
    """A customer's fresh booking on the page, at its Payment Element: the page, the element's
    form, the customer and the booking's id."""
    provider = make_provider(api)
    customer = make_customer(api)
    context = new_context(timezone=ZONE)
    stripe_js.install(context)
    page = context.new_page()
    booking_id = book_on_page(page, provider, customer)
    return page, mounted_payment_element(page, api, customer, booking_id), customer, booking_id


def intent_at_stripe(localstripe: str, intent_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{localstripe}/v1/payment_intents/{intent_id}",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
    )
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def test_the_payment_element_takes_a_card_and_the_webhook_confirms_the_booking(
    api: httpx.Client,
    new_context: NewContext,
    stripe_js: FakeStripeJs,
    localstripe: str,
    screenshot: Screenshot,
) -> None:
    page, form, customer, booking_id = at_the_stripe_checkout(api, new_context, stripe_js)
    assert stripe_js.requested == [STRIPE_JS]
    enter_card(form, "4242424242424242")
    screenshot(page, "1-card")
    form.get_by_role("button", name="Pay $50.00").click()

    expect(page.get_by_role("heading", name="Your booking is confirmed")).to_be_visible()
    expect(page.get_by_test_id("booking-status")).to_have_text("Confirmed")
    screenshot(page, "2-confirmed")
    booking = booking_of(api, customer, booking_id)
    assert booking["status"] == "confirmed"
    assert booking["payment"]["client_secret"] is None
    intent = intent_at_stripe(localstripe, booking["payment"]["intent_id"])
    assert (intent["status"], intent["amount"]) == ("succeeded", 5000)


def test_a_declined_card_is_a_sentence_and_the_booking_waits_for_payment(
    api: httpx.Client,
    new_context: NewContext,
    stripe_js: FakeStripeJs,
    localstripe: str,
    screenshot: Screenshot,
) -> None:
    page, form, customer, booking_id = at_the_stripe_checkout(api, new_context, stripe_js)
    enter_card(form, "4000000000000002")
    form.get_by_role("button", name="Pay $50.00").click()

    expect(form.get_by_role("alert")).to_have_text("Your card was declined.")
    expect(form.get_by_role("button", name="Pay $50.00")).to_be_enabled()
    screenshot(page, "declined")
    # Stripe's payment_failed webhook reaches the booking: it says why, and keeps the hold.
    booking = eventually(
        lambda: booking_of(api, customer, booking_id),
        lambda found: found["payment_failure"] is not None,
    )
    assert booking["status"] == "awaiting_payment"
    intent = intent_at_stripe(localstripe, booking["payment"]["intent_id"])
    assert intent["status"] == "requires_payment_method"
    assert intent["last_payment_error"]["code"] == "card_declined"
    page.reload()
    expect(page.get_by_test_id("booking-status")).to_have_text("Waiting for payment")


def test_a_card_that_asks_for_3d_secure_is_confirmed_in_the_modal(
    api: httpx.Client, new_context: NewContext, stripe_js: FakeStripeJs, localstripe: str
) -> None:
    page, form, customer, booking_id = at_the_stripe_checkout(api, new_context, stripe_js)
    enter_card(form, "4000002760003184")
    form.get_by_role("button", name="Pay $50.00").click()
    page.get_by_role("button", name="Complete authentication").click()

    expect(page.get_by_role("heading", name="Your booking is confirmed")).to_be_visible()
    booking = booking_of(api, customer, booking_id)
    assert booking["status"] == "confirmed"
    intent = intent_at_stripe(localstripe, booking["payment"]["intent_id"])
    assert intent["status"] == "succeeded"
