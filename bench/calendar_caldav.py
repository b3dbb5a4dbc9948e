"""CalDAV sync cost against a real Radicale (tests/integration/radicale_server.py).

The calendar is made with MKCALENDAR; its events are then written straight into Radicale's
storage folder as `<uid>.ics` files, since 10,000 PUTs would take minutes and Radicale reads a
collection's folder on every request. The one change is a PUT from another client, as the
owner's calendar app makes it. The adapter's requests are counted by a response hook on its
requests session, so the login challenge (a 401, then the request again with credentials)
counts as the round trip it is.
"""

from __future__ import annotations

import asyncio
import configparser
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx
import requests

from activities.calendars.caldav_account import CalDavAccount
from activities.calendars.port import CalendarAccount
from bench.sync_cost import Result, Seen, Subject, Window, changed_index, measure, spans
from tests.integration.caldav_events import ics, new_calendar
from tests.integration.radicale_server import Radicale, start_radicale

WARM_UP_TIMEOUT_S = 600


async def caldav(events: int, window: Window) -> Result:
    root = Path(tempfile.mkdtemp(prefix="bench-radicale-"))
    try:
        server, running = await asyncio.to_thread(start_radicale, root)
        try:
            calendar_url = await asyncio.to_thread(_fill, running, root, events, window)
            return await measure(_subject(running, calendar_url, events, window), events, window)
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _subject(server: Radicale, calendar_url: str, events: int, window: Window) -> Subject:
    seen: list[Seen] = []

    def record(response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        method, path = response.request.method or "", urlsplit(response.url).path
        wait = response.elapsed.total_seconds()
        seen.append(Seen(method, path, response.status_code, wait))

    def open_account() -> CalendarAccount:
        account = CalDavAccount(server.url, server.username, server.password)
        # The adapter builds its own DAVClient: its session is where every answer passes.
        account._client.session.hooks["response"].append(record)
        return account

    index = changed_index(events)
    start, end = list(spans(events, window))[index]
    later = timedelta(minutes=30)
    moved = _event(index, start + later, end + later)

    async def change_one() -> None:
        auth = (server.username, server.password)
        async with httpx.AsyncClient(auth=auth, timeout=30) as owner:
            answer = await owner.put(
                urljoin(calendar_url, _name(index)),
                content=moved,
                headers={"Content-Type": "text/calendar; charset=utf-8"},
            )
        answer.raise_for_status()

    return Subject(
        kind="caldav",
        calendar_id=calendar_url,
        page_size=None,  # Radicale answers a sync-collection REPORT whole
        open_account=open_account,
        requests=lambda: seen,
        is_page=lambda s: s.method == "REPORT",
        is_auth=lambda s: s.status == 401,
        auth_is="the login challenge: a fresh account's first request is answered 401, then sent "
        "again with credentials",
        change_one=change_one,
        changed=_name(index),
    )


def _fill(server: Radicale, root: Path, events: int, window: Window) -> str:
    """A new calendar holding `events` events; its URL."""
    calendar = new_calendar(server, "Bench")
    collection = unquote(urlsplit(str(calendar.url)).path).strip("/")
    folder = _storage(root) / "collection-root" / collection
    if not folder.is_dir():
        raise RuntimeError(f"Radicale keeps {calendar.url} elsewhere than {folder}")
    for i, (start, end) in enumerate(spans(events, window)):
        (folder / _name(i)).write_text(_event(i, start, end), encoding="utf-8", newline="")
    _read_once(server, str(calendar.url))
    return str(calendar.url)


def _read_once(server: Radicale, calendar_url: str) -> None:
    """Have Radicale parse and cache every event, as PUTs would have left it; a cold cache
    makes its first listing of 10,000 events outlast the adapter's request timeout."""
    body = '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
    answer = httpx.request(
        "PROPFIND",
        calendar_url,
        content=body,
        headers={"Depth": "1", "Content-Type": "application/xml"},
        auth=(server.username, server.password),
        timeout=WARM_UP_TIMEOUT_S,
    )
    if answer.status_code != 207:
        raise RuntimeError(f"PROPFIND {calendar_url} answered {answer.status_code}")


def _storage(root: Path) -> Path:
    """Radicale's filesystem_folder, from the config start_radicale wrote."""
    config = configparser.ConfigParser()
    config.read(root / "config")
    return Path(config["storage"]["filesystem_folder"])


def _name(i: int) -> str:
    return f"bench-{i:05d}.ics"


def _event(i: int, start: datetime, end: datetime) -> str:
    def utc(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    uid = _name(i).removesuffix(".ics")
    return ics(uid, f"SUMMARY:Meeting {i}", f"DTSTART:{utc(start)}", f"DTEND:{utc(end)}")
