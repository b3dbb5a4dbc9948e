"""Schemathesis over the whole OpenAPI schema of the real app: no answer is a 5xx, except a 503
that says when to retry."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode

from tests.integration.api_helpers import provider_with_service, sign_up
from tests.temporal_fixtures import Saga

EXAMPLES_PER_OPERATION = 12


def _generate(spec: dict[str, Any], known: dict[str, str]) -> list[tuple[str, Case]]:
    """Cases for every operation, valid and invalid; half of them name the real provider and
    service, so requests get past the 404s into the handlers."""
    schema = schemathesis.openapi.from_dict(spec)
    cases: list[tuple[str, Case]] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        queries = {p.name for p in operation.query}
        real_path = {name: value for name, value in known.items() if name in names}
        real_query = {name: value for name, value in known.items() if name in queries}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = st.one_of(
                operation.as_strategy(generation_mode=mode),
                operation.as_strategy(
                    generation_mode=mode, path_parameters=real_path, query=real_query
                ),
            )

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def collect(case: Case) -> None:
                cases.append((case.operation.label, case))

            # An operation without inputs has no invalid request to make.
            with contextlib.suppress(Unsatisfiable):
                collect()
    return cases


def _request(case: Case, headers: dict[str, str]) -> dict[str, Any]:
    """The case as httpx.AsyncClient.request arguments (schemathesis serializes for requests)."""
    sent = case.as_transport_kwargs(base_url="http://api.test", headers=headers)
    request: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "headers": sent.get("headers") or {},
        "params": sent.get("params") or None,
        "cookies": sent.get("cookies") or None,
    }
    if "json" in sent:
        request["json"] = sent["json"]
    data = sent.get("data")
    if isinstance(data, bytes | str):
        request["content"] = data
    elif data is not None:
        request["data"] = data
    if sent.get("files"):
        request["files"] = sent["files"]
    return request


async def test_no_request_gets_a_server_error(api: httpx.AsyncClient, saga: Saga) -> None:
    customer = await sign_up(api)
    provider_headers, provider, service = await provider_with_service(api)
    known = {"provider_id": provider, "service_id": service}
    spec = (await api.get("/openapi.json")).json()
    cases = await asyncio.to_thread(_generate, spec, known)
    operations = {name for name, _ in cases}
    assert len(operations) >= 20, sorted(operations)

    server_errors: list[str] = []
    for name, case in cases:
        # A provider's own settings need a provider; everything else is asked as a customer.
        headers = provider_headers if case.path.startswith("/providers/me") else customer
        response = await api.request(**_request(case, headers))
        if response.status_code < 500:
            continue
        if response.status_code == 503 and "Retry-After" in response.headers:
            continue
        server_errors.append(
            f"{name} -> {response.status_code} {response.text[:200]}\n"
            f"  {case.as_curl_command(headers=headers)}"
        )
    assert not server_errors, "\n".join(server_errors)
