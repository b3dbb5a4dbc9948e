"""No personal data in workflow ids, search attributes, summaries, unencrypted history or logs:
a whole booking, made, paid, moved and cancelled by someone with a distinctive name, email
and phone, leaves none of them there."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import httpx
import pytest

from tests.factories import future_local, make_provider
from tests.integration.api_helpers import PASSWORD, book
from tests.temporal_fixtures import Saga
from workflows.client import workflow_id


async def test_a_booking_leaves_no_personal_data_in_temporal_or_the_logs(
    api: httpx.AsyncClient, saga: Saga, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    email = f"quintessa-{uuid.uuid4().hex[:8]}@example.org"
    name = f"Quintessa Marlowe-Vantongeren {uuid.uuid4().hex[:4]}"
    phone = "+442079460958"
    personal = (email, name, phone, email.split("@")[0], "Vantongeren")
    provider = await make_provider(saga.db)
    registered = await api.post(
        "/auth/register",
        json={"email": email, "password": PASSWORD, "full_name": name, "phone": phone},
    )
    assert registered.status_code == 201, registered.text
    login = await api.post("/auth/login", data={"username": email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await api.patch("/users/me", json={"sms_opt_in": True}, headers=headers)).is_success
    wrong = await api.post("/auth/login", data={"username": email, "password": "not it"})
    assert wrong.status_code in (401, 429)

    start = future_local(provider.timezone, days_ahead=6)
    booked = await book(api, headers, provider.service_id, start)
    paid = await api.post(
        f"/sandbox/payments/{booked['payment']['intent_id']}/succeed", headers=headers
    )
    assert paid.json()["booking"]["status"] == "confirmed", paid.text
    moved = await api.post(
        f"/appointments/{booked['id']}/reschedule",
        json={"start": (start + timedelta(days=1)).isoformat()},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    cancelled = await api.put(
        f"/appointments/{booked['id']}/cancel", json={"reason": "changed plans"}, headers=headers
    )
    assert cancelled.status_code in (200, 202), cancelled.text
    handle = saga.client.get_workflow_handle(workflow_id(booked["id"]))
    await handle.result()

    described = await handle.describe()
    attributes = {pair.key.name: pair.value for pair in described.typed_search_attributes}
    assert attributes["ProviderId"] == str(provider.provider_id)  # the check sees them
    history = (await handle.fetch_history()).to_json()
    exported = (await api.get("/users/me/export", headers=headers)).json()
    assert exported["messages"], "the booking told its customer"
    traces = {
        "workflow id": described.id,
        "search attributes": repr(attributes),
        "summary": f"{described.static_summary} {described.static_details}",
        "history (payloads encrypted)": history,
        "logs": caplog.text + "".join(r.getMessage() for r in caplog.records),
    }
    leaks = {
        where: [p for p in personal if p.lower() in text.lower()] for where, text in traces.items()
    }
    assert {where: found for where, found in leaks.items() if found} == {}
