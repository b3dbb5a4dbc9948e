"""The booking page and the provider dashboard: the built `web/dist`, served from this origin.

Only GET and HEAD of the pages' own paths are answered here; everything else goes on to the
API, so no API route, /docs, /openapi.json or /metrics can be shadowed."""

from __future__ import annotations

from pathlib import Path

import structlog
from starlette.responses import FileResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from config import Settings

WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
# Client-side routes of the booking page; /dashboard and below are the dashboard's page.
BOOKING_ROUTES = ("/book", "/bookings")
DASHBOARD_ROUTE = "/dashboard"
ASSETS = "/assets/"
# The pages load only their own files and talk only to this origin.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Stripe's Payment Element: its scripts and frames (js.stripe.com and its subdomains), its API.
STRIPE_CSP = (
    "default-src 'none'; script-src 'self' https://js.stripe.com https://*.js.stripe.com; "
    "style-src 'self'; img-src 'self' data: https://*.stripe.com; font-src 'self'; "
    "connect-src 'self' https://api.stripe.com; "
    "frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com; "
    "manifest-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Hashed file names never change content; the pages must be asked for again.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

log = structlog.stdlib.get_logger("booking.api.web")


def _under(path: str, route: str) -> bool:
    return path == route or path.startswith(f"{route}/")


class WebPages:
    """Answers the pages' paths from `dist`; passes every other request to the API."""

    def __init__(self, app: ASGIApp, dist: Path, csp: str) -> None:
        self._app = app
        self._assets = (dist / "assets").resolve()
        self._booking = dist / "index.html"
        dashboard = dist / "dashboard" / "index.html"
        self._dashboard = dashboard if dashboard.is_file() else self._booking
        # favicon.svg and the like: the top-level files of the build, pages aside.
        self._top_files = {
            f"/{file.name}": file
            for file in dist.iterdir()
            if file.is_file() and file.suffix != ".html"
        }
        self._headers = {"content-security-policy": csp}

    def _file_for(self, path: str) -> tuple[Path, str] | None:
        if path.startswith(ASSETS):
            file = (self._assets / path.removeprefix(ASSETS)).resolve()
            if file.is_relative_to(self._assets) and file.is_file():
                return file, IMMUTABLE
            return None
        if path in self._top_files:
            return self._top_files[path], REVALIDATE
        if _under(path, DASHBOARD_ROUTE):
            return self._dashboard, REVALIDATE
        if path == "/" or any(_under(path, route) for route in BOOKING_ROUTES):
            return self._booking, REVALIDATE
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = None
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            found = self._file_for(scope["path"])
        if found is None:
            await self._app(scope, receive, send)
            return
        file, cache = found
        headers = {**self._headers, "cache-control": cache}
        await FileResponse(file, headers=headers)(scope, receive, send)


def page_csp(settings: Settings) -> str:
    return STRIPE_CSP if settings.payment_gateway == "stripe" else PAGE_CSP


def web_dist_ready(dist: Path = WEB_DIST) -> bool:
    """Whether the pages are built; the API starts either way and says so."""
    if (dist / "index.html").is_file():
        log.info("serving the booking page and dashboard", dist=str(dist))
        return True
    log.warning(
        "web/dist is missing: the booking page is not served (build it with `make web`)",
        dist=str(dist),
    )
    return False
