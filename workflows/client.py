"""Every Temporal call the API makes, in one place, with bounded waits and errors of its own.

The API never waits on a workflow without bound: an update is first taken (accepted by the
workflow) within ACCEPT_WITHIN, then answered within ANSWER_WITHIN, or the caller hears that it
is still being worked on (`Answer.finished` false) and reads the state later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

from temporalio.client import (
    Client,
    Interceptor,
    WithStartWorkflowOperation,
    WorkflowFailureError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import QueryRejectCondition, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from config import Settings
from contract.errors import REFUSALS, SLOT_NOT_BOOKABLE
from contract.messages import (
    BookingInput,
    BookingState,
    CancelRequest,
    Decision,
    PaymentEvent,
    RescheduleRequest,
    VoidPaymentRequest,
)
from workflows import search_attributes
from workflows.booking import BookingWorkflow
from workflows.codec import data_converter
from workflows.late_payment import LatePaymentRefund

log = logging.getLogger("booking.client")
T = TypeVar("T")

EARLY_RETURN_TIMEOUT = timedelta(seconds=20)
SIGNAL_TIMEOUT = timedelta(seconds=10)
ACCEPT_WITHIN = timedelta(seconds=5)
ANSWER_WITHIN = timedelta(seconds=10)


async def connect(
    settings: Settings,
    *,
    lazy: bool = False,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """A client with our data converter. The worker passes its metrics Runtime; the API and the
    worker pass their tracing interceptors, which reach the workers built on the client too."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        lazy=lazy,
        runtime=runtime,
        interceptors=interceptors,
    )


def workflow_id(booking_id: object) -> str:
    return f"booking-{booking_id}"


class BookingEngineUnavailable(Exception):
    """Temporal cannot be reached, or no worker took the request in time."""


class BookingPending(Exception):
    """The booking was started but did not answer in time; the same request may be repeated."""


class BookingRefused(Exception):
    """The booking said no: a validator or a step's refusal, with its stable client code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BookingClosed(Exception):
    """The booking's workflow has ended: its state is the database's."""


@dataclass(frozen=True)
class Answer:
    """The booking after a request: `finished` false if it was taken but is still being worked
    on (a slow gateway, an undo step retrying), when `state` is the state so far."""

    state: BookingState
    finished: bool = True


class Delivery(StrEnum):
    DELIVERED = "delivered"
    CLOSED = "booking_closed"


class BookingClient:
    def __init__(
        self,
        client: Client,
        task_queue: str,
        *,
        accept_within: timedelta = ACCEPT_WITHIN,
        answer_within: timedelta = ANSWER_WITHIN,
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._accept_within = accept_within.total_seconds()
        self._answer_within = answer_within.total_seconds()

    async def book(self, booking: BookingInput, *, join: bool, summary: str) -> BookingState:
        """Start the booking and wait for its hold (update-with-start): the hold and how to pay,
        or BookingRefused. With `join`, a booking already started under this id is joined."""
        start = WithStartWorkflowOperation(
            BookingWorkflow.run,
            booking,
            id=workflow_id(booking.booking_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING
            if join
            else WorkflowIDConflictPolicy.FAIL,
            search_attributes=search_attributes.initial(
                status="requested",
                provider_id=booking.provider_id,
                service_id=booking.service_id,
                start=booking.start,
            ),
            static_summary=summary,
        )
        try:
            return await call_engine(
                self._client.execute_update_with_start_workflow(
                    BookingWorkflow.wait_until_held,
                    start_workflow_operation=start,
                    rpc_timeout=EARLY_RETURN_TIMEOUT,
                )
            )
        except WorkflowUpdateRPCTimeoutOrCancelledError as err:
            raise BookingPending() from err
        except WorkflowUpdateFailedError as err:
            raise _refused(err) from err

    async def state(self, booking_id: UUID) -> BookingState | None:
        """The running booking's state; None once it has closed, or if nobody can answer now
        (the database then has the last committed state)."""
        try:
            return await self.live_state(booking_id)
        except BookingEngineUnavailable as err:
            log.debug("state query for %s fell back to the database: %s", booking_id, err)
            return None

    async def live_state(self, booking_id: UUID) -> BookingState | None:
        """The running booking's state, None once it has closed; BookingEngineUnavailable if
        nobody answers within `accept_within` (no worker, or Temporal unreachable). A request
        that would change the booking asks this first, so it hears 'unavailable' in one wait,
        not in two."""
        handle = self._client.get_workflow_handle(workflow_id(booking_id))
        try:
            state: BookingState = await call_engine(
                handle.query(
                    BookingWorkflow.state,
                    reject_condition=QueryRejectCondition.NOT_OPEN,
                    rpc_timeout=timedelta(seconds=self._accept_within),
                )
            )
        except (WorkflowQueryRejectedError, WorkflowNotFound):
            return None
        return None if state.status == "rejected" else state

    async def cancel(self, booking_id: UUID, request: CancelRequest) -> Answer:
        return await self._update(booking_id, BookingWorkflow.cancel, request)

    async def reschedule(self, booking_id: UUID, request: RescheduleRequest) -> Answer:
        return await self._update(booking_id, BookingWorkflow.reschedule, request)

    async def approve(self, booking_id: UUID, decision: Decision) -> Answer:
        return await self._update(booking_id, BookingWorkflow.approve, decision)

    async def decline(self, booking_id: UUID, decision: Decision) -> Answer:
        return await self._update(booking_id, BookingWorkflow.decline, decision)

    async def closed(self, booking_id: UUID, within: timedelta) -> bool:
        """Whether the booking's workflow has closed (its messages told) within `within`."""
        handle = self._client.get_workflow_handle(workflow_id(booking_id))
        try:
            async with asyncio.timeout(within.total_seconds()):
                await call_engine(handle.result())
        except (WorkflowNotFound, WorkflowFailureError):
            return True
        except (TimeoutError, BookingEngineUnavailable):
            return False
        return True

    async def deliver(self, event: PaymentEvent) -> Delivery:
        """Signal a verified payment event to its booking."""
        signal = (
            BookingWorkflow.payment_succeeded if event.succeeded else BookingWorkflow.payment_failed
        )
        handle = self._client.get_workflow_handle(workflow_id(event.booking_id))
        try:
            await call_engine(handle.signal(signal, event, rpc_timeout=SIGNAL_TIMEOUT))
        except WorkflowNotFound:
            return Delivery.CLOSED
        return Delivery.DELIVERED

    async def refund_late_payment(self, event: PaymentEvent) -> None:
        """Refund a payment that succeeded after its booking had ended: once per intent."""
        request = VoidPaymentRequest(
            booking_id=event.booking_id,
            intent_id=event.intent_id,
            idempotency_key=f"late-payment:{event.intent_id}",
            reason="paid after the booking had ended",
        )
        try:
            await call_engine(
                self._client.start_workflow(
                    LatePaymentRefund.run,
                    request,
                    id=f"late-payment-{event.intent_id}",
                    task_queue=self._task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    static_summary=f"Refund late payment {event.intent_id}",
                )
            )
        except WorkflowAlreadyStartedError:
            log.info("late payment %s is being or was refunded already", event.intent_id)

    async def acted_on(self, event: PaymentEvent, within: timedelta) -> BookingState | None:
        """The booking once it has acted on the event (None if it could not say in time)."""
        handle = self._client.get_workflow_handle(workflow_id(event.booking_id))
        try:
            async with asyncio.timeout(within.total_seconds()):
                state: BookingState = await call_engine(
                    handle.execute_update(BookingWorkflow.wait_until_seen, event)
                )
        except (
            TimeoutError,
            BookingEngineUnavailable,
            WorkflowNotFound,
            WorkflowUpdateFailedError,
            WorkflowUpdateRPCTimeoutOrCancelledError,
        ):
            return None
        return state

    async def _update(self, booking_id: UUID, update: Any, argument: object) -> Answer:
        """Send an update: taken within `accept_within` (else BookingEngineUnavailable), answered
        within `answer_within` (else an unfinished Answer with the state so far)."""
        handle = self._client.get_workflow_handle(workflow_id(booking_id))
        try:
            async with asyncio.timeout(self._accept_within):
                taken = await call_engine(
                    handle.start_update(
                        update, argument, wait_for_stage=WorkflowUpdateStage.ACCEPTED
                    )
                )
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as err:
            raise BookingEngineUnavailable(
                "the booking did not take the request in time; it may still do so, so check "
                "the booking or send the request again"
            ) from err
        except WorkflowUpdateFailedError as err:
            raise _refused(err) from err
        except WorkflowNotFound as err:
            raise BookingClosed() from err
        try:
            async with asyncio.timeout(self._answer_within):
                result: BookingState = await call_engine(taken.result())
        except (
            TimeoutError,
            WorkflowUpdateRPCTimeoutOrCancelledError,
            BookingEngineUnavailable,
        ) as err:
            so_far = await self.state(booking_id)
            if so_far is None:
                raise BookingEngineUnavailable(
                    "the booking took the request and is still on it; check it later"
                ) from err
            return Answer(so_far, finished=False)
        except WorkflowUpdateFailedError as err:
            raise _refused(err) from err
        return Answer(result)


class WorkflowNotFound(Exception):
    """No such workflow, or it has closed."""


async def call_engine(call: Awaitable[T]) -> T:
    """Await a Temporal call; an unreachable server (also at a lazy client's first connect)
    becomes BookingEngineUnavailable, a missing or closed workflow WorkflowNotFound."""
    try:
        return await call
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise WorkflowNotFound() from err
        raise BookingEngineUnavailable(f"the booking engine cannot be reached: {err}") from err
    except RuntimeError as err:
        if lazy_connect_failed(err):
            raise BookingEngineUnavailable("the booking engine cannot be reached") from err
        raise


def lazy_connect_failed(err: RuntimeError) -> bool:
    """What a lazily connected temporalio Client raises when its first connection fails."""
    return str(err).startswith("Failed client connect")


def _refused(err: WorkflowUpdateFailedError) -> BookingRefused | BookingEngineUnavailable:
    """A workflow's refusal with its stable code; anything else is the engine's trouble."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type in REFUSALS:
        code = REFUSALS[cause.type]
        if cause.type == SLOT_NOT_BOOKABLE and cause.details:
            code = str(cause.details[0])  # the rule's own code: off_grid, too_soon, ...
        return BookingRefused(code, cause.message)
    log.warning("booking update failed: %s", cause)
    return BookingEngineUnavailable("the booking could not act on the request right now")
