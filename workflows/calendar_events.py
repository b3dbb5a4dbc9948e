"""The booking's event in the provider's calendars, kept beside the booking like its messages:
written when confirmed, moved when rescheduled, removed when cancelled; never failing or
delaying the booking."""

from __future__ import annotations

import asyncio

from temporalio import workflow

from workflows.announcements import beside

with workflow.unsafe.imports_passed_through():
    from activities.booking import BookingActivities
    from contract.messages import BookingRef


class CalendarMirror:
    """Each change starts one step that makes the calendars agree with the booking as stored.
    The steps run one after another, so a cancel's removal never overtakes the write."""

    def __init__(self, booking_id: object) -> None:
        self.enabled = False
        self._ref = BookingRef.model_validate({"booking_id": booking_id})
        self._last: asyncio.Task[None] | None = None
        self._shown = False

    def show(self) -> None:
        """The booking is confirmed, or moved: write it where it should be."""
        if self.enabled:
            self._shown = True
            self._next(f"Calendar: {'move' if self._last else 'write'} the booking's event")

    def withdraw(self) -> None:
        """The booking was cancelled: remove the event it had."""
        if self.enabled and self._shown:
            self._next("Calendar: remove the booking's event")

    async def finished(self) -> None:
        if self._last is not None:
            await self._last

    def _next(self, summary: str) -> None:
        self._last = asyncio.create_task(self._after(self._last, summary))

    async def _after(self, previous: asyncio.Task[None] | None, summary: str) -> None:
        if previous is not None:
            await previous
        await beside(
            BookingActivities.mirror_booking,
            self._ref,
            summary=summary,
            what="the booking's calendar event",
        )
