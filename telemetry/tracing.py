"""OpenTelemetry traces across the API, the workflows and the activities; off without endpoint."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.contrib.opentelemetry import TracingInterceptor

from config import Settings


def start_tracing(settings: Settings, service_name: str) -> bool:
    """Export spans over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT; False, and nothing set up,
    without one. A TracerProvider installed earlier (opentelemetry-instrument, a test) is kept."""
    endpoint = settings.otel_exporter_otlp_endpoint
    if endpoint is None:
        return False
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
        # The collector's base URL, as the OTEL_EXPORTER_OTLP_ENDPOINT convention has it.
        exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
    return True


def temporal_interceptors(settings: Settings) -> list[TracingInterceptor]:
    """The client's interceptors: workflow and activity spans joined to their caller's trace.

    Given to the client, they reach the workers built on it as well."""
    return [TracingInterceptor()] if settings.otel_exporter_otlp_endpoint else []
