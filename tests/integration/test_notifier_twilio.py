"""The Twilio adapter against a local peer: create a Message, list Messages to find one an
earlier attempt created, and which answers refuse a message for good."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from activities.notifications import sms_sender_from_settings
from activities.notifications.port import PermanentRefusal, RetryLater, SmsSender
from config import Settings
from devstack.peers.notify import TwilioPeer, twilio_error
from tests.integration.notifier_helpers import (
    PUBLIC_BASE_URL,
    an_sms,
    closed_port_url,
    settings,
)

TWILIO_SID = f"AC{'0' * 32}"
TWILIO_TOKEN = "local-peer-token"
TWILIO_NUMBER = "+15005550006"
MESSAGES = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
BASIC = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()


def twilio_settings(api_base: str, auth_token: str = TWILIO_TOKEN) -> Settings:
    return settings(
        sms_backend="twilio",
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=auth_token,
        twilio_from_number=TWILIO_NUMBER,
        twilio_api_base=api_base,
    )


@pytest.fixture
async def twilio_peer() -> AsyncIterator[TwilioPeer]:
    peer = TwilioPeer(TWILIO_SID, TWILIO_TOKEN)
    await peer.start()
    yield peer
    await peer.close()


@pytest.fixture
async def twilio(twilio_peer: TwilioPeer) -> AsyncIterator[SmsSender]:
    sender = sms_sender_from_settings(twilio_settings(twilio_peer.url))
    yield sender
    await sender.aclose()


async def test_twilio_posts_the_message_form_and_returns_its_sid(
    twilio: SmsSender, twilio_peer: TwilioPeer
) -> None:
    sms = an_sms()

    sid = await twilio.send(sms)

    [request] = twilio_peer.requests
    assert (request.method, request.path) == ("POST", MESSAGES)
    assert request.headers["Authorization"] == BASIC
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert request.form() == {
        "To": sms.to,
        "From": TWILIO_NUMBER,
        "Body": sms.body,
        "StatusCallback": f"{PUBLIC_BASE_URL}/notifications/twilio/status",
    }
    assert sid == twilio_peer.sids[0]
    assert sid.startswith("SM")


async def test_twilio_busy_or_down_means_retry_later_then_the_same_sender_sends(
    twilio: SmsSender, twilio_peer: TwilioPeer
) -> None:
    twilio_peer.answer_next(
        twilio_error(429, 20429, "Too Many Requests", headers={"Retry-After": "7"}),
        twilio_error(503, 20503, "Service unavailable"),
    )
    sms = an_sms()

    with pytest.raises(RetryLater) as limited:
        await twilio.send(sms)
    with pytest.raises(RetryLater) as down:
        await twilio.send(sms)
    sid = await twilio.send(sms)

    assert limited.value.retry_after == 7
    assert "Too Many Requests" in str(limited.value)
    assert down.value.retry_after is None
    assert sid == twilio_peer.sids[0]
    assert len(twilio_peer.requests) == 3


async def test_twilio_refusing_the_number_is_permanent(
    twilio: SmsSender, twilio_peer: TwilioPeer
) -> None:
    with pytest.raises(PermanentRefusal) as refused:
        await twilio.send(an_sms(to="07700 900123"))

    assert "21211" in str(refused.value)
    assert "Invalid 'To' Phone Number" in str(refused.value)


async def test_twilio_refusing_our_credentials_is_not_the_messages_fault(
    twilio: SmsSender, twilio_peer: TwilioPeer
) -> None:
    wrong_token = sms_sender_from_settings(twilio_settings(twilio_peer.url, "wrong-token"))
    try:
        with pytest.raises(RetryLater) as unauthenticated:
            await wrong_token.send(an_sms())
    finally:
        await wrong_token.aclose()
    twilio_peer.answer_next(twilio_error(403, 20005, "Account not active"))
    with pytest.raises(RetryLater) as forbidden:
        await twilio.send(an_sms())

    assert str(unauthenticated.value).startswith("Twilio refused our credentials (401, code 20003)")
    assert str(forbidden.value).startswith("Twilio refused our credentials (403, code 20005)")
    assert "Account not active" in str(forbidden.value)
    assert twilio_peer.sids == []


async def test_twilio_unreachable_means_retry_later() -> None:
    sender = sms_sender_from_settings(twilio_settings(closed_port_url()))
    try:
        with pytest.raises(RetryLater):
            await sender.send(an_sms())
    finally:
        await sender.aclose()


# ---------------------------------------------------------------------- already_sent


async def test_twilio_already_sent_finds_the_queued_message_with_our_body(
    twilio: SmsSender, twilio_peer: TwilioPeer
) -> None:
    since = datetime.now(UTC)
    sms = an_sms()
    sid = await twilio.send(sms)
    await twilio.send(an_sms(body="Booking cancelled."))
    await twilio.send(an_sms(to="+447700900999", body=sms.body))

    found = await twilio.already_sent(sms, since)

    # Still queued, so no date_sent: found by date_created.
    assert twilio_peer.messages[0]["date_sent"] is None
    assert found == sid
    request = twilio_peer.requests[-1]
    assert (request.method, request.path) == ("GET", MESSAGES)
    assert request.headers["Authorization"] == BASIC
    assert dict(request.query) == {"To": sms.to, "From": TWILIO_NUMBER, "PageSize": "20"}


async def test_twilio_already_sent_allows_a_minute_of_clock_skew_and_no_more(
    twilio: SmsSender, twilio_peer: TwilioPeer
) -> None:
    sms = an_sms()
    sid = await twilio.send(sms)
    created = datetime.now(UTC)
    twilio_peer.messages[0]["date_created"] = format_datetime(created)

    assert await twilio.already_sent(sms, created + timedelta(seconds=50)) == sid
    assert await twilio.already_sent(sms, created + timedelta(seconds=70)) is None


async def test_twilio_already_sent_is_none_when_no_message_has_our_body(
    twilio: SmsSender, twilio_peer: TwilioPeer
) -> None:
    since = datetime.now(UTC)
    sms = an_sms()
    await twilio.send(an_sms(to=sms.to, body="Booking cancelled."))

    assert await twilio.already_sent(sms, since) is None
    assert await twilio.already_sent(an_sms(to="+447700900555"), since) is None


async def test_twilio_already_sent_down_means_retry_later_and_a_4xx_cannot_tell(
    twilio: SmsSender, twilio_peer: TwilioPeer
) -> None:
    sms = an_sms()
    await twilio.send(sms)
    twilio_peer.answer_next(
        twilio_error(503, 20503, "Service unavailable"),
        twilio_error(429, 20429, "Too Many Requests", headers={"Retry-After": "3"}),
        twilio_error(404, 20404, "The requested resource was not found"),
    )

    with pytest.raises(RetryLater) as down:
        await twilio.already_sent(sms, datetime.now(UTC))
    with pytest.raises(RetryLater) as limited:
        await twilio.already_sent(sms, datetime.now(UTC))
    cannot_tell = await twilio.already_sent(sms, datetime.now(UTC))
    unreachable = sms_sender_from_settings(twilio_settings(closed_port_url()))
    try:
        with pytest.raises(RetryLater):
            await unreachable.already_sent(sms, datetime.now(UTC))
    finally:
        await unreachable.aclose()

    assert "503" in str(down.value)
    assert limited.value.retry_after == 3
    assert cannot_tell is None
