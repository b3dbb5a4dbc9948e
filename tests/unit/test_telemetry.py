"""Telemetry's pure parts: settings, request ids, booking ids in workflow ids, log rendering."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
import structlog

from api.telemetry import request_id_from
from config import Settings
from telemetry.logs import booking_id_of, log_handler
from telemetry.temporal import metrics_address


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_logs_are_json_outside_development_unless_told_otherwise() -> None:
    production = {
        "environment": "production",
        "payment_gateway": "stripe",
        "stripe_api_key": "sk_live_x",
        "stripe_publishable_key": "pk_live_x",
        "jwt_secret": "a-long-random-production-jwt-secret",
        "payment_webhook_secret": "whsec_real",
        "payload_encryption_keys": "k1:" + base64.b64encode(b"p" * 32).decode(),
        "calendar_secret_keys": base64.urlsafe_b64encode(b"c" * 32).decode(),
        "metrics_token": "a-scraper-token",
    }
    assert _settings().log_format == "console"
    assert _settings(**production).log_format == "json"
    assert _settings(**production, log_format="console").log_format == "console"
    assert _settings(log_format="json").log_format == "json"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("req-42.abc", True),
        ("0f" * 32, True),  # 64 characters: the audit column's width
        ("0f" * 32 + "a", False),
        ("has space", False),
        ("-leading-dash", False),
        ("ünïcode", False),
        ("", False),
    ],
)
def test_a_clients_request_id_is_kept_only_when_short_and_plain(sent: str, kept: bool) -> None:
    scope = {"headers": [(b"x-request-id", sent.encode())]}
    chosen = request_id_from(scope)
    assert (chosen == sent) is kept
    if not kept:
        assert len(chosen) == 32 and int(chosen, 16) >= 0


def test_the_booking_id_is_read_only_from_a_booking_workflow_id() -> None:
    booking = uuid.uuid4()
    assert booking_id_of(f"booking-{booking}") == str(booking)
    assert booking_id_of(f"late-payment-{booking}") is None
    assert booking_id_of("booking-not-a-uuid") is None
    assert booking_id_of("calendar-sync-1") is None


def test_worker_metrics_address() -> None:
    assert metrics_address(_settings()) == "127.0.0.1:9464"
    assert metrics_address(_settings(worker_metrics_port=0)) is None
    assert metrics_address(_settings(worker_metrics_host="::", worker_metrics_port=9000)) == (
        "[::]:9000"
    )


@pytest.fixture
def json_logs() -> Iterator[logging.Logger]:
    logger = logging.getLogger(f"booking.test.{uuid.uuid4().hex}")
    logger.addHandler(log_handler("json"))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger
    logger.handlers.clear()


def test_a_stdlib_line_is_json_with_the_bound_context_and_temporal_details(
    json_logs: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    booking = uuid.uuid4()
    details = {"workflow_id": f"booking-{booking}", "workflow_type": "BookingWorkflow"}
    with structlog.contextvars.bound_contextvars(request_id="req-1"):
        json_logs.info("held %s", "the slot", extra={"temporal_workflow": details})
    try:
        raise ValueError("boom")
    except ValueError:
        json_logs.exception("failed")

    held, failed = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert held["event"] == "held the slot" and held["level"] == "info"
    assert held["logger"] == json_logs.name and held["timestamp"].endswith("Z")
    assert held["request_id"] == "req-1"
    assert held["workflow_id"] == f"booking-{booking}" and held["booking_id"] == str(booking)
    assert held["workflow_type"] == "BookingWorkflow"
    assert "request_id" not in failed
    assert "ValueError: boom" in failed["exception"]
