"""Every refusal the booking page can meet has its own sentence in web/src/shared/errors.ts."""

from __future__ import annotations

import re
from pathlib import Path

from contract.errors import REFUSALS

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = ROOT / "web" / "src" / "shared" / "errors.ts"
# What the booking page calls, and what every request may meet on the way.
SOURCES = (
    "api/errors.py",
    "api/deps.py",
    "api/limits.py",
    "api/rate_limiter.py",
    "api/security.py",
    "api/slot_gate.py",
    "api/routes/auth.py",
    "api/routes/appointments.py",
    "api/routes/sandbox.py",
    "api/routes/providers.py",
    "api/routes/users.py",
    "domain/availability.py",
)


def codes_the_page_can_meet() -> set[str]:
    codes = set(REFUSALS.values())
    for name in SOURCES:
        text = (ROOT / name).read_text(encoding="utf-8")
        codes |= set(re.findall(r'APIError\(\s*\d{3},\s*"([a-z_]+)"', text))
        codes |= {f"{kind}_not_found" for kind in re.findall(r'not_found\("([a-z_]+)"\)', text)}
        codes |= set(re.findall(r'SlotNotBookable\(\s*"([a-z_]+)"', text))
    return codes


def test_every_code_has_a_sentence() -> None:
    text = SENTENCES.read_text(encoding="utf-8")
    mapped = set(re.findall(r"^\s+([a-z]+(?:_[a-z]+)*):\s", text, re.MULTILINE))
    codes = codes_the_page_can_meet()
    assert {"slot_unavailable", "off_grid", "too_soon", "invalid_credentials"} <= codes
    missing = sorted(codes - mapped)
    assert not missing, (
        f"add a sentence for these codes to {SENTENCES.relative_to(ROOT)}: {missing}"
    )
