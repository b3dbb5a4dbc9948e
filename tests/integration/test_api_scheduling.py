"""Scheduling over HTTP: a provider set up through the API, slots across DST, rules at booking."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import pytest

from db import schedule
from db.models import ExternalBusyBlock
from tests.integration.api_helpers import assert_error, provider_with_service, sign_up
from tests.temporal_fixtures import Saga

NEW_YORK, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")


def _sundays(year: int, month: int) -> list[date]:
    first = date(year, month, 1)
    first_sunday = first + timedelta(days=(6 - first.weekday()) % 7)
    return [
        first_sunday + timedelta(weeks=w)
        for w in range(5)
        if (first_sunday + timedelta(weeks=w)).month == month
    ]


def next_march_changes() -> tuple[date, date]:
    """The next US (second Sunday) and EU (last Sunday) spring-forward dates, days away."""
    today = datetime.now(UTC).date()
    for year in (today.year, today.year + 1):
        us, eu = _sundays(year, 3)[1], _sundays(year, 3)[-1]
        if us - timedelta(days=5) > today:
            return us, eu
    raise AssertionError("unreachable")


async def _slots(
    api: httpx.AsyncClient, provider: str, service: str, **params: str
) -> list[datetime]:
    response = await api.get(
        f"/providers/{provider}/availability", params={"service_id": service, **params}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["slots"])
    return [datetime.fromisoformat(slot["start"]) for slot in body["slots"]]


def _new_york_hours(slots: list[datetime], day: date) -> list[int]:
    return sorted(
        s.astimezone(NEW_YORK).hour for s in slots if s.astimezone(NEW_YORK).date() == day
    )


async def test_a_berlin_customer_books_new_york_hours_across_the_march_changes(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    """The issue's acceptance scenario, on whichever database the run uses."""
    _, provider, service = await provider_with_service(api)
    customer = await sign_up(api)
    us_change, eu_change = next_march_changes()
    before, between, after = (
        us_change - timedelta(days=3),
        us_change + timedelta(days=2),
        eu_change + timedelta(days=1),
    )

    slots = await _slots(
        api, provider, service, **{"from": str(before), "to": str(after), "tz": "Europe/Berlin"}
    )

    # Working hours stay 09:00-12:00 and 13:00-17:00 in New York on every weekday, lunch free.
    for day in (before, between, after):
        assert _new_york_hours(slots, day) == [9, 10, 11, 13, 14, 15, 16], day
    # Shown in Berlin time, 14:00 New York moves: 20:00, then 19:00 while only the US has
    # changed, then 20:00 again once Europe has changed too.
    berlin_two_pm = {
        s.astimezone(NEW_YORK).date(): (s.hour, s.utcoffset())
        for s in slots
        if s.astimezone(NEW_YORK).hour == 14
    }
    assert berlin_two_pm[before] == (20, timedelta(hours=1))
    assert berlin_two_pm[between] == (19, timedelta(hours=1))
    assert berlin_two_pm[after] == (20, timedelta(hours=2))
    assert all(
        s.tzinfo is not None and s.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
        for s in slots
    )

    chosen = datetime.combine(between, datetime.min.time().replace(hour=14), NEW_YORK).astimezone(
        BERLIN
    )
    booked = await api.post(
        "/appointments",
        json={"service_id": service, "start": chosen.isoformat(), "timezone": "Europe/Berlin"},
        headers=customer,
    )
    assert booked.status_code == 201, booked.text
    assert booked.json()["start"] == chosen.isoformat() == f"{between}T19:00:00+01:00"

    # Gone for everyone: not offered any more, and a second booking is refused.
    again = await _slots(
        api,
        provider,
        service,
        **{"from": str(between), "to": str(between), "tz": "America/New_York"},
    )
    assert [s.hour for s in again] == [9, 10, 11, 13, 15, 16]
    assert_error(
        await api.post(
            "/appointments",
            json={"service_id": service, "start": chosen.isoformat()},
            headers=await sign_up(api),
        ),
        409,
        "slot_unavailable",
    )


async def test_booking_obeys_the_same_rules_as_the_slots(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    _, _, service = await provider_with_service(
        api, min_notice_minutes=24 * 60, horizon_days=30, max_per_day=2
    )
    customer = await sign_up(api)
    day = (datetime.now(NEW_YORK) + timedelta(days=7)).date()
    while day.weekday() > 4:
        day += timedelta(days=1)

    def at(hour: int, minute: int = 0, on: date = day) -> str:
        return datetime.combine(
            on, datetime.min.time().replace(hour=hour, minute=minute), NEW_YORK
        ).isoformat()

    async def book(start: str) -> httpx.Response:
        return await api.post(
            "/appointments", json={"service_id": service, "start": start}, headers=customer
        )

    assert "grid" in assert_error(await book(at(14, 10)), 422, "off_grid")["detail"]
    assert_error(await book(at(12)), 422, "outside_working_hours")  # the lunch break
    assert_error(await book(at(15, 30)), 422, "off_grid")
    assert_error(await book(at(16, 30)), 422, "outside_working_hours")  # would end at 17:30
    assert_error(await book(at(17)), 422, "outside_working_hours")
    # Open around the clock, so two hours from now breaks nothing but the notice.
    always = {
        day: [{"start": "00:00", "end": "24:00"}]
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    }
    _, _, round_the_clock = await provider_with_service(
        api, hours=always, min_notice_minutes=24 * 60
    )
    soon = (datetime.now(NEW_YORK) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    too_soon = await api.post(
        "/appointments",
        json={"service_id": round_the_clock, "start": soon.isoformat()},
        headers=customer,
    )
    assert "notice" in assert_error(too_soon, 422, "too_soon")["detail"]
    far = day + timedelta(days=60)
    while far.weekday() > 4:
        far += timedelta(days=1)
    assert_error(await book(at(10, on=far)), 422, "beyond_horizon")
    assert (await book(at(9))).status_code == 201
    assert (await book(at(10))).status_code == 201
    assert_error(await book(at(11)), 422, "daily_limit_reached")


async def test_external_calendar_blocks_remove_slots_and_refuse_bookings(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    _, provider, service = await provider_with_service(api)
    day = (datetime.now(NEW_YORK) + timedelta(days=7)).date()
    while day.weekday() > 4:
        day += timedelta(days=1)
    busy_from = datetime.combine(day, datetime.min.time().replace(hour=13, minute=30), NEW_YORK)
    async with saga.db.session() as session, session.begin():
        session.add(
            ExternalBusyBlock(
                provider_id=UUID(provider),
                source="google",
                external_id="evt-1",
                start_at=busy_from,
                end_at=busy_from + timedelta(hours=1),
                created_at=datetime.now(UTC),
            )
        )
    slots = await _slots(api, provider, service, **{"from": str(day), "to": str(day)})
    assert _new_york_hours(slots, day) == [9, 10, 11, 15, 16]  # 13:00 and 14:00 overlap 13:30-14:30
    assert_error(
        await api.post(
            "/appointments",
            json={"service_id": service, "start": busy_from.replace(minute=0).isoformat()},
            headers=await sign_up(api),
        ),
        409,
        "slot_unavailable",
    )


async def test_overrides_and_holidays_change_the_slots_of_their_dates(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    headers, provider, service = await provider_with_service(api)
    monday = (datetime.now(NEW_YORK) + timedelta(days=7)).date()
    monday += timedelta(days=(7 - monday.weekday()) % 7)
    tuesday, wednesday = monday + timedelta(days=1), monday + timedelta(days=2)

    evening = {"intervals": [{"start": "18:00", "end": "20:00"}]}
    assert (
        await api.put(f"/providers/me/overrides/{monday}", json=evening, headers=headers)
    ).status_code == 200
    assert (
        await api.put(f"/providers/me/overrides/{tuesday}", json={"intervals": []}, headers=headers)
    ).status_code == 200
    holiday = await api.post(
        "/providers/me/holidays",
        json={"day": str(wednesday), "name": "Founders' day"},
        headers=headers,
    )
    assert holiday.status_code == 201
    assert_error(
        await api.post(
            "/providers/me/holidays", json={"day": str(wednesday), "name": "again"}, headers=headers
        ),
        409,
        "holiday_exists",
    )

    slots = await _slots(
        api, provider, service, **{"from": str(monday), "to": str(wednesday + timedelta(days=1))}
    )
    assert _new_york_hours(slots, monday) == [18, 19]
    assert _new_york_hours(slots, tuesday) == []
    assert _new_york_hours(slots, wednesday) == []
    assert _new_york_hours(slots, wednesday + timedelta(days=1)) == [9, 10, 11, 13, 14, 15, 16]

    listed = await api.get(
        "/providers/me/overrides", params={"from": str(monday), "to": str(tuesday)}, headers=headers
    )
    assert listed.json() == [
        {"day": str(monday), "closed": False, "intervals": [{"start": "18:00", "end": "20:00"}]},
        {"day": str(tuesday), "closed": True, "intervals": []},
    ]
    assert (
        await api.delete(f"/providers/me/overrides/{monday}", headers=headers)
    ).status_code == 204
    assert (
        await api.delete(f"/providers/me/holidays/{wednesday}", headers=headers)
    ).status_code == 204
    slots = await _slots(api, provider, service, **{"from": str(monday), "to": str(wednesday)})
    assert (
        _new_york_hours(slots, monday)
        == _new_york_hours(slots, wednesday)
        == [9, 10, 11, 13, 14, 15, 16]
    )


async def test_search_finds_providers_with_free_time_on_a_date(
    api: httpx.AsyncClient, saga: Saga
) -> None:
    name = f"Osteopathy {datetime.now(UTC).timestamp()}"
    _, open_provider, _ = await provider_with_service(api, name=name)
    closed_headers, closed_provider, _ = await provider_with_service(api, name=name)
    day = (datetime.now(NEW_YORK) + timedelta(days=7)).date()
    while day.weekday() > 4:
        day += timedelta(days=1)
    await api.post(
        "/providers/me/holidays", json={"day": str(day), "name": "off"}, headers=closed_headers
    )

    anyday = (await api.get("/providers", params={"service": name.upper()})).json()
    assert {p["id"] for p in anyday["data"]} == {open_provider, closed_provider}
    that_day = (
        await api.get(
            "/providers", params={"service": name, "date": str(day), "tz": "America/New_York"}
        )
    ).json()
    assert [p["id"] for p in that_day["data"]] == [open_provider]
    offered = that_day["data"][0]["services"][0]
    assert offered["free_slots"] == 7
    assert datetime.fromisoformat(offered["first_free"]) == datetime.combine(
        day, datetime.min.time().replace(hour=9), NEW_YORK
    )
    assert (await api.get("/providers", params={"service": "no such thing at all"})).json() == {
        "data": [],
        "count": 0,
    }


async def test_bad_scheduling_input_gets_a_clear_422(api: httpx.AsyncClient, saga: Saga) -> None:
    headers, provider, service = await provider_with_service(api)
    url = f"/providers/{provider}/availability"

    def get(**params: str):  # type: ignore[no-untyped-def]
        return api.get(url, params={"service_id": service, **params})

    assert (
        "Mars/Olympus"
        in assert_error(await get(tz="Mars/Olympus"), 422, "invalid_timezone")["detail"]
    )
    assert_error(await get(**{"from": "2030-03-10", "to": "2030-03-01"}), 422, "invalid_range")
    assert (
        "91 days"
        in assert_error(
            await get(**{"from": "2030-01-01", "to": "2030-04-01"}), 422, "range_too_long"
        )["detail"]
    )
    assert (
        await get(**{"from": "2030-01-01", "to": "2030-03-31"})
    ).status_code == 200  # exactly 90
    assert (
        "from"
        in assert_error(await get(**{"from": "2030-13-45"}), 422, "validation_error")["detail"]
    )
    assert_error(await get(**{"from": "next week"}), 422, "validation_error")
    assert_error(
        await api.get(url, params={"service_id": "00000000-0000-4000-8000-000000000000"}),
        404,
        "service_not_found",
    )
    assert_error(
        await api.get(
            "/providers/00000000-0000-4000-8000-000000000000/availability",
            params={"service_id": service},
        ),
        404,
        "provider_not_found",
    )

    for duration in (0, -30):
        bad = await api.post(
            "/providers/me/services",
            json={
                "name": "x",
                "duration_minutes": duration,
                "price": {"amount": 100, "currency": "USD"},
            },
            headers=headers,
        )
        assert "duration_minutes" in assert_error(bad, 422, "validation_error")["detail"]
    for price in (
        {"amount": -1, "currency": "USD"},
        {"amount": 10, "currency": "usd"},
        {"amount": 9.99, "currency": "USD"},
    ):
        bad = await api.post(
            "/providers/me/services",
            json={"name": "x", "duration_minutes": 30, "price": price},
            headers=headers,
        )
        assert_error(bad, 422, "validation_error")
    for hours in (
        {"monday": [{"start": "13:00", "end": "09:00"}]},
        {"monday": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "14:00"}]},
        {"monday": [{"start": "25:00", "end": "26:00"}]},
        {"funday": [{"start": "09:00", "end": "12:00"}]},
    ):
        assert_error(
            await api.put("/providers/me/working-hours", json=hours, headers=headers),
            422,
            "validation_error",
        )
    assert_error(
        await api.patch("/providers/me", json={"timezone": "Europe/Atlantis"}, headers=headers),
        422,
        "validation_error",
    )
    assert_error(
        await api.post(
            "/auth/register",
            json={
                "email": "z@example.com",
                "password": "long enough",
                "full_name": "Z",
                "role": "provider",
                "timezone": "Nowhere/Land",
            },
        ),
        422,
        "validation_error",
    )
    # A customer has no provider profile to manage.
    assert_error(
        await api.get("/providers/me/services", headers=await sign_up(api)),
        405,
        "method_not_allowed",
    )
    assert_error(
        await api.post("/providers/me/services", json={}, headers=await sign_up(api)),
        403,
        "providers_only",
    )
    # None of it changed what was stored.
    assert (await api.get("/providers/me/working-hours", headers=headers)).json()["monday"] == [
        {"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"},
    ]  # fmt: skip


async def test_a_misspelt_field_is_refused_not_ignored(api: httpx.AsyncClient, saga: Saga) -> None:
    headers, _, service = await provider_with_service(api)
    before = (await api.get("/providers/me/working-hours", headers=headers)).json()
    typo = await api.put(
        "/providers/me/working-hours",
        json={"funday": [{"start": "09:00", "end": "12:00"}]},
        headers=headers,
    )
    assert "funday" in assert_error(typo, 422, "validation_error")["detail"]
    assert (await api.get("/providers/me/working-hours", headers=headers)).json() == before
    booking = await api.post(
        "/appointments",
        json={"service_id": service, "start": "2030-01-07T10:00:00-05:00", "timezon": "Asia/Tokyo"},
        headers=await sign_up(api),
    )
    assert "timezon" in assert_error(booking, 422, "validation_error")["detail"]


async def test_settings_that_keep_changing_under_the_read_get_a_503_not_a_500(
    api: httpx.AsyncClient, saga: Saga, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read sees the offer change under it (as if the provider saved settings every few
    milliseconds): after its attempts the answer is a 503 with a code, never a 500."""
    _, provider, service = await provider_with_service(api)
    reads = 0

    async def always_changed(*_: object) -> list[object]:
        nonlocal reads
        reads += 1
        raise schedule.OfferChanged()

    monkeypatch.setattr(schedule.CalendarReader, "free_slots", always_changed)
    response = await api.get(f"/providers/{provider}/availability", params={"service_id": service})
    assert_error(response, 503, "settings_changing")
    assert response.headers["Retry-After"] == "1"
    assert reads == 5
