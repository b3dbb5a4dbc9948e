"""The baseline: a no-op workflow of the booking saga's shape, the engine's own limit here.

Started with update-with-start whose update returns after two no-op activities (like the hold
and the payment intent); then it waits for the payment signal with a timeout, then runs one
more no-op activity (like the confirmation), then, as the saga does once confirmed, a no-op
activity for the confirmation message, a timer for the first reminder, and a no-op activity
for the booking's calendar event. Same data converter as the app.

`--profile` also runs what-if variants of it: local activities instead of activities, and the
search-attribute upserts and summaries the booking saga writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from bench.noop import (
        NoopBooking,
        NoopPayment,
        NoopState,
        noop_confirm,
        noop_hold,
        noop_mirror,
        noop_payment_intent,
        noop_tell,
    )
    from workflows.search_attributes import BOOKING_STATUS

STEP_TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200))


@workflow.defn
class NoopBookingWorkflow:
    @workflow.init
    def __init__(self, booking: NoopBooking) -> None:
        self._booking = booking
        self._status = "requested"
        self._paid = False
        self._answered = False

    @workflow.run
    async def run(self, booking: NoopBooking) -> NoopState:
        try:
            await self._step(noop_hold, "Hold the slot")
            self._set_status("awaiting_payment")
            await self._step(noop_payment_intent, "Create payment intent")
        finally:
            self._answered = True
        # The saga records a patch marker here (workflow.patched): the baseline pays for it too.
        workflow.patched("payment-retries-and-deadline-check")
        await workflow.wait_condition(lambda: self._paid, timeout=booking.payment_timeout)
        await self._step(noop_confirm, "Confirm the booking")
        self._set_status("confirmed")
        # The saga's messages and reminders (its second patch marker, a regular activity and a
        # reminder's timer), so the ratio stays honest as the saga grows.
        workflow.patched("notifications-and-reminders")
        reminder = asyncio.create_task(workflow.sleep(timedelta(days=1)))
        await workflow.execute_activity(
            noop_tell, self._booking, start_to_close_timeout=STEP_TIMEOUT, retry_policy=RETRY
        )
        # And the booking's event in the provider's calendars (its own patch marker and step).
        workflow.patched("calendar-events")
        await workflow.execute_activity(
            noop_mirror, self._booking, start_to_close_timeout=STEP_TIMEOUT, retry_policy=RETRY
        )
        reminder.cancel()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    async def _step(self, activity: Callable[[NoopBooking], Awaitable[Any]], summary: str) -> Any:
        if self._booking.local_activities:
            return await workflow.execute_local_activity(
                activity, self._booking, start_to_close_timeout=STEP_TIMEOUT, retry_policy=RETRY
            )
        return await workflow.execute_activity(
            activity,
            self._booking,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=RETRY,
            summary=summary if self._booking.search_attributes else None,
        )

    def _set_status(self, status: str) -> None:
        self._status = status
        if self._booking.search_attributes:
            workflow.upsert_search_attributes([BOOKING_STATUS.value_set(status)])

    @workflow.update
    async def wait_until_held(self) -> NoopState:
        await workflow.wait_condition(lambda: self._answered)
        return self.state()

    @workflow.signal
    def payment_succeeded(self, payment: NoopPayment) -> None:
        self._paid = True

    @workflow.query
    def state(self) -> NoopState:
        return NoopState(booking_id=self._booking.booking_id, status=self._status)
