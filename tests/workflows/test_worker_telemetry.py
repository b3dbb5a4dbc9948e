"""The worker's telemetry: its metrics port (the SDK's and the bookings' own), its log context."""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import timedelta

import httpx
import pytest
from temporalio import activity, workflow
from temporalio.common import MetricMeter
from temporalio.runtime import Runtime
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.booking import BookingActivities
from activities.payments.sandbox import SandboxPaymentGateway
from config import Settings
from db.engine import Database
from devstack.binaries import temporal_test_server
from devstack.processes import free_port
from domain.booking_state import BookingStatus
from telemetry.logs import log_handler
from telemetry.temporal import ActivityLogContext, worker_runtime
from tests.factories import future_local, make_customer, make_provider
from tests.temporal_fixtures import Saga, converter_for_tests, register_search_attributes
from tests.workflows.helpers import booking_input, start_booking
from workflows.booking import BookingWorkflow
from workflows.late_payment import LatePaymentRefund


async def _time_skipping(runtime: Runtime) -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter_for_tests(),
        test_server_existing_path=temporal_test_server(),
        runtime=runtime,
    )
    await register_search_attributes(env.client)
    return env


async def test_the_worker_port_shows_workflow_task_latency_and_booking_outcomes(
    db: Database, settings: Settings
) -> None:
    metrics_port = free_port()
    runtime = worker_runtime(settings.model_copy(update={"worker_metrics_port": metrics_port}))
    payments = SandboxPaymentGateway(db, settings.payment_webhook_secret.get_secret_value())
    task_queue = f"bookings-{uuid.uuid4()}"
    async with await _time_skipping(runtime) as env:
        worker = Worker(
            env.client,
            task_queue=task_queue,
            workflows=[BookingWorkflow, LatePaymentRefund],
            activities=BookingActivities(db, payments).all(),
            interceptors=[ActivityLogContext()],
        )
        async with worker:
            saga = Saga(env, env.client, task_queue, db, payments)
            provider = await make_provider(db)
            customer = await make_customer(db)
            booking = booking_input(provider, customer, future_local(provider.timezone))
            handle, _ = await start_booking(saga, booking)
            outcome = await handle.result()  # the payment timer fires in skipped time
            assert outcome.status == BookingStatus.EXPIRED

            async with httpx.AsyncClient() as http:
                scraped = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")

    assert scraped.status_code == 200
    assert "temporal_workflow_task_execution_latency_bucket{" in scraped.text
    assert "temporal_activity_execution_latency_bucket{" in scraped.text
    expired = re.search(r"^booking_outcomes\{([^}]*)\} (\d+)$", scraped.text, re.MULTILINE)
    assert expired is not None, scraped.text
    assert 'status="expired"' in expired[1] and 'failed="false"' in expired[1]
    assert int(expired[2]) == 1


async def test_a_taken_metrics_port_leaves_the_worker_running_without_metrics(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    metrics_port = free_port()
    taken = settings.model_copy(update={"worker_metrics_port": metrics_port})
    first = worker_runtime(taken)

    second = worker_runtime(taken)

    assert first.metric_meter is not MetricMeter.noop
    assert second.metric_meter is MetricMeter.noop
    refusal = [r for r in caplog.records if r.name == "booking.telemetry"]
    assert refusal and refusal[-1].levelno == logging.ERROR
    assert f"127.0.0.1:{metrics_port}" in refusal[-1].getMessage()


@activity.defn(name="log_a_line")
async def log_a_line(_: str) -> None:
    logging.getLogger("booking.test").info("an activity's line")


@workflow.defn(name="LoggingWorkflow", sandboxed=False)
class LoggingWorkflow:
    @workflow.run
    async def run(self, note: str) -> None:
        workflow.logger.info("a workflow's line")
        await workflow.execute_activity(
            log_a_line, note, start_to_close_timeout=timedelta(seconds=10)
        )


async def test_activity_and_workflow_lines_name_the_booking_and_its_workflow(
    capsys: pytest.CaptureFixture[str],
) -> None:
    runtime = worker_runtime(
        Settings(_env_file=None, worker_metrics_port=0)  # type: ignore[call-arg]
    )
    handler = log_handler("json")
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.INFO)
    booking_id = uuid.uuid4()
    task_queue = f"logs-{uuid.uuid4()}"
    try:
        async with await _time_skipping(runtime) as env:
            worker = Worker(
                env.client,
                task_queue=task_queue,
                workflows=[LoggingWorkflow],
                activities=[log_a_line],
                interceptors=[ActivityLogContext()],
            )
            async with worker:
                await env.client.execute_workflow(
                    LoggingWorkflow.run, "note", id=f"booking-{booking_id}", task_queue=task_queue
                )
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"]
    activity_line = next(line for line in lines if line["event"] == "an activity's line")
    assert activity_line["booking_id"] == str(booking_id)
    assert activity_line["workflow_id"] == f"booking-{booking_id}"
    assert activity_line["activity_type"] == "log_a_line"
    assert {"timestamp", "level", "logger"} <= set(activity_line)
    workflow_line = next(line for line in lines if line["event"].startswith("a workflow's line"))
    assert workflow_line["booking_id"] == str(booking_id)
    assert workflow_line["workflow_type"] == "LoggingWorkflow"
