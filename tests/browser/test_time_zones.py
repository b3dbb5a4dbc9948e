"""Times in the visitor's zone, detected and changeable, right on both sides of a DST change."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import NewContext, Screenshot
from tests.browser.scenario import clock_label, local_start, make_provider, pick_day, slot_buttons

PROVIDER_ZONE = "America/New_York"
STARTS = ("09:00", "09:30")
# New York's 09:00 on the day before and the day after its clocks change, read elsewhere. Europe
# changes two or three weeks after New York in spring and a week before it in autumn.
FIRST_SLOT = {
    "spring": {
        "Europe/Berlin": ["3:00 PM", "2:00 PM"],
        "Asia/Tokyo": ["11:00 PM", "10:00 PM"],
        "America/Los_Angeles": ["6:00 AM", "6:00 AM"],
        PROVIDER_ZONE: ["9:00 AM", "9:00 AM"],
    },
    "autumn": {
        "Europe/Berlin": ["2:00 PM", "3:00 PM"],
        "Asia/Tokyo": ["10:00 PM", "11:00 PM"],
        "America/Los_Angeles": ["6:00 AM", "6:00 AM"],
        PROVIDER_ZONE: ["9:00 AM", "9:00 AM"],
    },
}


def next_dst_change(zone: str, after: date) -> date:
    """The first local date after `after` whose noon has another UTC offset than the day before."""
    tz = ZoneInfo(zone)
    day = after
    while True:
        nxt = day + timedelta(days=1)
        before = datetime.combine(day, time(12), tz).utcoffset()
        if datetime.combine(nxt, time(12), tz).utcoffset() != before:
            return nxt
        day = nxt


def test_a_zone_switch_relabels_every_slot_across_a_dst_change(
    api: httpx.Client, new_context: NewContext, screenshot: Screenshot
) -> None:
    provider = make_provider(
        api, timezone=PROVIDER_ZONE, hours=(("09:00", "10:00"),), horizon_days=366
    )
    today = datetime.now(ZoneInfo(PROVIDER_ZONE)).date()
    change = next_dst_change(PROVIDER_ZONE, today + timedelta(days=3))
    days = (change - timedelta(days=2), change + timedelta(days=1))
    starts = {day: [local_start(provider, day, at) for at in STARTS] for day in days}
    # New York moved its clocks between the two days: the same 09:00 is another UTC hour.
    before, after = (starts[day][0].utcoffset() for day in days)
    assert before is not None and after is not None and before != after
    season = "spring" if after > before else "autumn"

    page = new_context(timezone="Europe/Berlin").new_page()
    page.goto(f"/book/{provider.id}?service={provider.service_id}")
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    for zone in ("Europe/Berlin", "Asia/Tokyo", "America/Los_Angeles", PROVIDER_ZONE):
        if zone != "Europe/Berlin":
            page.get_by_label("Time zone").select_option(zone)
        for day, first_label in zip(days, FIRST_SLOT[season][zone], strict=True):
            local_day = starts[day][0].astimezone(ZoneInfo(zone)).date()
            pick_day(page, local_day, max_months=14)
            expected = [clock_label(start, zone) for start in starts[day]]
            assert expected[0] == first_label
            expect(slot_buttons(page)).to_have_text(expected)
        screenshot(page, zone.replace("/", "-"))
