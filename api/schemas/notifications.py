from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, BaseModel

from contract.notifications import Channel, Delivery


class NotificationPublic(BaseModel):
    """One message as it was sent, and what became of it."""

    id: UUID
    appointment_id: UUID | None
    channel: Channel
    kind: str
    recipient: str
    status: Delivery
    subject: str | None
    body_text: str | None
    ics: str | None
    ics_sequence: int | None
    attempts: int
    last_error: str | None
    created_at: AwareDatetime
    sent_at: AwareDatetime | None
    delivered_at: AwareDatetime | None


class EventsHandled(BaseModel):
    # The reports that changed a message; the rest named none of ours, or one already settled.
    handled: int
