"""The booking's messages and reminders: sent beside the booking, never failing or delaying it."""

from __future__ import annotations

import asyncio
import hashlib
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


async def beside(
    method: Any,
    argument: object,
    *,
    summary: str,
    what: str,
    start_to_close: timedelta = TELL_TIMEOUT,
) -> None:
    """One step beside the work that started it (a message, a calendar write): retried for up
    to TELL_DEADLINE, and never failing its caller."""
    try:
        await workflow.execute_activity_method(
            method,
            argument,
            summary=summary,
            start_to_close_timeout=start_to_close,
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

    def tell(
        self, kind: Kind, key: str, *, prepared_for: timedelta = timedelta(0), **details: object
    ) -> None:
        if self.enabled:
            tell = Tell.model_validate(
                {"booking_id": self._booking_id, "kind": kind, "key": key, **details}
            )
            self._tasks.append(asyncio.create_task(self._send(tell, prepared_for)))

    def start_reminders(
        self,
        leads_minutes: Iterable[int],
        start_of: Callable[[], datetime],
        over: Callable[[], bool],
        prepare: timedelta = timedelta(0),
    ) -> None:
        """Arm the reminders. With `prepare`, each is rendered and recorded up to that long
        before its instant and sent at the instant (see `prepared_ahead`)."""
        if self.enabled:
            leads = sorted(set(leads_minutes), reverse=True)
            self._tasks.append(asyncio.create_task(self._remind(leads, start_of, over, prepare)))

    async def finished(self) -> None:
        """Wait for every message still being sent (and the reminders, which end with the
        booking)."""
        if self._tasks:
            await asyncio.gather(*self._tasks)

    async def _send(self, tell: Tell, prepared_for: timedelta = timedelta(0)) -> None:
        summary = f"Tell: {tell.kind.replace('_', ' ')}"
        if tell.send_at is not None:
            summary += f", sent at {tell.send_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        await beside(
            BookingActivities.tell_people,
            tell,
            summary=summary,
            what=f"message {tell.key}",
            # A prepared reminder waits in its activity for its instant.
            start_to_close=TELL_TIMEOUT + prepared_for,
        )

    async def _remind(
        self,
        leads: list[int],
        start_of: Callable[[], datetime],
        over: Callable[[], bool],
        prepare: timedelta,
    ) -> None:
        """Each reminder at its lead time before the start; those already past when armed are
        skipped, never sent at once; a move re-arms them for the new start."""
        while not over():
            await self._remind_until_moved(start_of(), leads, start_of, over, prepare)

    async def _remind_until_moved(
        self,
        start: datetime,
        leads: list[int],
        start_of: Callable[[], datetime],
        over: Callable[[], bool],
        prepare: timedelta,
    ) -> None:
        """Send the reminders for `start`; return as soon as the booking moves or is over."""

        def moved_or_over() -> bool:
            return over() or start_of() != start

        for lead in leads:
            # In UTC: lead times are elapsed time, also across a DST change.
            due = start.astimezone(UTC) - timedelta(minutes=lead)
            if due <= workflow.now():
                continue
            ahead = prepared_ahead(self._booking_id, lead, prepare)
            wake = due - ahead
            if wake > workflow.now():
                try:
                    await workflow.wait_condition(
                        moved_or_over,
                        timeout=wake - workflow.now(),
                        timeout_summary=f"reminder {_lead(lead)} before the start",
                    )
                except TimeoutError:
                    pass
                else:
                    return
            elif moved_or_over():
                return
            key = f"reminder:{start.isoformat()}:{lead}"
            if ahead:
                self.tell(Kind.REMINDER, key, lead_minutes=lead, send_at=due, prepared_for=ahead)
            else:
                self.tell(Kind.REMINDER, key, lead_minutes=lead)
        await workflow.wait_condition(moved_or_over)


def prepared_ahead(booking_id: object, lead: int, prepare: timedelta) -> timedelta:
    """How long before its instant this reminder is prepared: between half of `prepare` and all
    of it, spread evenly over bookings by a hash of the booking and the lead (deterministic,
    so replays agree), so that reminders due at one instant are not all prepared at one
    instant either."""
    if not prepare:
        return timedelta(0)
    digest = hashlib.sha256(f"{booking_id}:{lead}".encode()).digest()
    fraction = int.from_bytes(digest[:4], "big") / 2**32
    return prepare * (0.5 + 0.5 * fraction)


def _lead(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if rest == 0:
        return f"{hours} h"
    return f"{hours} h {rest} min" if hours else f"{rest} min"
