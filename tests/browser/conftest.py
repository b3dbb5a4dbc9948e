"""The stack serving web/dist, Debian's Chromium through Playwright, screenshots and axe-core.

One stack for the session (Temporal dev server, worker, API on a loopback port) on one
database: PostgreSQL when DATABASE_URL names one (as in CI), else SQLite. Each test makes its
own provider and customer, so tests never share a slot."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from config import Settings
from db.migrate import upgrade_to_head
from tests.conftest import fresh_postgres_database, make_settings, postgres_url
from tests.e2e.conftest import Stack, running_stack

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / ".artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Long enough for a booking round trip through Temporal on a loaded two-core machine.
TIMEOUT_MS = 20_000
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


class NewContext(Protocol):
    def __call__(
        self, *, timezone: str = ..., viewport: dict[str, int] | None = ...
    ) -> BrowserContext: ...


class Screenshot(Protocol):
    def __call__(self, page: Page, name: str) -> Path: ...


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail("web/dist is not built: run `make web` (make test builds it first)")
    if postgres_url():
        with fresh_postgres_database() as url:
            settings = make_settings(url)
            upgrade_to_head(settings)
            yield settings
        return
    settings = make_settings(f"sqlite:///{tmp_path_factory.mktemp('browser-db')}/app.db")
    upgrade_to_head(settings)
    yield settings


@pytest.fixture(scope="session")
def web_stack(
    browser_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with running_stack(browser_settings, tmp_path_factory.mktemp("browser-stack")) as stack:
        yield stack


@pytest.fixture(scope="session")
def base_url(web_stack: Stack) -> str:
    return web_stack.base_url


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class PageErrors:
    """Console errors, uncaught exceptions and CSP violations a page had: each fails its test."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        # A refusal the page asked for and then showed as a sentence is not a page error.
        self.allowed: list[re.Pattern[str]] = [re.compile(r"Failed to load resource")]

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.seen.append(f"uncaught: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not any(p.search(message.text) for p in self.allowed):
            self.seen.append(f"console: {message.text}")


@pytest.fixture
def page_errors() -> Iterator[PageErrors]:
    errors = PageErrors()
    yield errors
    assert not errors.seen, "the page logged errors:\n" + "\n".join(errors.seen)


@pytest.fixture
def new_context(browser: Browser, base_url: str, page_errors: PageErrors) -> Iterator[NewContext]:
    contexts: list[BrowserContext] = []

    def make(
        *, timezone: str = "Europe/Berlin", viewport: dict[str, int] | None = None
    ) -> BrowserContext:
        context = browser.new_context(
            base_url=base_url,
            timezone_id=timezone,
            locale="en-US",
            viewport=viewport or DESKTOP,  # type: ignore[arg-type]
            accept_downloads=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.on("page", page_errors.watch)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: NewContext) -> Page:
    return new_context().new_page()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Screenshot:
    """Saves a full-page screenshot under .artifacts/screenshots/<test>-<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)

    def take(page: Page, name: str) -> Path:
        path = ARTIFACTS / f"{test}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


# axe-core's impacts that fail a page.
BLOCKING_IMPACTS = ("serious", "critical")


def assert_accessible(page: Page, where: str) -> None:
    """axe-core (web/node_modules, not a CDN) on the page as it is: no serious or critical
    violation. Evaluated through the DevTools protocol, so the page's CSP stays as served."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
            }));
        }"""
    )
    blocking = [v for v in result if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"axe-core on {where}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in blocking
    )


def assert_no_horizontal_scroll(page: Page, where: str) -> None:
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, view: window.innerWidth})"
    )
    assert widths["scroll"] <= widths["view"], f"{where} scrolls sideways: {widths}"
