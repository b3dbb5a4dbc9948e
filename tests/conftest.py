"""Fixtures shared by every tier: the database backends, Settings, a migrated Database."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from config import Settings
from db.engine import Database
from db.migrate import upgrade_to_head


def postgres_url() -> str | None:
    """The PostgreSQL server the database tests run on (CI sets DATABASE_URL), if any."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else None


pytest_plugins = ["tests.temporal_fixtures"]

BACKENDS = ["sqlite"] + (["postgresql"] if postgres_url() else [])


def pytest_report_header() -> str:
    return f"database backends: {', '.join(BACKENDS)}"


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the PostgreSQL server, dropped afterwards."""
    admin_url = postgres_url()
    assert admin_url is not None
    name = f"booking_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def fresh_postgres() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/app.db"
    url: str = request.getfixturevalue("fresh_postgres")
    return url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests last: Playwright's sync API keeps an event loop running in this thread
    while its browser is open (a session fixture), and the async tests need to start their own."""
    browser_tests = Path(__file__).parent / "browser"
    items.sort(key=lambda item: item.path.is_relative_to(browser_tests))


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for tests; rate limits off (the tests make many requests from one address),
    except where a test turns them on (tests/integration/test_limits.py). Reminders are
    prepared at their instant: a prepared one waits in its activity in real time, which the
    time-skipping server does not skip (tests/workflows/test_reminders.py prepares them)."""
    defaults = {"rate_limits_enabled": False, "reminder_prepare_seconds": 0}
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="development",
        database_url=database_url,
        **(defaults | overrides),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    settings = make_settings(database_url)
    upgrade_to_head(settings)
    return settings


@pytest.fixture(scope="session")
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database.from_settings(settings)
    yield database
    await database.dispose()
