"""The notifier ports and their adapters; `email_sender_from_settings` and
`sms_sender_from_settings` pick one each."""

from __future__ import annotations

from activities.notifications.port import EmailSender, SmsSender
from config import Settings


def email_sender_from_settings(settings: Settings) -> EmailSender:
    if settings.email_backend == "sandbox":
        from activities.notifications.sandbox import SandboxEmailSender

        return SandboxEmailSender()
    if settings.email_backend == "sendgrid":
        if settings.sendgrid_api_key is None:
            raise ValueError("EMAIL_BACKEND=sendgrid needs SENDGRID_API_KEY")
        from activities.notifications.sendgrid_email import SendGridEmailSender

        return SendGridEmailSender(
            api_key=settings.sendgrid_api_key.get_secret_value(),
            from_email=settings.notify_from_email,
            from_name=settings.notify_from_name,
            api_base=settings.sendgrid_api_base,
        )
    from activities.notifications.smtp_email import SmtpEmailSender

    return SmtpEmailSender(
        host=settings.smtp_host,
        port=settings.smtp_port,
        from_email=settings.notify_from_email,
        from_name=settings.notify_from_name,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
    )


def sms_sender_from_settings(settings: Settings) -> SmsSender:
    if settings.sms_backend == "sandbox":
        from activities.notifications.sandbox import SandboxSmsSender

        return SandboxSmsSender()
    sid, token, number = (
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_from_number,
    )
    if not (sid and token and number):
        raise ValueError(
            "SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER"
        )
    from activities.notifications.twilio_sms import TwilioSmsSender

    return TwilioSmsSender(
        account_sid=sid,
        auth_token=token.get_secret_value(),
        from_number=number,
        public_base_url=settings.public_base_url,
        api_base=settings.twilio_api_base,
    )
