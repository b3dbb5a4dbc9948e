"""Reminder lead times: minutes before the start, kept as text ("1440,60") on the service."""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_LEADS_MINUTES: tuple[int, ...] = (24 * 60, 60)
MAX_LEAD_MINUTES = 30 * 24 * 60
MAX_REMINDERS = 5


def leads_to_text(leads: Iterable[int]) -> str:
    """Distinct leads, longest first (the order they fall due)."""
    return ",".join(str(lead) for lead in sorted(set(leads), reverse=True))


def leads_from_text(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())
