"""The reconciler's schedule on the dev server (the time-skipping server has no schedules)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy

from config import Settings
from contract.reconcile import RECONCILER_SCHEDULE_ID
from devstack import processes
from workflows.client import connect
from workflows.schedules import ensure_reconciler_schedule

pytestmark = pytest.mark.e2e


def _settings(address: str, **overrides: object) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="development",
        temporal_address=address,
        temporal_task_queue="bookings-schedule-test",
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture
async def dev_server(tmp_path: Path) -> AsyncIterator[str]:
    server, port = processes.start_temporal_on_free_port(tmp_path / "temporal.log")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


async def _client(address: str) -> Client:
    return await connect(_settings(address))


async def test_the_schedule_is_created_once_and_follows_the_settings(dev_server: str) -> None:
    client = await _client(dev_server)
    settings = _settings(dev_server, reconcile_interval_minutes=7)

    await ensure_reconciler_schedule(client, settings)
    await ensure_reconciler_schedule(client, settings)

    handle = client.get_schedule_handle(RECONCILER_SCHEDULE_ID)
    described = await handle.describe()
    [interval] = described.schedule.spec.intervals
    assert interval.every == timedelta(minutes=7)
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.id) == ("ReconcilerWorkflow", RECONCILER_SCHEDULE_ID)
    assert action.task_queue == "bookings-schedule-test"


async def test_new_settings_update_the_schedule_and_keep_an_operators_pause(
    dev_server: str,
) -> None:
    client = await _client(dev_server)
    await ensure_reconciler_schedule(client, _settings(dev_server))
    handle = client.get_schedule_handle(RECONCILER_SCHEDULE_ID)
    await handle.pause(note="paused by an operator")

    await ensure_reconciler_schedule(client, _settings(dev_server, reconcile_interval_minutes=3))

    described = await handle.describe()
    assert [i.every for i in described.schedule.spec.intervals] == [timedelta(minutes=3)]
    assert described.schedule.state.paused
