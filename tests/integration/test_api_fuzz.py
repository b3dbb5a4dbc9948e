"""Schemathesis over the whole OpenAPI schema of the real app, as a customer, a provider and an
admin: no answer is a 5xx (except a 503 that says when to retry), and every answer is one the
schema documents: its status code, content type, headers and body."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.api_cast import (
    CONFIGURED,
    ERASES_THE_CALLER,
    Cast,
    api_with,
    make_cast,
)
from tests.temporal_fixtures import Saga

# Per operation and generation mode (valid, invalid); every case is sent once per role.
EXAMPLES_PER_OPERATION = 15
MIN_CASES = 1000
ROLES = ("customer", "provider", "admin")
CONFORMANCE = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _generate(spec: dict[str, Any], known: dict[str, str]) -> tuple[set[str], list[Case]]:
    """Every operation's label, and cases for each, valid and invalid; half of them name the
    real booking, provider, service, message, payment and calendar connection, so requests get
    past the 404s into the handlers."""
    schema = schemathesis.openapi.from_dict(spec)
    labels: set[str] = set()
    cases: list[Case] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.add(operation.label)
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
                cases.append(case)

            # An operation without inputs has no invalid request to make.
            with contextlib.suppress(Unsatisfiable):
                collect()
    return labels, cases


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


def _nonconformance(case: Case, response: httpx.Response, headers: dict[str, str]) -> str | None:
    try:
        case.validate_response(response, checks=CONFORMANCE, headers=headers)
    except FailureGroup as failures:
        return "; ".join(sorted({f.title for f in failures.exceptions}))
    return None


async def _send_as_everyone(
    api: httpx.AsyncClient, cast: Cast, case: Case
) -> list[tuple[str, httpx.Response, dict[str, str]]]:
    answers = []
    for role in ROLES:
        erases = (case.method.upper(), case.operation.path) in ERASES_THE_CALLER
        headers = await cast.fresh(api, role) if erases else cast.callers[role]
        answers.append((role, await api.request(**_request(case, headers)), headers))
    return answers


async def test_every_answer_is_documented_and_none_is_a_server_error(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    async with api_with(api, **CONFIGURED) as client:
        cast = await make_cast(client)
        spec = (await client.get("/openapi.json")).json()
        labels, cases = await asyncio.to_thread(_generate, spec, cast.ids)
        assert len(cases) >= MIN_CASES, f"only {len(cases)} cases generated"
        never = labels - {case.operation.label for case in cases}
        assert not never, f"operations no case exercised: {sorted(never)}"

        server_errors: list[str] = []
        undocumented: Counter[str] = Counter()
        examples: dict[str, str] = {}
        statuses: Counter[int] = Counter()
        for case in cases:
            for role, response, headers in await _send_as_everyone(client, cast, case):
                statuses[response.status_code] += 1
                where = f"{case.operation.label} as {role} -> {response.status_code}"
                if response.status_code >= 500 and not (
                    response.status_code == 503 and "Retry-After" in response.headers
                ):
                    server_errors.append(
                        f"{where} {response.text[:200]}\n  {case.as_curl_command(headers=headers)}"
                    )
                problem = _nonconformance(case, response, headers)
                if problem is not None:
                    key = f"{case.operation.label} {response.status_code}: {problem}"
                    undocumented[key] += 1
                    examples.setdefault(key, response.text[:200])
    report = server_errors + [
        f"{key} (x{count}): {examples[key]}" for key, count in sorted(undocumented.items())
    ]
    assert not report, "\n".join(report)
    # The real ids and the three roles take many requests past validation and authorization.
    assert sum(n for status, n in statuses.items() if status < 400) > len(cases) // 4, statuses
