"""A provider's calendar account in memory, for the sync workflow's tests and recorded histories
(the real adapters are tested against their vendors' peers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from contract.calendars import BusyChanges, BusyEvent, CalendarInfo, EventToWrite, WrittenEvent


@dataclass
class Account:
    """A provider's calendar as the vendor holds it, and what each sync was asked."""

    events: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    asked: list[tuple[str, str | None]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    kind: str = "caldav"

    async def calendars(self) -> list[CalendarInfo]:
        return [CalendarInfo(id="work", name="Work", primary=True)]

    async def busy_changes(
        self, calendar_id: str, state: str | None, start: datetime, end: datetime
    ) -> BusyChanges:
        self.asked.append((calendar_id, state))
        if self.failures:
            raise self.failures.pop(0)
        busy = [BusyEvent(external_id=k, start=s, end=e) for k, (s, e) in self.events.items()]
        return BusyChanges(busy=busy, full=state is None, state=f"token-{len(self.asked)}")

    async def put_event(self, calendar_id: str, event: EventToWrite) -> WrittenEvent:
        raise NotImplementedError

    async def delete_event(self, calendar_id: str, booking_id: UUID) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Nothing to close."""
