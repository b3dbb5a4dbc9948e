"""CalDAV's answers read from the raw response: multistatus bodies, and a status that is a
refusal, a broken login or a reason to retry later (caldav's own errors drop the status, the
body and Retry-After)."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree

import requests

from activities.calendars.port import (
    CalendarRefused,
    CalendarRetryLater,
    GrantBroken,
    retry_after_seconds,
)

LOGIN_REFUSED = "the server refused the user name or app password"
D, C = "{DAV:}", "{urn:ietf:params:xml:ns:caldav}"


class TokenRefused(Exception):
    """The server no longer knows the sync token: list everything."""


@dataclass(frozen=True)
class Entry:
    """One `response` of a multistatus: its href, its status, its found (200) properties."""

    href: str
    status: int
    props: dict[str, ElementTree.Element]

    def text(self, tag: str) -> str | None:
        prop = self.props.get(tag)
        return None if prop is None else prop.text or ""

    def components(self) -> set[str] | None:
        prop = self.props.get(f"{C}supported-calendar-component-set")
        names = {c.get("name", "").upper() for c in prop.iter(f"{C}comp")} if prop else set()
        return names or None


def multistatus(response: requests.Response) -> tuple[list[Entry], str | None]:
    """The entries of a 207 answer, and its sync-token if it has one."""
    try:
        root = ElementTree.fromstring(response.content)
    except ElementTree.ParseError as err:
        raise CalendarRefused(f"the CalDAV server's answer is not XML: {err}") from err
    if root.tag != f"{D}multistatus":
        raise CalendarRefused(f"the CalDAV server answered {root.tag}, not a multistatus")
    entries = []
    for item in root.iterfind(f"{D}response"):
        props = {
            prop.tag: prop
            for propstat in item.iterfind(f"{D}propstat")
            if _status(propstat.findtext(f"{D}status")) == 200
            for prop in propstat.iterfind(f"{D}prop/*")
        }
        href = (item.findtext(f"{D}href") or "").strip()
        entries.append(Entry(href, _status(item.findtext(f"{D}status")), props))
    return entries, root.findtext(f"{D}sync-token")


def _status(line: str | None) -> int:
    """`HTTP/1.1 404 Not Found` → 404; no status line means 200."""
    try:
        return int((line or "").split()[1])
    except (IndexError, ValueError):
        return 200


def href_in(entries: list[Entry], tag: str) -> str | None:
    for entry in entries:
        prop = entry.props.get(tag)
        href = prop.findtext(f"{D}href") if prop is not None else None
        if href and href.strip():
            return href.strip()
    return None


def expect(response: requests.Response, ok: set[int], what: str, *, login: bool = False) -> None:
    """Raise the port's error for an answer not in `ok`: 401 (or 403 while logging in) breaks
    the grant; 429 and 5xx but 501 retry; any other answer is refused."""
    status = response.status_code
    if status in ok:
        return
    said = f"{what}: the CalDAV server answered {status} {response.reason or ''}".rstrip()
    if status == 401 or (login and status == 403):
        raise GrantBroken(LOGIN_REFUSED)
    if status == 429 or (500 <= status < 600 and status != 501):
        raise CalendarRetryLater(said, retry_after_seconds(response.headers.get("Retry-After")))
    precondition = _precondition(response)
    said += f" ({precondition})" if precondition else ""
    hint = "; is it the CalDAV address your provider documents?" if login else ""
    raise CalendarRefused(said + hint)


def _precondition(response: requests.Response) -> str | None:
    """The DAV:error the server named (e.g. no-uid-conflict), if it named one."""
    try:
        root = ElementTree.fromstring(response.content)
    except ElementTree.ParseError:
        return None
    return root[0].tag.rpartition("}")[2] if root.tag == f"{D}error" and len(root) else None
