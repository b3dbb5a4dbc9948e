"""The calendar sync's lines in the table, and its target: one page for an incremental sync."""

from __future__ import annotations

from typing import Any


def sync_target(adapter: dict[str, Any]) -> dict[str, Any]:
    """Met when the incremental sync after one change read one page and found the change;
    an authentication round trip before it is said, not counted as a page."""
    sync = adapter["incremental"]
    name = f"{adapter['adapter']}: incremental sync after one change in one page"
    met = sync["pages"] == 1 and adapter["saw_change"] and not sync["full_listing"]
    found: dict[str, Any] = {
        "target": name,
        "measured": sync["pages"],
        "status": "met" if met else "NOT MET",
    }
    if not adapter["saw_change"]:
        found["failure"] = "the incremental answer did not hold the changed event"
    elif sync["full_listing"]:
        found["failure"] = "the incremental sync fell back to a full listing"
    if sync["requests"] != sync["pages"]:
        others = sync["requests"] - sync["pages"] - sync["auth"]
        found["note"] = (
            f"{sync['requests']} requests in all: {sync['pages']} for pages, {sync['auth']} for "
            "authentication"
            + (f", {others} other" if others else "")
            + (f" ({adapter['auth_is']})" if sync["auth"] else "")
        )
    return found


# Each half of the table: (column, its key in the sync's figures, width).
FULL = (
    ("requests", "requests", 9),
    ("pages", "pages", 6),
    ("auth", "auth", 5),
    ("busy", "busy", 7),
    ("s", "seconds", 7),
)
INCREMENTAL = (
    ("requests", "requests", 9),
    ("pages", "pages", 6),
    ("auth", "auth", 5),
    ("busy", "busy", 5),
    ("removed", "removed", 8),
    ("s", "seconds", 7),
)


def sync_lines(section: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"Calendar sync, a calendar of {section['events']} events per adapter: a full sync; "
        f"{section['change']};",
        "  then an incremental sync from the full one's state",
        f"  {'':<10}{'page':>6}   full:{_heads(FULL)}   incremental:{_heads(INCREMENTAL)}",
    ]
    for adapter in section["adapters"]:
        page = adapter["page_size"] or "whole"
        lines.append(
            f"  {adapter['adapter']:<10}{page:>6}        {_cells(FULL, adapter['full'])}"
            f"               {_cells(INCREMENTAL, adapter['incremental'])}"
        )
    lines.append(
        "  auth: requests spent on authentication (a 401 challenge, a token); s: wall time, "
        "the local peer's or Radicale's own work included"
    )
    return lines


def _heads(columns: tuple[tuple[str, str, int], ...]) -> str:
    return "".join(f"{head:>{width}}" for head, _, width in columns)


def _cells(columns: tuple[tuple[str, str, int], ...], figures: dict[str, Any]) -> str:
    def cell(value: Any, width: int) -> str:
        return f"{value:>{width}.2f}" if isinstance(value, float) else f"{value:>{width}}"

    return "".join(cell(figures[key], width) for _, key, width in columns)
