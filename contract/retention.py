"""The retention workflow's messages: how long each kind of data is kept, and what was purged."""

from __future__ import annotations

from pydantic import Field

from contract.messages import Model

RETENTION_SCHEDULE_ID = "data-retention"


class RetentionPeriods(Model):
    """Days each kind of data is kept once it is no longer needed (Settings' retention_*)."""

    message_days: int = Field(gt=0)
    payment_event_days: int = Field(gt=0)
    calendar_authorization_days: int = Field(gt=0)


class RetentionRun(Model):
    periods: RetentionPeriods
    # Rows per kind per transaction, and transactions per run: a backlog drains over runs.
    batch_size: int = Field(default=500, gt=0, le=10_000)
    max_batches: int = Field(default=20, gt=0)


class RetentionBatch(Model):
    periods: RetentionPeriods
    batch_size: int = Field(gt=0)


class Purged(Model):
    """Rows purged: messages emptied of their text and address, rows deleted."""

    messages: int = 0
    payment_events: int = 0
    calendar_authorizations: int = 0

    def __add__(self, other: Purged) -> Purged:
        return Purged(
            messages=self.messages + other.messages,
            payment_events=self.payment_events + other.payment_events,
            calendar_authorizations=self.calendar_authorizations + other.calendar_authorizations,
        )

    def most(self) -> int:
        return max(self.messages, self.payment_events, self.calendar_authorizations)
