from __future__ import annotations

from pydantic import BaseModel


class WebhookReceipt(BaseModel):
    received: bool = True
    handled: bool
    # A repeat of an event already acted on: nothing was done again.
    duplicate: bool = False
    detail: str
