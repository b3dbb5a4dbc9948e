"""Every kind of message as its subject, plain text, HTML and SMS, in the reader's own time zone.

Each kind has two templates in `templates/`: `<kind>.txt.j2` with the macros `subject`, `text`
and `sms`, and `<kind>.html.j2`, autoescaped by its name, for the HTML body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from jinja2.environment import TemplateModule

from activities.notifications.facts import BookingFacts, Person
from contract.messages import Money
from contract.notifications import Kind, Tell
from domain.timezones import parse_zone

DASH = "\u2013"  # en dash, the mark between the two ends of a range
SMS_LIMIT = 320  # two concatenated segments: longer texts arrive split or not at all


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_ENV = Environment(
    loader=PackageLoader("activities.notifications", "templates"),
    autoescape=select_autoescape(["html", "html.j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# `{{ name|clip(30) }}`: what people typed is cut short where a message has little room.
_ENV.filters["clip"] = _clip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
# ISO 4217 minor-unit digits where they are not 2.
_MINOR_DIGITS = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
         "VND", "VUV", "XAF", "XOF", "XPF"),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}  # fmt: skip


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str


def render(kind: Kind, recipient: Person, facts: BookingFacts, tell: Tell) -> Rendered:
    """The message of `kind` for `recipient`; a variable a template lacks raises UndefinedError."""
    context = _context(kind, recipient, facts, tell)
    parts = _ENV.get_template(f"{kind.value}.txt.j2").make_module(context)
    subject = _one_line(_macro(parts, "subject"))
    html = _ENV.get_template(f"{kind.value}.html.j2").render(context, subject=subject)
    return Rendered(
        subject=subject,
        text=_paragraphs(_macro(parts, "text")),
        html=html,
        sms=_clip(_one_line(_macro(parts, "sms")), SMS_LIMIT),
    )


def render_notice(kind: Kind, context: dict[str, Any]) -> Rendered:
    """A notice to a provider about their calendars, from the context the teller built."""
    parts = _ENV.get_template(f"{kind.value}.txt.j2").make_module(context)
    subject = _one_line(_macro(parts, "subject"))
    html = _ENV.get_template(f"{kind.value}.html.j2").render(context, subject=subject)
    return Rendered(
        subject=subject,
        text=_paragraphs(_macro(parts, "text")),
        html=html,
        sms=_clip(_one_line(_macro(parts, "sms")), SMS_LIMIT),
    )


def format_span(
    start: datetime, end: datetime | None, zone_name: str, *, short: bool = False
) -> str:
    """`start` to `end` on the wall clock of `zone_name`, the zone named: "Thursday 10 December
    2026, 14:00-15:00 (America/New_York, EST)" with an en dash; `short` is for SMS."""
    zone = parse_zone(zone_name)
    first = start.astimezone(zone)
    last = end.astimezone(zone) if end is not None else None
    span = f"{_day(first, short)}, {first:%H:%M}"
    if last is not None:
        same_day = last.date() == first.date()
        span += f"{DASH}{last:%H:%M}" if same_day else f" {DASH} {_day(last, short)}, {last:%H:%M}"
    # An abbreviation each side when the span crosses a change of offset.
    names = dict.fromkeys(str(t.tzname()) for t in (first, last) if t is not None)
    abbreviation = "/".join(names)
    if short:
        return f"{span} {abbreviation}"
    named = zone_name if abbreviation == zone_name else f"{zone_name}, {abbreviation}"
    return f"{span} ({named})"


def format_money(price: Money | None) -> str | None:
    """E.g. "USD 50.00", "JPY 5,000"; None for a free booking."""
    if price is None or price.amount == 0:
        return None
    digits = _MINOR_DIGITS.get(price.currency, 2)
    major, minor = divmod(price.amount, 10**digits)
    return f"{price.currency} {major:,}" + (f".{minor:0{digits}d}" if digits else "")


def lead_phrase(minutes: int | None) -> str:
    """How long before the start a reminder arrives: "in 24 hours", "in 1 hour", "in 2 days"."""
    if not minutes or minutes <= 0:
        return "soon"
    days, rest = divmod(minutes, 24 * 60)
    if days >= 2 and rest == 0:
        return f"in {days} days"
    hours, mins = divmod(minutes, 60)
    parts = [_count(n, unit) for n, unit in ((hours, "hour"), (mins, "minute")) if n]
    return "in " + " and ".join(parts)


def _context(kind: Kind, recipient: Person, facts: BookingFacts, tell: Tell) -> dict[str, Any]:
    zone = recipient.timezone
    previous = tell.previous_start
    price = format_money(facts.price)
    to_provider = kind.value.startswith("provider_")
    return {
        "recipient_name": recipient.name,
        "service": facts.service_name,
        "customer_name": facts.customer.name,
        "customer_email": facts.customer.email,
        "provider_name": facts.provider.name,
        "when": format_span(facts.start, facts.end, zone),
        "when_short": format_span(facts.start, facts.end, zone, short=True),
        "previous_when": format_span(previous, None, zone) if previous else None,
        "previous_when_short": format_span(previous, None, zone, short=True) if previous else None,
        "price": price,
        "lead": lead_phrase(tell.lead_minutes),
        "who_cancelled": _who_cancelled(tell.by, facts, to_provider),
        "refund_note": _refund_note(tell.refunded, price, to_provider),
        "reason": (tell.reason or "").strip(),
        "link": facts.link,
        "approve_url": f"{facts.link}/approve",
        "decline_url": f"{facts.link}/decline",
    }


def _who_cancelled(by: str | None, facts: BookingFacts, to_provider: bool) -> str:
    if by == ("provider" if to_provider else "customer"):
        return "You cancelled this booking."
    if by == "customer":
        return f"{facts.customer.name} cancelled this booking."
    if by == "provider":
        return f"{facts.provider.name} cancelled this booking."
    if by == "admin":
        return "Our support team cancelled this booking."
    return "This booking was cancelled."


def _refund_note(refunded: bool | None, price: str | None, to_provider: bool) -> str:
    """What became of the payment: `refunded` is None when nothing was paid."""
    paid = f"payment of {price}" if price else "payment"
    whose = "The customer's" if to_provider else "Your"
    if refunded is None:
        return "No payment was taken." if to_provider else "Nothing was charged."
    if refunded:
        return f"{whose} {paid} is refunded."
    return f"{whose} {paid} is not refunded."


def _day(instant: datetime, short: bool) -> str:
    day, month = _DAYS[instant.weekday()], _MONTHS[instant.month - 1]
    if short:
        return f"{day[:3]} {instant.day} {month[:3]} {instant.year}"
    return f"{day} {instant.day} {month} {instant.year}"


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _macro(module: TemplateModule, name: str) -> str:
    """What the template's macro `name` produces (macros are attributes mypy cannot see)."""
    return str(getattr(module, name)())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _paragraphs(text: str) -> str:
    """Lines as written, without the indentation and blank runs templates leave behind."""
    lines = [line.strip() for line in text.strip().splitlines()]
    kept = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]
    return "\n".join(kept) + "\n"
