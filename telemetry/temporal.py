"""The worker's telemetry: the Temporal SDK's metrics on a port of its own, activity log context."""

from __future__ import annotations

import logging
from typing import Any

import structlog
from temporalio import activity
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from config import Settings
from telemetry.logs import booking_id_of

log = logging.getLogger("booking.telemetry")

# Core's own lines (WARN and up) through Python logging, so they come out as JSON too.
_CORE_LOGS = LoggingConfig(
    filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
    forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
)


def metrics_address(settings: Settings) -> str | None:
    """Where the worker serves its metrics (host:port), None when WORKER_METRICS_PORT is 0."""
    if not settings.worker_metrics_port:
        return None
    host = settings.worker_metrics_host
    host = f"[{host}]" if ":" in host else host  # IPv6
    return f"{host}:{settings.worker_metrics_port}"


def worker_runtime(settings: Settings) -> Runtime:
    """A Runtime serving the SDK's metrics (and the workflows' own) at http://ADDRESS/metrics.

    A port already taken (another worker on this host) leaves this worker without metrics, with
    an error line saying so: a worker that cannot be watched still takes bookings."""
    address = metrics_address(settings)
    if address is not None:
        try:
            runtime = Runtime(
                telemetry=TelemetryConfig(
                    logging=_CORE_LOGS, metrics=PrometheusConfig(bind_address=address)
                )
            )
        except ValueError as err:
            log.error(
                "worker metrics are off: cannot serve them on %s (%s); give each worker on a "
                "host its own WORKER_METRICS_PORT, or 0 for none",
                address,
                err,
            )
        else:
            log.info("worker metrics at http://%s/metrics", address)
            return runtime
    return Runtime(telemetry=TelemetryConfig(logging=_CORE_LOGS))


class ActivityLogContext(Interceptor):
    """Every line an activity logs names its workflow_id, booking_id and activity_type."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindActivityContext(next)


class _BindActivityContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        context = {"workflow_id": info.workflow_id, "activity_type": info.activity_type}
        booking_id = booking_id_of(info.workflow_id or "")
        if booking_id is not None:
            context["booking_id"] = booking_id
        with structlog.contextvars.bound_contextvars(**context):
            return await self.next.execute_activity(input)
