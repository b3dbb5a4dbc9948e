"""End to end: what Temporal stores is ciphertext, and the API's codec endpoint reads it back."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx

from db.engine import Database
from devstack.binaries import temporal_cli
from tests.e2e.conftest import Stack
from tests.factories import future_local, make_provider
from tests.integration.api_helpers import sign_up

ENCRYPTED = base64.b64encode(b"binary/encrypted").decode()


def _payloads(node: Any, parent: str = "") -> Iterator[dict[str, Any]]:
    """Every Payload of ours in the CLI's JSON.

    Not ours: search attributes, which Temporal indexes in clear, and the SDK's marker
    bookkeeping (a local activity's sequence number, a patch id).
    """
    if isinstance(node, dict):
        if isinstance(node.get("metadata"), dict) and "encoding" in node["metadata"]:
            yield node
            return
        for key, value in node.items():
            bookkeeping = parent == "details" and key in ("data", "patch-data")
            if key != "searchAttributes" and not bookkeeping:
                yield from _payloads(value, key)
    elif isinstance(node, list):
        for value in node:
            yield from _payloads(value, parent)


def _base64_forms(text: str) -> list[str]:
    """A string's base64 at each of the three alignments it can take inside a longer text."""
    return [base64.b64encode(f"{'x' * shift}{text}".encode()).decode()[4:20] for shift in range(3)]


async def _history_json(stack: Stack, workflow_id: str) -> str:
    shown = await asyncio.create_subprocess_exec(
        *[temporal_cli(), "workflow", "show", "--workflow-id", workflow_id],
        *["--address", stack.temporal_address, "--output", "json"],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(shown.communicate(), timeout=30)
    assert shown.returncode == 0, err.decode()
    return out.decode()


async def _history_with_the_payment(
    stack: Stack, workflow_id: str, client_secret: str, http: httpx.AsyncClient
) -> tuple[str, str]:
    """The raw history and its decoded payloads, once the payment intent is recorded."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        raw = await _history_json(stack, workflow_id)
        payloads = list(_payloads(json.loads(raw)))
        decoded = await http.post(
            "/codec/decode", json={"payloads": payloads}, headers={"X-Namespace": "default"}
        )
        assert decoded.status_code == 200, decoded.text
        plain = " ".join(
            base64.b64decode(p.get("data", "")).decode(errors="replace")
            for p in decoded.json()["payloads"]
        )
        if client_secret in plain or asyncio.get_running_loop().time() > deadline:
            return raw, plain
        await asyncio.sleep(0.3)


async def test_histories_hold_ciphertext_that_the_codec_endpoint_decodes(
    stack: Stack, http: httpx.AsyncClient, db: Database
) -> None:
    provider = await make_provider(db)
    customer = await sign_up(http)
    booked = await http.post(
        "/appointments",
        json={
            "service_id": str(provider.service_id),
            "start": future_local(provider.timezone).isoformat(),
        },
        headers=customer,
    )
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    client_secret = booking["payment"]["client_secret"]
    assert client_secret

    raw, plain = await _history_with_the_payment(
        stack, f"booking-{booking['id']}", client_secret, http
    )

    payloads = list(_payloads(json.loads(raw)))
    assert payloads and all(p["metadata"]["encoding"] == ENCRYPTED for p in payloads), payloads
    # The booking id is public in the workflow id, by design; every other mention is encrypted.
    outside_ids = raw.replace(f"booking-{booking['id']}", "")
    for private in (client_secret, booking["payment"]["intent_id"], booking["customer_id"]):
        for form in (private, *_base64_forms(private)):
            assert form not in outside_ids, private
    assert booking["id"] not in outside_ids
    assert not any(form in outside_ids for form in _base64_forms(booking["id"]))
    assert client_secret in plain
    assert booking["id"] in plain and booking["customer_id"] in plain
