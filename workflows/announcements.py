"""The booking's messages and reminders: sent beside the booking, never failing or delaying it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.booking import BookingActivities
    from contract.notifications import Kind, Tell

TELL_TIMEOUT = timedelta(seconds=30)
# A vendor down for a day loses the message (recorded as pending with its last error) rather
# than keeping a finished booking open.
TELL_DEADLINE = timedelta(days=1)
TELL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)


async def beside(method: Any, argument: object, *, summary: str, what: str) -> None:
    """One step beside the work that started it (a message, a calendar write): retried for up
    to TELL_DEADLINE, and never failing its caller."""
    try:
        await workflow.execute_activity_method(
            method,
            argument,
            summary=summary,
            start_to_close_timeout=TELL_TIMEOUT,
            schedule_to_close_timeout=TELL_DEADLINE,
            retry_policy=TELL_RETRY,
        )
    except ActivityError as err:
        workflow.logger.warning("%s not done: %s", what, err.cause or err)


class Announcer:
    """Each message is an activity of its own, run as a task: the booking goes on meanwhile,
    and waits for them only before it closes."""

    def __init__(self, booking_id: object) -> None:
        self.enabled = False
        self._booking_id = booking_id
        self._tasks: list[asyncio.Task[None]] = []

    def tell(self, kind: Kind, key: str, **details: object) -> None:
        if self.enabled:
            tell = Tell.model_validate(
                {"booking_id": self._booking_id, "kind": kind, "key": key, **details}
            )
            self._tasks.append(asyncio.create_task(self._send(tell)))

    def start_reminders(
        self,
        leads_minutes: Iterable[int],
        start_of: Callable[[], datetime],
        over: Callable[[], bool],
    ) -> None:
        if self.enabled:
            leads = sorted(set(leads_minutes), reverse=True)
            self._tasks.append(asyncio.create_task(self._remind(leads, start_of, over)))

    async def finished(self) -> None:
        """Wait for every message still being sent (and the reminders, which end with the
        booking)."""
        if self._tasks:
            await asyncio.gather(*self._tasks)

    async def _send(self, tell: Tell) -> None:
        await beside(
            BookingActivities.tell_people,
            tell,
            summary=f"Tell: {tell.kind.replace('_', ' ')}",
            what=f"message {tell.key}",
        )

    async def _remind(
        self, leads: list[int], start_of: Callable[[], datetime], over: Callable[[], bool]
    ) -> None:
        """Each reminder at its lead time before the start; those already past when armed are
        skipped, never sent at once; a move re-arms them for the new start."""
        while not over():
            await self._remind_until_moved(start_of(), leads, start_of, over)

    async def _remind_until_moved(
        self,
        start: datetime,
        leads: list[int],
        start_of: Callable[[], datetime],
        over: Callable[[], bool],
    ) -> None:
        """Send the reminders for `start`; return as soon as the booking moves or is over."""

        def moved_or_over() -> bool:
            return over() or start_of() != start

        for lead in leads:
            # In UTC: lead times are elapsed time, also across a DST change.
            due = start.astimezone(UTC) - timedelta(minutes=lead)
            if due <= workflow.now():
                continue
            try:
                await workflow.wait_condition(
                    moved_or_over,
                    timeout=due - workflow.now(),
                    timeout_summary=f"reminder {_lead(lead)} before the start",
                )
            except TimeoutError:
                self.tell(Kind.REMINDER, f"reminder:{start.isoformat()}:{lead}", lead_minutes=lead)
                continue
            return
        await workflow.wait_condition(moved_or_over)


def _lead(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if rest == 0:
        return f"{hours} h"
    return f"{hours} h {rest} min" if hours else f"{rest} min"
