"""Calendar sync's one step: read each chosen calendar of a connection into its busy blocks.

A grant that no longer works marks the connection broken, with the reason the provider reads
in `GET /calendar/connections`, and ends the sync until they reconnect. A vendor that cannot
answer now makes the activity retry: after its Retry-After, else with exponential backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from uuid import UUID

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.calendars.port import (
    CalendarAccount,
    CalendarRefused,
    CalendarRetryLater,
    GrantBroken,
)
from activities.notifications.teller import Teller, sandbox_teller
from contract.calendars import ConnectionStatus, SyncReport
from contract.notifications import Kind, ProviderNotice
from db import calendar_connections as store
from db.engine import Database
from db.sealed import SealBroken
from domain.timezones import utc_now

log = logging.getLogger(__name__)
CALENDAR_BUSY = "CalendarBusy"
# Events that started a little before now still block what is left of them.
LOOK_BACK = timedelta(days=1)
# An incremental sync reports what changed, not the occurrences of an unchanged series that the
# moving horizon brings in: a full listing at least this often.
FULL_EVERY = timedelta(days=1)

OpenAccount = Callable[[store.Connection], Awaitable[CalendarAccount]]


class CalendarSyncActivities:
    def __init__(
        self,
        db: Database,
        open_account: OpenAccount,
        clock: Callable[[], datetime] = utc_now,
        *,
        teller: Teller | None = None,
    ) -> None:
        self._db = db
        self._open = open_account
        self._clock = clock
        self._teller = teller or sandbox_teller(db, clock)

    @activity.defn
    async def notify_provider(self, notice: ProviderNotice) -> None:
        """Tell the provider about their calendars, once per notice."""
        await self._teller.notify(notice)

    @activity.defn
    async def sync_calendars(self, connection_id: UUID) -> SyncReport:
        """Read every calendar the provider chose to block their time."""
        connection = await store.get(self._db, connection_id)
        if connection is None:
            return SyncReport(connection_id=connection_id, status="gone")
        if connection.status == ConnectionStatus.BROKEN:
            return _broken_report(connection)
        now = self._clock()
        try:
            account = await self._open(connection)
        except (GrantBroken, SealBroken) as broken:
            return await self._broken(connection, str(broken), now)
        try:
            return await self._read(account, connection, now)
        except GrantBroken as broken:
            return await self._broken(connection, str(broken), now)
        except CalendarRetryLater as later:
            await store.sync_failed(self._db, connection_id, str(later), now=now)
            raise ApplicationError(
                str(later),
                type=CALENDAR_BUSY,
                next_retry_delay=(
                    timedelta(seconds=later.retry_after) if later.retry_after is not None else None
                ),
            ) from later
        finally:
            await account.aclose()

    async def _read(
        self, account: CalendarAccount, connection: store.Connection, now: datetime
    ) -> SyncReport:
        horizon = timedelta(days=await store.horizon_days(self._db, connection.provider_id))
        blocks, errors = 0, []
        full_due = (
            connection.full_synced_at is None or now - connection.full_synced_at >= FULL_EVERY
        )
        for calendar_id in connection.blocking_calendars:
            state = None if full_due else connection.sync_state.get(calendar_id)
            try:
                changes = await account.busy_changes(
                    calendar_id, state, now - LOOK_BACK, now + horizon
                )
            except CalendarRefused as refused:
                # One calendar refused (deleted, no longer shared): the others still sync.
                errors.append(f"{calendar_id}: {refused}")
                continue
            blocks += await store.apply_busy_changes(
                self._db, connection, calendar_id, changes, now=now
            )
        if errors:
            await store.sync_failed(self._db, connection.id, "; ".join(errors), now=now)
        clashes = await store.conflicts(self._db, connection.id, now=now)
        notices = [
            ProviderNotice(
                provider_id=connection.provider_id,
                kind=Kind.PROVIDER_CALENDAR_CONFLICT,
                key=f"calendar-conflict:{booking_id}:{block}",
                account=connection.account,
                calendar_kind=connection.kind,
                booking_id=booking_id,
            )
            for booking_id, block in clashes
        ]
        return SyncReport(
            connection_id=connection.id,
            status=ConnectionStatus.ACTIVE,
            calendars=len(connection.blocking_calendars),
            blocks=blocks,
            error="; ".join(errors) or None,
            conflicts=len({booking_id for booking_id, _ in clashes}),
            notices=notices,
        )

    async def _broken(self, connection: store.Connection, reason: str, now: datetime) -> SyncReport:
        if await store.mark_broken(self._db, connection.id, reason, now=now):
            log.warning("calendar connection %s is broken: %s", connection.id, reason)
        broken = await store.get(self._db, connection.id)
        if broken is None:
            return SyncReport(connection_id=connection.id, status="gone")
        return _broken_report(broken)

    def all(self) -> list[Callable[..., object]]:
        return [self.sync_calendars, self.notify_provider]


def _broken_report(connection: store.Connection) -> SyncReport:
    """A broken connection, and the notice that tells its provider: one per breakage (the
    reconnect that mends it, and the next breakage, change `updated_at`)."""
    notice = ProviderNotice(
        provider_id=connection.provider_id,
        kind=Kind.PROVIDER_CALENDAR_BROKEN,
        key=f"calendar-broken:{connection.id}:{connection.updated_at.isoformat()}",
        account=connection.account,
        calendar_kind=connection.kind,
        reason=connection.broken_reason,
    )
    return SyncReport(
        connection_id=connection.id,
        status=ConnectionStatus.BROKEN,
        error=connection.broken_reason,
        notices=[notice],
    )
