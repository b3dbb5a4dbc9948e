"""Stripe's webhook format, which the sandbox and (later) Stripe itself both speak."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest

from activities.payments.events import parse_payment_event, sign
from activities.payments.port import InvalidWebhook

SECRET = "whsec_test_secret"


def _event(kind: str = "payment_intent.succeeded", **intent: object) -> bytes:
    body = {
        "id": "evt_1",
        "object": "event",
        "type": kind,
        "data": {
            "object": {
                "id": "pi_1",
                "object": "payment_intent",
                "amount": 4250,
                "currency": "eur",
                "metadata": {"booking_id": str(uuid.UUID(int=7))},
                **intent,
            }
        },
    }
    return json.dumps(body).encode()


def test_the_signature_is_stripes_scheme() -> None:
    payload, now = _event(), int(time.time())
    expected = hmac.new(SECRET.encode(), f"{now}.".encode() + payload, hashlib.sha256).hexdigest()
    assert sign(payload, SECRET, timestamp=now) == f"t={now},v1={expected}"


def test_a_signed_success_reads_as_a_payment_event() -> None:
    payload = _event()
    event = parse_payment_event(payload, sign(payload, SECRET), SECRET)
    assert event is not None
    assert (event.intent_id, event.booking_id, event.succeeded) == ("pi_1", uuid.UUID(int=7), True)
    assert (event.amount, event.currency) == (4250, "EUR")


def test_a_signed_failure_carries_the_reason() -> None:
    payload = _event(
        "payment_intent.payment_failed", last_payment_error={"message": "Insufficient funds."}
    )
    event = parse_payment_event(payload, sign(payload, SECRET), SECRET)
    assert event is not None and not event.succeeded
    assert event.failure_message == "Insufficient funds."


def test_other_event_types_are_genuine_but_not_ours() -> None:
    payload = _event("charge.refunded")
    assert parse_payment_event(payload, sign(payload, SECRET), SECRET) is None


@pytest.mark.parametrize(
    "payload",
    [_event(metadata={}), _event(metadata={"booking_id": "x"}), _event(amount="lots")],
)
def test_a_verified_intent_event_without_our_booking_is_not_ours(payload: bytes) -> None:
    """Acknowledged, not refused: a 400 would have the gateway retry it for days."""
    assert parse_payment_event(payload, sign(payload, SECRET), SECRET) is None


@pytest.mark.parametrize(
    ("payload", "header"),
    [
        (_event(), None),
        (_event(), ""),
        (_event(), "t=1,v1=deadbeef"),
        (_event(), sign(_event(), "whsec_other")),
        (_event(), sign(_event(), SECRET, timestamp=int(time.time()) - 3600)),
        (_event(amount=1), sign(_event(), SECRET)),  # body changed after signing
        (b"\xff\xfe", sign(b"\xff\xfe", SECRET)),
        (b"not json", sign(b"not json", SECRET)),
        (b'{"object": "list"}', sign(b'{"object": "list"}', SECRET)),
    ],
)
def test_anything_forged_stale_or_malformed_is_refused(payload: bytes, header: str | None) -> None:
    with pytest.raises(InvalidWebhook):
        parse_payment_event(payload, header, SECRET)
