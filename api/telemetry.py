"""A request id, metrics and an access line for every request; GET /metrics for Prometheus."""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config import Settings
from db.audit import request_id_var
from telemetry.tracing import start_tracing

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept when it is short and plain (it lands in logs and the audit table).
_WELL_FORMED_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# Requests that match no route share one label, so stray paths cannot grow the metrics.
UNMATCHED = "unmatched"
# The routes whose answers are a booking's outcome, by (method, route template).
BOOKING_ACTIONS = {
    ("POST", "/appointments"): "book",
    ("PUT", "/appointments/{appointment_id}/cancel"): "cancel",
    ("POST", "/appointments/{appointment_id}/reschedule"): "reschedule",
    ("POST", "/appointments/{appointment_id}/approve"): "approve",
    ("POST", "/appointments/{appointment_id}/decline"): "decline",
}
# Scrapes would fill the request log; they are still counted.
_UNLOGGED_ROUTES = frozenset({"/metrics"})
# FastAPI's own OpenTelemetry: request and operation spans once tracing is on. Its metrics would
# duplicate ours; its exception records carry input values, and exporters are start_tracing's.
FASTAPI_TELEMETRY: TelemetryConfig = {"metrics": False, "logs": False, "auto_configure": False}

log = structlog.stdlib.get_logger("booking.api.requests")


class ApiMetrics:
    """The API's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "http_rate_limited",
            "Requests refused with 429 Too Many Requests, by route template",
            ["route"],
            registry=self.registry,
        )
        self.booking_requests = Counter(
            "booking_requests",
            "Booking requests (book, cancel, reschedule, approve, decline) by their outcome: "
            "ok, or the error's code",
            ["action", "outcome"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def request_id_from(scope: Scope) -> str:
    """The client's X-Request-ID when it is well formed, else a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _WELL_FORMED_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def _error_code(body: bytes) -> str | None:
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) else None


class RequestTelemetry:
    """Pure ASGI: a request id for every request (echoed in X-Request-ID, bound to the log lines,
    the audit rows and the span of the request), its metrics and its access line."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics | None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        method: str = scope["method"]
        status = 500
        outcome: str | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, outcome
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            elif outcome is None and (method, _route_of(scope)) in BOOKING_ACTIONS:
                # An error's stable code, from its small JSON body (read, never logged).
                ok = status < 400
                outcome = "ok" if ok else _error_code(message.get("body", b"")) or str(status)
            await send(message)

        started = time.perf_counter()
        token = request_id_var.set(request_id)
        trace.get_current_span().set_attribute("request_id", request_id)  # FastAPI's span
        try:
            with structlog.contextvars.bound_contextvars(request_id=request_id):
                try:
                    await self.app(scope, receive, send_with_id)
                finally:
                    elapsed = time.perf_counter() - started
                    self._finish(scope, status, elapsed, outcome)
        finally:
            structlog.contextvars.unbind_contextvars("booking_id")
            request_id_var.reset(token)

    def _finish(self, scope: Scope, status: int, elapsed: float, outcome: str | None) -> None:
        method: str = scope["method"]
        route = _route_of(scope)
        if route not in _UNLOGGED_ROUTES:
            booking_id = _booking_id(scope.get("path_params", {}))
            log.info(
                "request",
                method=method,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 1),
                **({"booking_id": booking_id} if booking_id else {}),
            )
        if self.metrics is None:
            return
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(method, route).observe(elapsed)
        if status == 429:
            self.metrics.rate_limited.labels(route).inc()
        action = BOOKING_ACTIONS.get((method, route))
        if action is not None:
            self.metrics.booking_requests.labels(action, outcome or str(status)).inc()


def _booking_id(path_params: dict[str, Any]) -> str | None:
    """The booking a route's appointment id names, if it is one (never the raw input)."""
    raw = path_params.get("appointment_id")
    if raw is None:
        return None
    try:
        return str(uuid.UUID(str(raw)))
    except ValueError:
        return None


async def bind_booking_id(request: Request) -> None:
    """An app-wide dependency: the lines a route with an appointment id logs name the booking."""
    booking_id = _booking_id(request.path_params)
    if booking_id is not None:
        structlog.contextvars.bind_contextvars(booking_id=booking_id)


def install_telemetry(app: FastAPI, settings: Settings) -> None:
    """GET /metrics (unless API_METRICS is off), traces when configured, and the request
    middleware. Call it last: the outermost middleware sees every answer, 413s too."""
    start_tracing(settings, "booking-api")
    metrics = ApiMetrics() if settings.api_metrics else None
    if metrics is not None:
        app.add_api_route("/metrics", _metrics_endpoint(metrics, settings), include_in_schema=False)
    app.add_middleware(RequestTelemetry, metrics=metrics)


def _metrics_endpoint(
    metrics: ApiMetrics, settings: Settings
) -> Callable[[Request], Awaitable[Response]]:
    token = settings.metrics_token
    expected = f"Bearer {token.get_secret_value()}".encode() if token else None

    async def prometheus_metrics(request: Request) -> Response:
        """The API's metrics in Prometheus' text format."""
        given = request.headers.get("authorization", "").encode()
        if expected is not None and not secrets.compare_digest(given, expected):
            return JSONResponse(
                {"code": "not_authenticated", "detail": "metrics need the metrics bearer token"},
                401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return prometheus_metrics
