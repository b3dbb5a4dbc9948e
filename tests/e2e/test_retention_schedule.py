"""The retention schedule on the dev server (the time-skipping server has no schedules)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy

from config import Settings
from contract.retention import RETENTION_SCHEDULE_ID, RetentionRun
from devstack import processes
from workflows.client import connect
from workflows.schedules import ensure_retention_schedule

pytestmark = pytest.mark.e2e


def _settings(address: str, **overrides: object) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="development",
        temporal_address=address,
        temporal_task_queue="retention-schedule-test",
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture
async def dev_server(tmp_path: Path) -> AsyncIterator[str]:
    server, port = processes.start_temporal_on_free_port(tmp_path / "temporal.log")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


async def test_the_schedule_is_created_once_follows_the_settings_and_keeps_a_pause(
    dev_server: str,
) -> None:
    client = await connect(_settings(dev_server))
    await ensure_retention_schedule(client, _settings(dev_server))
    handle = client.get_schedule_handle(RETENTION_SCHEDULE_ID)
    await handle.pause(note="paused by an operator")

    settings = _settings(dev_server, retention_interval_hours=6, retention_message_days=30)
    await ensure_retention_schedule(client, settings)

    described = await handle.describe()
    assert [i.every for i in described.schedule.spec.intervals] == [timedelta(hours=6)]
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert described.schedule.state.paused
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.id) == ("RetentionWorkflow", RETENTION_SCHEDULE_ID)
    [run] = await client.data_converter.decode(action.args, [RetentionRun])
    assert isinstance(run, RetentionRun) and run.periods.message_days == 30
