"""docker-compose.yml cannot run here (no Docker engine), so check what it promises instead."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import Settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "api", "worker")
# `${NAME:?message}` must be set, `${NAME:-default}` falls back: what compose would substitute.
_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::(?P<op>[?-])(?P<arg>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _interpolate(value: str, env: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if name in env:
            return env[name]
        if op == "-":
            return arg
        raise KeyError(f"compose requires ${name}: {arg}")

    return _VARIABLE.sub(substitute, value)


def test_the_topology_has_every_production_piece(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"temporal", "temporal-db", "temporal-ui", "app-db", *APP_SERVICES} <= set(services)
    assert services["temporal"]["environment"]["DB"].startswith("postgres")
    assert services["temporal"]["environment"]["POSTGRES_SEEDS"] == "temporal-db"
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert (
        services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    )
    assert services["worker"]["command"] == ["python", "-m", "worker"]
    assert services["migrate"]["command"] == ["python", "-m", "db.migrate"]
    assert "api.main:create_app" in services["api"]["command"]


def test_the_search_attributes_registered_are_the_ones_the_workflow_sets(
    compose: dict[str, Any],
) -> None:
    from workflows import search_attributes

    script = compose["services"]["temporal-search-attributes"]["command"][0]
    for key in search_attributes.ALL:
        assert f"{key.name}={key.indexed_value_type.name.title()}" in script


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_configure_exactly_what_settings_reads(
    compose: dict[str, Any], service: str
) -> None:
    environment: dict[str, str] = compose["services"][service]["environment"]
    known = {name.upper() for name in Settings.model_fields}
    assert set(environment) <= known, set(environment) - known

    # With the required secrets supplied, the same values make valid production Settings.
    secrets = {
        "APP_DB_PASSWORD": "s3cret-db",
        "PAYMENT_WEBHOOK_SECRET": "whsec_real_production_secret",
        "STRIPE_API_KEY": "sk_live_real",
        "STRIPE_PUBLISHABLE_KEY": "pk_live_real",
        "JWT_SECRET": "a-long-random-production-jwt-secret",
        "PAYLOAD_ENCRYPTION_KEYS": "2026:" + base64.b64encode(b"p" * 32).decode(),
        "CALENDAR_SECRET_KEYS": base64.urlsafe_b64encode(b"c" * 32).decode(),
        "METRICS_TOKEN": "a-long-random-metrics-token",
    }
    values = {key: _interpolate(str(value), secrets) for key, value in environment.items()}
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in values.items()})  # type: ignore[arg-type]
    assert settings.environment == "production"
    assert settings.database_url.startswith("postgresql://") and not settings.is_sqlite
    assert settings.temporal_address == "temporal:7233"

    # Without them compose refuses to start rather than run on placeholders.
    with pytest.raises(KeyError):
        for value in environment.values():
            _interpolate(str(value), {})


def test_prometheus_scrapes_the_api_and_every_worker(compose: dict[str, Any]) -> None:
    services = compose["services"]
    prometheus = services["prometheus"]
    image, _, tag = prometheus["image"].partition(":")
    assert image == "prom/prometheus" and tag and tag != "latest"
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in prometheus["volumes"]}
    config_path = mounted["/etc/prometheus/prometheus.yml"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((ROOT / config_path).read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}

    # The API: where uvicorn listens, with the token the API requires.
    api = services["api"]
    port = api["command"][api["command"].index("--port") + 1]
    assert jobs["api"]["static_configs"][0]["targets"] == [f"api:{port}"]
    assert jobs["api"]["metrics_path"] == "/metrics"
    assert api["environment"]["METRICS_TOKEN"].startswith("${METRICS_TOKEN:?")
    assert compose["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    assert "metrics_token" in prometheus["secrets"]
    assert jobs["api"]["authorization"]["credentials_file"] == "/run/secrets/metrics_token"

    # Every worker replica, on the port its Runtime serves, reachable from Prometheus.
    worker = services["worker"]["environment"]
    assert worker["WORKER_METRICS_HOST"] == "0.0.0.0"
    (discovery,) = jobs["worker"]["dns_sd_configs"]
    assert discovery["names"] == ["worker"] and discovery["type"] == "A"
    assert discovery["port"] == int(worker["WORKER_METRICS_PORT"])
