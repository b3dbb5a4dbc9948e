"""The payment port and its adapters; `gateway_from_settings` picks one."""

from __future__ import annotations

from activities.payments.port import PaymentGateway
from config import Settings
from db.engine import Database


def gateway_from_settings(settings: Settings, db: Database) -> PaymentGateway:
    secret = settings.payment_webhook_secret.get_secret_value()
    if settings.payment_gateway == "sandbox":
        from activities.payments.sandbox import SandboxPaymentGateway

        return SandboxPaymentGateway(db, secret)
    raise NotImplementedError("the Stripe gateway is not wired yet; use PAYMENT_GATEWAY=sandbox")
