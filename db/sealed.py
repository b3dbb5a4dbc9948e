"""Secrets at rest (calendar grants and passwords): sealed with MultiFernet.

The first key of CALENDAR_SECRET_KEYS seals; every key opens, so keys rotate without a
migration: put the new key first, `reseal` what is stored, then drop the old key.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from config import Settings, parse_calendar_keys


class SealBroken(Exception):
    """Stored ciphertext that no configured key opens (a key dropped too early)."""


class Sealer:
    def __init__(self, keys: list[str]) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        return cls(parse_calendar_keys(settings.calendar_secret_keys.get_secret_value()))

    def seal(self, value: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        try:
            opened: dict[str, Any] = json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken:
            raise SealBroken(
                "no key in CALENDAR_SECRET_KEYS opens this secret: was its key removed?"
            ) from None
        return opened

    def reseal(self, sealed: str) -> str:
        """The same secret under the first key."""
        return self._fernet.rotate(sealed.encode()).decode()
