"""The Twilio adapter: Programmable Messaging through the twilio SDK's async client.

`status_callback` sends Twilio's delivery reports to our API, which finds the row by SID.
Whether an earlier attempt got through is read from Twilio's list of Messages.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import httpx
from twilio.base.exceptions import (  # type: ignore[import-untyped]
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http import AsyncHttpClient  # type: ignore[import-untyped]
from twilio.http.response import Response  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]

from activities.notifications.port import CLOCK_SKEW, PermanentRefusal, RetryLater
from contract.notifications import Sms

TWILIO_API = "https://api.twilio.com"
REQUEST_TIMEOUT_SECONDS = 10
TOO_MANY_REQUESTS = 429
# Our Account SID and Auth Token refused (401), or the account not allowed (403).
CREDENTIALS_REFUSED = frozenset({401, 403})
# How many of the newest messages to our recipient `already_sent` reads: one page.
RECENT_MESSAGES = 20


class TwilioHttpClient(AsyncHttpClient):  # type: ignore[misc]  # untyped SDK
    """The SDK's async transport on httpx, sent to `api_base` instead of Twilio when set.

    Not the SDK's AsyncTwilioHttpClient: it passes aiohttp's deprecated BasicAuth, ignores its
    timeout and needs a running loop to be built. The SDK's exceptions drop the response
    headers, so a 429's Retry-After is read here.
    """

    def __init__(self, api_base: str | None = None) -> None:
        super().__init__(logging.getLogger(__name__), True, REQUEST_TIMEOUT_SECONDS)
        self._api_base = api_base.rstrip("/") if api_base else None
        self._http = httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS)

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  # the SDK calls it so
        allow_redirects: bool = False,
    ) -> Any:
        if self._api_base and url.startswith(TWILIO_API):
            url = self._api_base + url.removeprefix(TWILIO_API)
        response = await self._http.request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout or self.timeout,
            follow_redirects=allow_redirects,
        )
        if response.status_code == TOO_MANY_REQUESTS:
            raise RetryLater(
                f"Twilio answered 429: {_message(response.text)}",
                _seconds(response.headers.get("Retry-After")),
            )
        return Response(response.status_code, response.text, response.headers)

    async def close(self) -> None:
        await self._http.aclose()


class TwilioSmsSender:
    """SmsSender on Twilio; `api_base` points the SDK at another host (a local peer)."""

    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        public_base_url: str,
        api_base: str | None = None,
    ) -> None:
        self._http = TwilioHttpClient(api_base)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        self._from = from_number
        self._status_callback = f"{public_base_url.rstrip('/')}/notifications/twilio/status"

    async def send(self, sms: Sms) -> str:
        try:
            message = await self._client.messages.create_async(
                to=sms.to, from_=self._from, body=sms.body, status_callback=self._status_callback
            )
        except (TwilioRestException, TwilioServiceException) as err:
            raise _refusal_or_retry(err) from err
        except httpx.TransportError as err:
            raise RetryLater(f"Twilio could not be reached: {err!r}") from err
        sid: str = message.sid
        return sid

    async def already_sent(self, sms: Sms, since: datetime) -> str | None:
        """The SID of a message from our number to `sms.to` with our body, created at or after
        `since` less CLOCK_SKEW, among the newest Twilio lists (`GET .../Messages.json` with To,
        From and PageSize, answered `{"messages": [...], "page", "next_page_uri", ...}`).

        Not filtered by DateSent: a message still queued has none. A 4xx cannot tell (None).
        """
        earliest = since - CLOCK_SKEW
        try:
            recent = await self._client.messages.list_async(
                to=sms.to, from_=self._from, limit=RECENT_MESSAGES
            )
        except TwilioException as err:
            status = _list_status(err)
            if status is not None and status >= 500:
                raise RetryLater(f"Twilio could not list messages ({status})") from err
            return None  # a 4xx, or a body the SDK could not read
        except httpx.TransportError as err:
            raise RetryLater(f"Twilio could not be reached: {err!r}") from err
        except ValueError:  # a 200 whose body is not JSON: it cannot tell
            return None
        for message in recent:
            created = message.date_created
            if message.body == sms.body and created is not None and created >= earliest:
                sid: str = message.sid
                return sid
        return None

    async def aclose(self) -> None:
        """Close the pooled HTTP connections."""
        await self._http.close()


def _refusal_or_retry(err: Any) -> PermanentRefusal | RetryLater:
    """Map Twilio's answer: 5xx and our credentials refused pass; any other 4xx is for good
    (429 is read earlier)."""
    # str(err) is a coloured, multi-line report; msg (legacy) or detail (RFC 9457) is the point.
    said = getattr(err, "msg", None) or getattr(err, "detail", None) or getattr(err, "title", "")
    if err.status in CREDENTIALS_REFUSED:
        return RetryLater(f"Twilio refused our credentials ({err.status}, code {err.code}): {said}")
    detail = f"Twilio answered {err.status} (code {err.code}): {said}"
    if err.status == TOO_MANY_REQUESTS or err.status >= 500:
        return RetryLater(detail)
    return PermanentRefusal(detail)


def _list_status(err: TwilioException) -> int | None:
    """The HTTP status of a failed list: the SDK's pages raise a bare TwilioException carrying
    the response; None when it carries none (a body it could not read)."""
    if isinstance(err, TwilioRestException | TwilioServiceException):
        status: int = err.status
        return status
    response = err.args[1] if len(err.args) > 1 else None
    return response.status_code if isinstance(response, Response) else None


def _message(body: str) -> str:
    """The `message` of Twilio's error body, else the body."""
    try:
        return str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        return body


def _seconds(value: str | None) -> float | None:
    """Retry-After in its delta-seconds form; None when absent or a date."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
