"""Who may see and change which booking, and each account's own list of bookings."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx

from tests.integration.api_helpers import assert_error, provider_with_service, sign_up
from tests.temporal_fixtures import Saga

NEW_YORK = ZoneInfo("America/New_York")


def _weekday(days_ahead: int, hour: int) -> str:
    day = (datetime.now(NEW_YORK) + timedelta(days=days_ahead)).date()
    while day.weekday() > 4:
        day += timedelta(days=1)
    return datetime.combine(day, time(hour), NEW_YORK).isoformat()


async def _book(
    api: httpx.AsyncClient, customer: dict[str, str], service: str, start: str
) -> dict[str, object]:
    response = await api.post(
        "/appointments", json={"service_id": service, "start": start}, headers=customer
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_only_the_customer_the_provider_and_admins_see_a_booking(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider, _, service = await provider_with_service(api)
    other_provider, _, _ = await provider_with_service(api)
    owner, stranger = await sign_up(api), await sign_up(api)
    booking = await _book(api, owner, service, _weekday(7, 10))
    url = f"/appointments/{booking['id']}"

    assert (await api.get(url, headers=owner)).status_code == 200
    assert (await api.get(url, headers=provider)).status_code == 200
    for outsider in (stranger, other_provider):
        assert_error(await api.get(url, headers=outsider), 404, "appointment_not_found")
        assert_error(await api.put(f"{url}/cancel", headers=outsider), 404, "appointment_not_found")
    # Refused for the stranger, the booking is untouched.
    assert (await api.get(url, headers=owner)).json()["status"] == "awaiting_payment"
    # The customer may cancel but not approve their own booking.
    assert_error(await api.post(f"{url}/approve", headers=owner), 403, "provider_only")


async def test_each_account_lists_its_own_bookings(api: httpx.AsyncClient, saga: Saga) -> None:
    provider, _, service = await provider_with_service(api)
    first, second = await sign_up(api, full_name="Ana First"), await sign_up(api)
    a = await _book(api, first, service, _weekday(7, 10))
    b = await _book(api, first, service, _weekday(7, 13))
    c = await _book(api, second, service, _weekday(7, 15))
    await api.put(f"/appointments/{b['id']}/cancel", headers=first)

    mine = (await api.get("/users/me/appointments", headers=first)).json()
    assert [x["id"] for x in mine["data"]] == [a["id"], b["id"]] and mine["count"] == 2
    theirs = (await api.get("/users/me/appointments", headers=provider)).json()
    assert [x["id"] for x in theirs["data"]] == [a["id"], b["id"], c["id"]]
    # The provider sees who is coming; a customer's own list names nobody.
    first_me = (await api.get("/users/me", headers=first)).json()
    assert theirs["data"][0]["customer"] == {"name": "Ana First", "email": first_me["email"]}
    assert theirs["data"][2]["customer"]["name"] == "Pat Doe"
    assert all(x["customer"] is None for x in mine["data"])

    cancelled = (
        await api.get("/users/me/appointments", params={"status": "cancelled"}, headers=first)
    ).json()
    assert [x["id"] for x in cancelled["data"]] == [b["id"]]
    active = await api.get(
        "/users/me/appointments",
        params=[("status", "awaiting_payment"), ("status", "confirmed")],
        headers=provider,
    )
    assert [x["id"] for x in active.json()["data"]] == [a["id"], c["id"]]
    page = (
        await api.get("/users/me/appointments", params={"limit": 1, "offset": 1}, headers=provider)
    ).json()
    assert ([x["id"] for x in page["data"]], page["count"]) == ([b["id"]], 3)
    window = {"from": _weekday(7, 14), "to": _weekday(7, 16)}
    assert [
        x["id"]
        for x in (await api.get("/users/me/appointments", params=window, headers=provider)).json()[
            "data"
        ]
    ] == [c["id"]]
    tokyo = (
        await api.get("/users/me/appointments", params={"timezone": "Asia/Tokyo"}, headers=second)
    ).json()
    assert tokyo["data"][0]["start"].endswith("+09:00")

    assert_error(
        await api.get("/users/me/appointments", params={"status": "lost"}, headers=first),
        422,
        "validation_error",
    )
    assert_error(
        await api.get(
            "/users/me/appointments",
            params={"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"},
            headers=first,
        ),
        422,
        "invalid_range",
    )
    assert_error(
        await api.get(
            "/users/me/appointments", params={"from": "2030-01-02T00:00:00"}, headers=first
        ),
        422,
        "validation_error",
    )
    assert_error(
        await api.get("/users/me/appointments", params={"limit": 0}, headers=first),
        422,
        "validation_error",
    )
    assert_error(
        await api.get("/users/me/appointments", params={"timezone": "Moon/Base"}, headers=first),
        422,
        "invalid_timezone",
    )
    assert_error(await api.get("/users/me/appointments"), 401, "not_authenticated")


async def test_cancel_over_http_refunds_by_policy_and_is_idempotent(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    _, _, service = await provider_with_service(api)
    customer = await sign_up(api)
    booking = await _book(api, customer, service, _weekday(7, 10))
    paid = await api.post(
        f"/sandbox/payments/{booking['payment']['intent_id']}/succeed",  # type: ignore[index]
        headers=customer,
    )
    assert paid.status_code == 200
    url = f"/appointments/{booking['id']}"
    for _ in range(50):
        if (await api.get(url, headers=customer)).json()["status"] == "confirmed":
            break

    cancelled = await api.put(
        f"{url}/cancel", json={"reason": "double-booked myself"}, headers=customer
    )

    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled"
    assert (body["reason"], body["note"]) == ("cancelled by the customer", "double-booked myself")
    assert body["payment"]["status"] == "refunded"
    assert body["payment"]["client_secret"] is None
    # Cancelling again (a retry after a lost answer) is harmless: the booking as it is.
    again = await api.put(f"{url}/cancel", headers=customer)
    assert again.status_code == 200 and again.json()["status"] == "cancelled", again.text
    assert (await api.get(url, headers=customer)).json()["status"] == "cancelled"


async def test_a_provider_approves_or_declines_over_http(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    provider, _, service = await provider_with_service(
        api, auto_confirm=False, price={"amount": 0, "currency": "USD"}
    )
    customer = await sign_up(api)
    first = await _book(api, customer, service, _weekday(7, 10))
    second = await _book(api, customer, service, _weekday(7, 11))
    assert first["status"] == second["status"] == "awaiting_approval"

    approved = await api.post(f"/appointments/{first['id']}/approve", headers=provider)
    assert approved.status_code == 200 and approved.json()["status"] == "confirmed", approved.text
    declined = await api.post(
        f"/appointments/{second['id']}/decline", json={"reason": "away that day"}, headers=provider
    )
    assert declined.json()["status"] == "declined" and declined.json()["reason"] == "away that day"
    # The same decision again (a retry after a lost answer) is harmless: the booking as it is.
    for url, status in (
        (f"{first['id']}/approve", "confirmed"),
        (f"{second['id']}/decline", "declined"),
    ):
        again = await api.post(f"/appointments/{url}", headers=provider)
        assert again.status_code == 200 and again.json()["status"] == status, again.text
    # The other decision is refused.
    for url in (f"{first['id']}/decline", f"{second['id']}/approve"):
        assert_error(
            await api.post(f"/appointments/{url}", headers=provider), 409, "not_awaiting_approval"
        )


async def test_an_admin_sees_and_cancels_any_booking(api: httpx.AsyncClient, saga: Saga) -> None:
    import uuid

    from db.create_admin import create_admin

    _, _, service = await provider_with_service(api)
    customer = await sign_up(api)
    booking = await _book(api, customer, service, _weekday(7, 10))
    email, password = f"admin-{uuid.uuid4().hex[:8]}@example.com", "a very long admin password"
    await create_admin(saga.db, email, password)
    login = await api.post("/auth/login", data={"username": email, "password": password})
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}

    assert (await api.get(f"/appointments/{booking['id']}", headers=admin)).status_code == 200
    listed = (await api.get("/users/me/appointments", headers=admin)).json()
    assert booking["id"] in [x["id"] for x in listed["data"]] or listed["count"] > len(
        listed["data"]
    )
    cancelled = await api.put(f"/appointments/{booking['id']}/cancel", headers=admin)
    assert cancelled.json()["reason"] == "cancelled by the admin"
    # Registration never hands out the role.
    refused = await api.post(
        "/auth/register",
        json={
            "email": "x@example.com",
            "password": "long enough!",
            "full_name": "X",
            "role": "admin",
        },
    )
    assert_error(refused, 422, "validation_error")
