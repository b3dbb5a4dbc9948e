"""The retention workflow's one activity: purge a batch of each kind of data past its period."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import activity

from contract.retention import Purged, RetentionBatch
from db import retention
from db.engine import Database
from domain.timezones import utc_now


class RetentionActivities:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self._clock = clock

    @activity.defn
    async def purge_past_retention(self, batch: RetentionBatch) -> Purged:
        return await retention.purge(
            self._db, batch.periods, batch_size=batch.batch_size, now=self._clock()
        )

    def all(self) -> list[Callable[..., Any]]:
        return [self.purge_past_retention]
