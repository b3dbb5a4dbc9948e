from __future__ import annotations

from pydantic import BaseModel


class WebhookReceipt(BaseModel):
    received: bool = True
    handled: bool
    detail: str
