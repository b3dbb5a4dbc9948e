from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload

from config import DEV_PAYLOAD_ENCRYPTION_KEYS, Settings
from workflows.codec import EncryptionCodec, PayloadDecryptionError, data_converter

OLD, NEW = os.urandom(32), os.urandom(32)
SECRET = b'{"client_secret": "pi_123_secret_very_private", "booking_id": "b-42"}'


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def _plain() -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=SECRET)


def _keys(*pairs: tuple[str, bytes]) -> str:
    return ",".join(f"{key_id}:{base64.b64encode(key).decode()}" for key_id, key in pairs)


async def test_a_payload_round_trips_and_its_ciphertext_hides_the_plaintext() -> None:
    codec = EncryptionCodec({"k1": OLD})
    [encrypted] = await codec.encode([_plain()])
    assert encrypted.metadata["encoding"] == b"binary/encrypted"
    assert encrypted.metadata["encryption-key-id"] == b"k1"
    assert b"client_secret" not in encrypted.SerializeToString()
    assert b"json/plain" not in encrypted.SerializeToString()
    assert await codec.decode([encrypted]) == [_plain()]


async def test_the_same_payload_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec({"k1": OLD})
    first, second = await codec.encode([_plain(), _plain()])
    assert first.data[:12] != second.data[:12] and first.data != second.data


async def test_a_payload_under_the_old_key_stays_readable_after_rotation() -> None:
    [written_before] = await EncryptionCodec({"old": OLD}).encode([_plain()])
    rotated = EncryptionCodec({"new": NEW, "old": OLD})
    [written_after] = await rotated.encode([_plain()])
    assert written_after.metadata["encryption-key-id"] == b"new"
    assert await rotated.decode([written_before, written_after]) == [_plain(), _plain()]


async def test_rotation_through_settings_puts_the_first_key_in_charge() -> None:
    before = data_converter(_settings(payload_encryption_keys=_keys(("old", OLD))))
    after = data_converter(_settings(payload_encryption_keys=_keys(("new", NEW), ("old", OLD))))
    assert before.payload_codec is not None and after.payload_codec is not None
    [old_payload] = await before.payload_codec.encode([_plain()])
    assert await after.payload_codec.decode([old_payload]) == [_plain()]
    [new_payload] = await after.payload_codec.encode([_plain()])
    assert new_payload.metadata["encryption-key-id"] == b"new"


async def test_an_unknown_key_id_is_an_error_not_a_passthrough() -> None:
    [encrypted] = await EncryptionCodec({"retired": OLD}).encode([_plain()])
    with pytest.raises(PayloadDecryptionError, match=r"'retired'.*not in PAYLOAD_ENCRYPTION_KEYS"):
        await EncryptionCodec({"k1": NEW}).decode([encrypted])


async def test_a_tampered_payload_is_refused() -> None:
    codec = EncryptionCodec({"k1": OLD})
    [encrypted] = await codec.encode([_plain()])
    flipped = bytearray(encrypted.data)
    flipped[-1] ^= 1
    tampered = Payload(metadata=dict(encrypted.metadata), data=bytes(flipped))
    with pytest.raises(PayloadDecryptionError, match="tampered"):
        await codec.decode([tampered])
    truncated = Payload(metadata=dict(encrypted.metadata), data=encrypted.data[:5])
    with pytest.raises(PayloadDecryptionError, match="tampered"):
        await codec.decode([truncated])


async def test_the_same_key_id_with_another_key_is_refused() -> None:
    [encrypted] = await EncryptionCodec({"k1": OLD}).encode([_plain()])
    with pytest.raises(PayloadDecryptionError):
        await EncryptionCodec({"k1": NEW}).decode([encrypted])


async def test_a_payload_from_before_encryption_passes_through_decode() -> None:
    codec = EncryptionCodec({"k1": OLD})
    binary_null = Payload(metadata={"encoding": b"binary/null"})
    assert await codec.decode([_plain(), binary_null]) == [_plain(), binary_null]


def test_settings_parse_standard_and_urlsafe_keys_in_order() -> None:
    urlsafe = base64.urlsafe_b64encode(b"\xfb" * 32).decode().rstrip("=")
    settings = _settings(payload_encryption_keys=f"a:{urlsafe}, b:{base64.b64encode(OLD).decode()}")
    assert settings.payload_keys == {"a": b"\xfb" * 32, "b": OLD}
    assert next(iter(settings.payload_keys)) == "a"


def test_development_runs_on_the_dev_key() -> None:
    settings = _settings()
    assert settings.payload_encryption_keys.get_secret_value() == DEV_PAYLOAD_ENCRYPTION_KEYS
    assert len(settings.payload_keys["dev"]) == 32


@pytest.mark.parametrize(
    "keys",
    [DEV_PAYLOAD_ENCRYPTION_KEYS, f"{_keys(('prod', NEW))},{DEV_PAYLOAD_ENCRYPTION_KEYS}"],
)
def test_production_refuses_the_dev_key(keys: str) -> None:
    real = {
        "jwt_secret": "real-secret-value-xyz",
        "payment_webhook_secret": "whsec_real",
        "payment_gateway": "stripe",
        "stripe_api_key": "sk_live_real",
        "stripe_publishable_key": "pk_live_real",
        "calendar_secret_keys": base64.urlsafe_b64encode(b"c" * 32).decode(),
        "metrics_token": "a-scraper-token",
    }
    with pytest.raises(ValidationError, match="must not contain the development key"):
        _settings(environment="production", payload_encryption_keys=keys, **real)
    assert _settings(environment="production", payload_encryption_keys=_keys(("p", NEW)), **real)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("", "must look like id1:base64key1"),
        ("k1", "must look like id1:base64key1"),
        (f":{base64.b64encode(OLD).decode()}", "must look like id1:base64key1"),
        ("k1:not base64!!", "'k1' is not base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "'k1' must be 32 bytes"),
        (_keys(("k1", OLD), ("k1", NEW)), "names key id 'k1' twice"),
    ],
)
def test_malformed_keys_are_refused_without_echoing_them(keys: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        _settings(payload_encryption_keys=keys)
    if keys:
        assert keys not in str(raised.value)
