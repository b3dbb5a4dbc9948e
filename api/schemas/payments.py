from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class WebhookReceipt(BaseModel):
    received: bool = True
    handled: bool
    # A repeat of an event already acted on: nothing was done again.
    duplicate: bool = False
    detail: str


class PaymentConfigPublic(BaseModel):
    """What a checkout page needs to take a payment: nothing secret."""

    gateway: Literal["sandbox", "stripe"]
    publishable_key: str | None = Field(
        description="Stripe's publishable key for Stripe.js; null with the sandbox, or unset"
    )
