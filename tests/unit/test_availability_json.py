"""The availability body rendered by hand is byte for byte what JSONResponse renders."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.responses import JSONResponse
from hypothesis import given, settings
from hypothesis import strategies as st

from api.schemas.providers import Availability, availability_json
from domain.availability import Slot

# Clock changes, half-hour and 45-minute offsets, and offsets with seconds (before 1972).
ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Africa/Monrovia",
    "Europe/Amsterdam",
]


def reference(
    provider_id: uuid.UUID,
    service_id: uuid.UUID,
    zone: ZoneInfo,
    first: date,
    last: date,
    slots: list[Slot],
) -> bytes:
    return JSONResponse(
        {
            "provider_id": str(provider_id),
            "service_id": str(service_id),
            "timezone": zone.key,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "slots": [
                {
                    "start": slot.start.astimezone(zone).isoformat(),
                    "end": slot.end.astimezone(zone).isoformat(),
                }
                for slot in slots
            ],
            "count": len(slots),
        }
    ).body


instants = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
lengths = st.sampled_from([timedelta(minutes=m) for m in (1, 15, 30, 60, 90, 24 * 60)])


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.lists(st.tuples(instants, lengths), max_size=20),
    st.one_of(st.none(), st.sampled_from([timedelta(minutes=15), timedelta(hours=1)])),
)
def test_the_body_is_what_json_response_renders(
    zone_name: str, spans: list[tuple[datetime, timedelta]], run: timedelta | None
) -> None:
    zone = ZoneInfo(zone_name)
    slots = [Slot(start, start + length) for start, length in spans]
    if run is not None and spans:
        # Slots one after another share dates, clock times and offsets: the cached path.
        start = spans[0][0]
        slots += [Slot(start + i * run, start + (i + 1) * run) for i in range(200)]
    ids = uuid.uuid4(), uuid.uuid4()
    first, last = date(2026, 3, 1), date(2026, 5, 29)
    body = availability_json(*ids, zone, first, last, slots)
    assert body == reference(*ids, zone, first, last, slots)


def test_the_body_is_an_availability() -> None:
    zone = ZoneInfo("America/New_York")
    start = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)  # 01:30 EST, the night clocks go forward
    slots = [Slot(start + timedelta(hours=i), start + timedelta(hours=i + 1)) for i in range(3)]
    body = availability_json(
        uuid.uuid4(), uuid.uuid4(), zone, date(2026, 3, 8), date(2026, 3, 8), slots
    )
    parsed = Availability.model_validate_json(body)
    assert [s.start for s in parsed.slots] == [s.start for s in slots]
    assert [s.start.isoformat() for s in parsed.slots][:2] == [
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:30:00-04:00",
    ]
    assert parsed.count == 3
