"""Every recorded history replays on today's workflow code: a change that would break a booking
already running fails here, not in production. Record with `make histories`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from contract.messages import BookingInput
from tests.temporal_fixtures import converter_for_tests
from tests.workflows.record_histories import HISTORIES, PATHS, WORKFLOWS, era
from workflows.booking import PATCHES

RECORDED = sorted(HISTORIES.glob("*/*.json"))


def _history(file: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"{file.parent.name}/{file.stem}", file.read_text())


@pytest.mark.parametrize("file", RECORDED, ids=[f"{f.parent.name}/{f.stem}" for f in RECORDED])
async def test_a_recorded_history_replays_on_todays_code(file: Path) -> None:
    replayer = Replayer(workflows=WORKFLOWS, data_converter=converter_for_tests())
    await replayer.replay_workflow(_history(file))


def test_every_path_of_the_newest_era_has_its_history() -> None:
    """Eras are named for the newest patch of their release; the newest covers every path."""
    eras = {file.parent.name for file in RECORDED}
    assert eras <= {"base", *PATCHES}, eras - {"base", *PATCHES}
    newest = {file.stem for file in RECORDED if file.parent.name == era()}
    assert newest == set(PATHS)


@workflow.defn(name="BookingWorkflow")
class _ReorderedBooking:
    """The booking workflow as a careless change might leave it: a timer before the hold."""

    @workflow.run
    async def run(self, booking: BookingInput) -> None:
        await workflow.sleep(timedelta(seconds=1))


async def test_replay_catches_a_changed_command_sequence() -> None:
    """The guard itself: a workflow whose first command differs from the history's fails."""
    replayer = Replayer(
        workflows=[_ReorderedBooking],
        data_converter=converter_for_tests(),
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    file = HISTORIES / "base" / "confirmed_then_completed.json"
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(_history(file))
