"""The first free slot, found a day at a time, is the first of the whole window's free slots."""

from __future__ import annotations

from hypothesis import given

from domain.availability import BusyTimes
from domain.first_free import first_free_slot
from tests.unit.test_availability_properties import PROPERTY, Scenario, scenarios


@PROPERTY
@given(scenarios())
def test_the_first_free_slot_is_the_first_of_free_slots(scenario: Scenario) -> None:
    found = first_free_slot(
        scenario.schedule,
        scenario.rules,
        busy=BusyTimes(scenario.busy),
        booked_starts=scenario.booked,
        window_start=scenario.window_start,
        window_end=scenario.window_end,
        now=scenario.now,
    )
    assert found == next(iter(scenario.reference()), None)
