"""A time-skipping Temporal test server and a worker running the real activities on a real database.

Each test gets its own server: skipped time is global to a server, and one test's skip must not
move another test's clock.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.booking import BookingActivities
from activities.payments.sandbox import SandboxPaymentGateway
from api.main import create_app
from config import Settings
from db.engine import Database
from devstack.binaries import temporal_test_server
from workflows import search_attributes
from workflows.booking import BookingWorkflow
from workflows.codec import data_converter
from workflows.late_payment import LatePaymentRefund


async def register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={key.name: key.indexed_value_type for key in search_attributes.ALL},
        )
    )


def converter_for_tests() -> DataConverter:
    """The data converter the tests, the recorder and the replayer share with production."""
    return data_converter(Settings(_env_file=None, environment="development"))  # type: ignore[call-arg]


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter_for_tests(),
        test_server_existing_path=temporal_test_server(),
    )
    await register_search_attributes(env.client)
    async with env:
        yield env


@dataclass
class Saga:
    env: WorkflowEnvironment
    client: Client
    task_queue: str
    db: Database
    payments: SandboxPaymentGateway


# The SDK's worker shutdown against the time-skipping server has hung now and then after the test
# itself passed (twice in about a dozen full runs: its pollers never returned), and the run's
# timeout then ends every test. A test's worker gets this long to stop; then it is left to the
# server's own teardown, which ends its polls, with a line in the log.
SHUTDOWN_WITHIN_S = 60.0


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    await worker.__aenter__()
    try:
        yield worker
    finally:
        try:
            await asyncio.wait_for(worker.__aexit__(None, None, None), SHUTDOWN_WITHIN_S)
        except TimeoutError:
            logging.getLogger("tests").warning(
                "worker on %s still shutting down after %.0f s: left behind",
                worker.task_queue,
                SHUTDOWN_WITHIN_S,
            )


@pytest.fixture
async def saga(
    time_skipping_env: WorkflowEnvironment, db: Database, settings: Settings
) -> AsyncIterator[Saga]:
    payments = SandboxPaymentGateway(db, settings.payment_webhook_secret.get_secret_value())
    task_queue = f"bookings-{uuid.uuid4()}"
    worker = Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[BookingWorkflow, LatePaymentRefund],
        activities=BookingActivities(db, payments).all(),
    )
    async with running(worker):
        yield Saga(time_skipping_env, time_skipping_env.client, task_queue, db, payments)


@pytest.fixture
async def api(saga: Saga, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app (lifespan and all) talking to the test server, served in-process."""
    app_settings = settings.model_copy(
        update={
            "temporal_address": saga.client.service_client.config.target_host,
            "temporal_task_queue": saga.task_queue,
        }
    )
    app = create_app(app_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client
