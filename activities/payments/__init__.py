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
    if settings.stripe_api_key is None:
        raise ValueError("PAYMENT_GATEWAY=stripe needs STRIPE_API_KEY, the account's secret key")
    from activities.payments.stripe_gateway import StripePaymentGateway

    return StripePaymentGateway(
        api_key=settings.stripe_api_key.get_secret_value(),
        webhook_secret=secret,
        api_base=settings.stripe_api_base,
    )
