"""The API's telemetry: request ids in answers and JSON log lines, /metrics, and request traces."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import SecretStr
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.booking import BookingActivities
from api.errors import APIError
from api.main import create_app
from config import Settings
from tests.factories import future_local, make_provider
from tests.integration.api_helpers import sign_up
from tests.temporal_fixtures import Saga
from workflows.booking import BookingWorkflow


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


def app_settings(settings: Settings, saga: Saga, **overrides: Any) -> Settings:
    return settings.model_copy(
        update={
            "temporal_address": saga.client.service_client.config.target_host,
            "temporal_task_queue": saga.task_queue,
            "log_format": "json",
            **overrides,
        }
    )


def json_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 when it is absent)."""
    for line in metrics.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{key}="{value}"' in match[1] for key, value in labels.items()):
            return float(match[2])
    return 0.0


async def test_a_request_id_is_echoed_and_on_every_log_line_of_its_request(
    saga: Saga, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with served(create_app(app_settings(settings, saga))) as api:
        capsys.readouterr()
        kept = await api.get("/health", headers={"X-Request-ID": "req-42.abc"})
        replaced = await api.get("/health", headers={"X-Request-ID": "no spaces or\tcontrols"})
        missing = await api.get(f"/appointments/{uuid.uuid4()}")
        lines = json_lines(capsys.readouterr().err)

    assert kept.headers["X-Request-ID"] == "req-42.abc"
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", missing.headers["X-Request-ID"])
    requests = {line["request_id"]: line for line in lines if line["event"] == "request"}
    health = requests["req-42.abc"]
    assert (health["method"], health["route"], health["status"]) == ("GET", "/health", 200)
    assert {"timestamp", "level", "logger", "duration_ms"} <= set(health)
    assert requests[missing.headers["X-Request-ID"]]["route"] == "/appointments/{appointment_id}"
    assert "Authorization" not in capsys.readouterr().err


async def test_metrics_count_requests_by_route_template_and_status(
    saga: Saga, settings: Settings
) -> None:
    app = create_app(app_settings(settings, saga))

    @app.get("/test-too-many", include_in_schema=False)
    async def too_many() -> None:
        raise APIError(429, "too_many_requests", "slow down", {"Retry-After": "1"})

    async with served(app) as api:
        for _ in range(2):
            assert (await api.get(f"/appointments/{uuid.uuid4()}")).status_code == 401
        assert (await api.get("/test-too-many")).status_code == 429
        assert (await api.get("/no/such/path")).status_code == 404
        scraped = await api.get("/metrics")

    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    metrics = scraped.text
    route = "/appointments/{appointment_id}"
    assert sample(metrics, "http_requests_total", route=route, status="401") == 2
    assert sample(metrics, "http_request_duration_seconds_count", route=route) == 2
    assert sample(metrics, "http_rate_limited_total", route="/test-too-many") == 1
    assert sample(metrics, "http_requests_total", route="unmatched", status="404") == 1
    assert "/no/such/path" not in metrics and "{appointment_id}" in metrics
    assert "/metrics" not in app.openapi()["paths"]


async def test_metrics_can_require_a_bearer_token_or_be_off(saga: Saga, settings: Settings) -> None:
    guarded = create_app(app_settings(settings, saga, metrics_token=SecretStr("scrape-secret")))
    async with served(guarded) as api:
        assert (await api.get("/metrics")).status_code == 401
        for wrong in ("Bearer nope", "Bearer scrape-secrét", "scrape-secret"):
            answer = await api.get("/metrics", headers={"Authorization": wrong.encode()})
            assert answer.status_code == 401, wrong
        right = await api.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert right.status_code == 200

    async with served(create_app(app_settings(settings, saga, api_metrics=False))) as api:
        assert (await api.get("/metrics")).status_code == 404


async def test_booking_requests_are_counted_by_outcome(saga: Saga, settings: Settings) -> None:
    provider = await make_provider(saga.db)
    start = future_local(provider.timezone).isoformat()
    body = {"service_id": str(provider.service_id), "start": start}
    async with served(create_app(app_settings(settings, saga))) as api:
        first, second = await sign_up(api), await sign_up(api)
        assert (await api.post("/appointments", json=body, headers=first)).status_code == 201
        taken = await api.post("/appointments", json=body, headers=second)
        assert taken.status_code == 409 and taken.json()["code"] == "slot_unavailable"
        metrics = (await api.get("/metrics")).text

    assert sample(metrics, "booking_requests_total", action="book", outcome="ok") == 1
    assert sample(metrics, "booking_requests_total", action="book", outcome="slot_unavailable") == 1


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans kept in memory while the test runs: the global TracerProvider, once set, stays."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # keeps no more spans


async def test_a_booking_is_one_trace_from_the_api_through_the_workflow_to_its_activities(
    time_skipping_env: WorkflowEnvironment,
    saga: Saga,
    settings: Settings,
    spans: InMemorySpanExporter,
) -> None:
    task_queue = f"traced-{uuid.uuid4()}"
    traced = app_settings(
        settings,
        saga,
        temporal_task_queue=task_queue,
        # Any endpoint turns tracing on; the provider above keeps the spans in memory.
        otel_exporter_otlp_endpoint="http://127.0.0.1:4318",
    )
    worker = Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[BookingWorkflow],
        activities=BookingActivities(saga.db, saga.payments).all(),
        interceptors=[TracingInterceptor()],
    )
    provider = await make_provider(saga.db)
    start = future_local(provider.timezone).isoformat()
    async with worker, served(create_app(traced)) as api:
        customer = await sign_up(api)
        booked = await api.post(
            "/appointments",
            json={"service_id": str(provider.service_id), "start": start},
            headers=customer,
        )
        assert booked.status_code == 201, booked.text

    finished: list[ReadableSpan] = list(spans.get_finished_spans())
    request = next(s for s in finished if s.name == "POST /appointments")
    assert request.kind == SpanKind.SERVER and request.parent is None
    assert request.context is not None and request.attributes is not None
    assert request.attributes["http.response.status_code"] == 201
    assert request.attributes["request_id"] == booked.headers["X-Request-ID"]
    trace_id = request.context.trace_id
    in_trace = {s.name for s in finished if s.context and s.context.trace_id == trace_id}
    assert {
        "StartUpdateWithStartWorkflow:BookingWorkflow",
        "RunWorkflow:BookingWorkflow",
        "RunActivity:hold_slot",
    } <= in_trace, in_trace
