"""The SendGrid adapter: v3 mail send through the sendgrid SDK, run in a thread.

The SDK is synchronous (urllib); `asyncio.to_thread` keeps the worker's event loop free while
it waits. Our message id rides in `custom_args`, so SendGrid's event webhook names the row, and
the Email Activity API can tell whether an earlier attempt got through.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import time
from datetime import datetime
from typing import Any

from python_http_client.exceptions import HTTPError  # type: ignore[import-untyped]
from sendgrid import SendGridAPIClient  # type: ignore[import-untyped]
from sendgrid.helpers.mail import (  # type: ignore[import-untyped]
    Attachment,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    From,
    Header,
    Mail,
    To,
)

from activities.notifications.port import PermanentRefusal, RetryLater, stable_message_id
from contract.notifications import Email

SENDGRID_API = "https://api.sendgrid.com"
REQUEST_TIMEOUT_SECONDS = 10
TOO_MANY_REQUESTS = 429
# Our API key refused (401), or refused this (403: a missing scope, an unverified sender).
CREDENTIALS_REFUSED = frozenset({401, 403})
# The custom_args key our message id goes under; the Email Activity API calls these unique_args.
MESSAGE_ID_ARG = "message_id"


class SendGridEmailSender:
    """EmailSender on SendGrid; `api_base` points the SDK at another host (a local peer)."""

    name = "sendgrid"

    def __init__(
        self, *, api_key: str, from_email: str, from_name: str, api_base: str | None = None
    ) -> None:
        self._client = SendGridAPIClient(api_key=api_key, host=api_base or SENDGRID_API)
        self._from = From(from_email, from_name)

    async def send(self, email: Email) -> str | None:
        body = self._mail(email).get()
        try:
            response = await asyncio.to_thread(self._post, body)
        except HTTPError as err:
            raise _refusal_or_retry(err) from err
        except (OSError, http.client.HTTPException) as err:
            raise RetryLater(f"SendGrid could not be reached: {err}") from err
        message_id: str | None = response.headers.get("X-Message-Id")
        return message_id

    async def already_sent(self, email: Email, since: datetime) -> str | None:
        """Ask the Email Activity API for the message carrying our id: `GET /v3/messages` with
        `query=unique_args['message_id']="<uuid>"`, answered `{"messages": [{"msg_id", ...}]}`.

        Returns the X-Message-Id `send` would have (msg_id up to its first dot). The id is ours
        alone, so `since` is not needed. Without the paid Email Activity add-on (403/404) or the
        message not listed yet (the feed lags by seconds to minutes) it cannot tell: None.
        """
        query = f"unique_args['{MESSAGE_ID_ARG}']=\"{email.message_id}\""
        try:
            response = await asyncio.to_thread(self._activity, query)
        except HTTPError as err:
            detail = f"SendGrid's Email Activity answered {err.status_code}"
            if err.status_code == TOO_MANY_REQUESTS:
                raise RetryLater(detail, _retry_after(err.headers)) from err
            if err.status_code >= 500:
                raise RetryLater(detail) from err
            return None
        except (OSError, http.client.HTTPException) as err:
            raise RetryLater(f"SendGrid could not be reached: {err}") from err
        try:
            msg_id = json.loads(response.body)["messages"][0]["msg_id"]
        except (ValueError, KeyError, IndexError, TypeError):
            return None
        return msg_id.split(".", 1)[0] if isinstance(msg_id, str) and msg_id else None

    async def aclose(self) -> None:
        """Nothing to close: urllib opens a connection per request."""

    def _post(self, body: dict[str, Any]) -> Any:
        return self._client.client.mail.send.post(
            request_body=body, timeout=REQUEST_TIMEOUT_SECONDS
        )

    def _activity(self, query: str) -> Any:
        return self._client.client.messages.get(
            query_params={"limit": 1, "query": query}, timeout=REQUEST_TIMEOUT_SECONDS
        )

    def _mail(self, email: Email) -> Mail:
        mail = Mail(
            from_email=self._from,
            to_emails=To(email.to, email.to_name),
            subject=email.subject,
            plain_text_content=email.text,
            html_content=email.html,
        )
        if email.ics is not None:
            content_type = "text/calendar"
            if email.ics_method:
                content_type += f"; method={email.ics_method}"
            mail.attachment = Attachment(
                FileContent(base64.b64encode(email.ics.encode()).decode("ascii")),
                FileName("invite.ics"),
                FileType(content_type),
                Disposition("attachment"),
            )
        mail.custom_arg = CustomArg(MESSAGE_ID_ARG, str(email.message_id))
        # Message-ID is not among the headers SendGrid reserves (the SDK's Header lists them).
        mail.header = Header("Message-ID", stable_message_id(email.message_id, self._from.email))
        return mail


def _refusal_or_retry(err: Any) -> PermanentRefusal | RetryLater:
    """Map SendGrid's answer: 429, 5xx and our key refused pass; any other 4xx is for good."""
    status: int = err.status_code
    said = _error_messages(err.body) or err.reason
    if status in CREDENTIALS_REFUSED:
        return RetryLater(f"SendGrid refused our API key ({status}): {said}")
    detail = f"SendGrid answered {status}: {said}"
    if status == TOO_MANY_REQUESTS:
        return RetryLater(detail, _retry_after(err.headers))
    if status >= 500:
        return RetryLater(detail)
    return PermanentRefusal(detail)


def _error_messages(body: bytes) -> str:
    """The messages of SendGrid's `{"errors": [{"message", "field", "help"}]}` body."""
    try:
        errors = json.loads(body)["errors"]
        return "; ".join(
            f"{e['field']}: {e['message']}" if e.get("field") else str(e["message"]) for e in errors
        )
    except (ValueError, KeyError, TypeError):
        return ""


def _retry_after(headers: Any) -> float | None:
    """Retry-After's seconds, else the wait until X-RateLimit-Reset (the header SendGrid
    documents on its 429s, a Unix time)."""
    for name, since in (("Retry-After", 0.0), ("X-RateLimit-Reset", time.time())):
        try:
            return max(0.0, float(headers[name]) - since)
        except (KeyError, TypeError, ValueError):
            continue  # absent (an HTTPMessage answers None) or not a number
    return None
