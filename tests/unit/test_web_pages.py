"""api/web.py: the built pages from the API's origin, never in place of an API answer."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

import api.main
from api.web import PAGE_CSP, STRIPE_CSP, WebPages, page_csp, web_dist_ready
from tests.conftest import make_settings


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "dashboard").mkdir()
    (tmp_path / "index.html").write_text("booking page")
    (tmp_path / "dashboard" / "index.html").write_text("dashboard page")
    (tmp_path / "assets" / "app-1234.js").write_text("console.log(1)")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    (tmp_path.parent / "secret.txt").write_text("not served")
    return tmp_path


def _client(dist: Path) -> httpx.AsyncClient:
    async def api_answer(request: object) -> JSONResponse:
        return JSONResponse({"api": True})

    inner = Starlette(routes=[Route("/bookings-api", api_answer, methods=["GET", "POST"])])
    inner.add_route("/book-keeping", api_answer)
    app = WebPages(inner, dist, PAGE_CSP)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/", "booking page"),
        ("/book/abc", "booking page"),
        ("/bookings", "booking page"),
        ("/bookings/1/2", "booking page"),
        ("/dashboard", "dashboard page"),
        ("/dashboard/hours", "dashboard page"),
        ("/favicon.svg", "<svg/>"),
        ("/assets/app-1234.js", "console.log(1)"),
    ],
)
async def test_pages_and_assets_are_served(dist: Path, path: str, body: str) -> None:
    async with _client(dist) as client:
        response = await client.get(path)
    assert response.status_code == 200
    assert response.text == body
    assert response.headers["content-security-policy"] == PAGE_CSP


@pytest.mark.parametrize("path", ["/bookings-api", "/book-keeping"])
async def test_paths_that_only_share_a_prefix_reach_the_api(dist: Path, path: str) -> None:
    async with _client(dist) as client:
        assert (await client.get(path)).json() == {"api": True}


async def test_only_get_and_head_are_pages_and_missing_assets_are_the_apis(dist: Path) -> None:
    async with _client(dist) as client:
        assert (await client.post("/bookings")).status_code == 404
        assert (await client.head("/bookings")).status_code == 200
        assert (await client.get("/assets/nope.js")).status_code == 404
        assert (await client.get("/assets/%2e%2e/%2e%2e/secret.txt")).status_code == 404


def test_the_api_starts_without_a_build_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not web_dist_ready(tmp_path / "missing")
    monkeypatch.setattr(api.main, "WEB_DIST", tmp_path / "missing")
    app = api.main.create_app(make_settings(f"sqlite:///{tmp_path}/app.db"))
    assert all(m.cls is not WebPages for m in app.user_middleware)
    # On stdout or stderr, as whichever app the session configured logging for last chose.
    printed = capsys.readouterr()
    assert "web/dist is missing" in printed.out + printed.err


def test_stripe_pages_may_load_stripe_js(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/app.db")
    assert "js.stripe.com" not in page_csp(settings)
    stripe = settings.model_copy(update={"payment_gateway": "stripe"})
    assert page_csp(stripe) == STRIPE_CSP
    assert "script-src 'self' https://js.stripe.com" in STRIPE_CSP
