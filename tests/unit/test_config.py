from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from config import DEV_CALENDAR_SECRET_KEY, DEV_JWT_SECRET, DEV_WEBHOOK_SECRET, Settings


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about defaults and validation, not about the machine's environment."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_development_runs_on_the_shipped_defaults() -> None:
    settings = _settings()
    assert settings.is_sqlite
    assert settings.async_database_url == "sqlite+aiosqlite:///.data/app.db"
    assert settings.payment_timeout_seconds == 15 * 60


@pytest.mark.parametrize(
    ("url", "async_url", "sync_url"),
    [
        (
            "postgresql://u@h:5432/db",
            "postgresql+psycopg://u@h:5432/db",
            "postgresql+psycopg://u@h:5432/db",
        ),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db", "sqlite+pysqlite:////tmp/x.db"),
    ],
)
def test_one_database_url_serves_the_app_and_alembic(
    url: str, async_url: str, sync_url: str
) -> None:
    settings = _settings(database_url=url)
    assert (settings.async_database_url, settings.sync_database_url) == (async_url, sync_url)


@pytest.mark.parametrize(
    "secrets",
    [
        {},
        {"jwt_secret": "real-secret-value-xyz"},
        {"payment_webhook_secret": "whsec_real"},
        {"payment_webhook_secret": DEV_WEBHOOK_SECRET, "jwt_secret": "real-secret-value-xyz"},
        {"payment_webhook_secret": "whsec_real", "jwt_secret": DEV_JWT_SECRET},
    ],
)
def test_production_refuses_placeholder_secrets(secrets: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="must be set to a real secret"):
        _settings(environment="production", **secrets)


REAL = {
    "payment_webhook_secret": "whsec_real",
    "jwt_secret": "real-secret-value-xyz",
    "payment_gateway": "stripe",
    "stripe_api_key": "sk_live_real",
    "stripe_publishable_key": "pk_live_real",
    "payload_encryption_keys": "k1:" + base64.b64encode(b"k" * 32).decode(),
    "calendar_secret_keys": base64.urlsafe_b64encode(b"c" * 32).decode(),
    "metrics_token": "a-scraper-token",
}


def test_production_with_real_secrets_is_accepted() -> None:
    settings = _settings(environment="production", **REAL)
    assert settings.environment == "production"


def test_production_with_stripe_needs_the_key_the_page_pays_with() -> None:
    unpayable = {k: v for k, v in REAL.items() if k != "stripe_publishable_key"}
    with pytest.raises(ValidationError, match="STRIPE_PUBLISHABLE_KEY"):
        _settings(environment="production", **unpayable)


def test_production_refuses_the_sandbox_gateway() -> None:
    """The sandbox takes no money and its checkout pays by curl: never outside development."""
    with pytest.raises(ValidationError, match="PAYMENT_GATEWAY=sandbox"):
        _settings(environment="production", **{**REAL, "payment_gateway": "sandbox"})


def test_production_keeps_metrics_behind_a_token() -> None:
    """Counts by route and status are for the operator's scraper, not for anyone who asks."""
    untokened = {k: v for k, v in REAL.items() if k != "metrics_token"}
    with pytest.raises(ValidationError, match="METRICS_TOKEN is required"):
        _settings(environment="production", **untokened)
    assert _settings(environment="production", api_metrics=False, **untokened)


@pytest.mark.parametrize("key", ["sk_live_secret", "rk_live_restricted", "whsec_x", ""])
def test_a_secret_is_never_taken_for_the_publishable_stripe_key(key: str) -> None:
    """Every visitor of the booking page reads STRIPE_PUBLISHABLE_KEY."""
    with pytest.raises(ValidationError, match="STRIPE_PUBLISHABLE_KEY must be a publishable"):
        _settings(stripe_publishable_key=key)
    assert _settings(stripe_publishable_key="pk_live_abc").stripe_publishable_key == "pk_live_abc"


def test_an_unknown_database_is_refused() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        _settings(database_url="mysql://root@localhost/db")


def test_production_refuses_the_development_calendar_key() -> None:
    """Calendar grants sealed with a key published in the repository are not sealed at all."""
    rotated = f"{REAL['calendar_secret_keys']},{DEV_CALENDAR_SECRET_KEY}"
    with pytest.raises(ValidationError, match="CALENDAR_SECRET_KEYS must not contain"):
        _settings(environment="production", **{**REAL, "calendar_secret_keys": rotated})


@pytest.mark.parametrize("keys", ["", "not-a-key", f"{DEV_CALENDAR_SECRET_KEY},short"])
def test_calendar_keys_must_be_fernet_keys(keys: str) -> None:
    with pytest.raises(ValidationError, match="CALENDAR_SECRET_KEYS"):
        _settings(calendar_secret_keys=keys)
