"""A CalDAV address a provider types in must not point the server at its own network (SSRF)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from activities.calendars.port import CalendarRefused, CalendarRetryLater


async def require_public_host(url: str) -> None:
    """Refuse a URL whose host is, or resolves to, a loopback, private, link-local or other
    non-public address; CalendarRetryLater when the name cannot be resolved now."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except socket.gaierror as err:
        if err.errno == socket.EAI_NONAME:
            raise CalendarRefused(f"no server is known by the name {host}") from None
        raise CalendarRetryLater(f"the name {host} cannot be resolved now") from None
    for *_, address in found:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
        if not ip.is_global:
            raise CalendarRefused(
                f"{host} is not a public address; connect a CalDAV server on the internet"
            )
