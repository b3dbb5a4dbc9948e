"""The API serves web/dist from its own origin without shadowing any API path."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from api.web import PAGE_CSP


@pytest.mark.parametrize("path", ["/", "/book/some-provider", "/bookings", "/bookings/x/y"])
def test_booking_routes_answer_the_booking_page(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert 'src="/src/' not in response.text, "dist/index.html must be the built one"
    assert "Book an appointment" in response.text
    assert response.headers["content-security-policy"] == PAGE_CSP
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/bookings/2026-12-01"])
def test_dashboard_routes_answer_the_dashboard_page(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 200
    assert "Provider dashboard" in response.text


def test_api_paths_are_not_shadowed(api: httpx.Client) -> None:
    assert api.get("/openapi.json").json()["info"]["title"] == "Booking"
    assert "swagger" in api.get("/docs").text.lower()
    assert api.get("/health").status_code == 200
    assert api.get("/metrics").headers["content-type"].startswith("text/plain")
    unknown = api.get("/no-such-path")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"
    # A POST to a page's path is the API's to refuse, not a page.
    assert api.post("/bookings").status_code in (404, 405)


def test_assets_are_served_immutable_and_a_missing_one_is_a_404(api: httpx.Client) -> None:
    html = api.get("/").text
    asset = html.split('src="', 1)[1].split('"', 1)[0]
    assert asset.startswith("/assets/")
    response = api.get(asset)
    assert response.status_code == 200
    assert "immutable" in response.headers["cache-control"]
    assert api.get("/assets/missing.js").status_code == 404
    assert api.get("/assets/../../pyproject.toml").status_code == 404


def test_pages_load_under_their_csp_without_errors(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.goto("/dashboard")
    expect(page.get_by_role("heading", name="Provider dashboard")).to_be_visible()
