"""A minimal HTTP/1.1 keep-alive GET client, for timing the server and not the client.

httpx builds a request, encodes its URL and runs h11 and anyio for every call: about 2-4 ms of
CPU per request on the 2-core build machine, on the same cores as the server, and all of it
inside a latency sample of a 15-20 ms answer. Load generators such as wrk spend microseconds.
This one writes the request bytes prepared once and reads a Content-Length response; anything
else (another status line shape, chunked bodies, a closed connection) is an error, not a sample.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit


class RawHTTPError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes


class KeepAliveGet:
    """One connection that GETs one URL again and again."""

    def __init__(self, base_url: str, path: str, params: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise RawHTTPError(f"plain http only, got {base_url}")
        self._host = parts.hostname
        self._port = parts.port or 80
        target = f"{path}?{urlencode(params)}" if params else path
        self._request = (
            f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: application/json\r\n\r\n"
        ).encode("ascii")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> KeepAliveGet:
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()

    async def get(self) -> Response:
        if self._reader is None or self._writer is None:
            raise RawHTTPError("not connected")
        self._writer.write(self._request)
        await self._writer.drain()
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as err:
            raise RawHTTPError("the server closed the connection") from err
        status_line, *header_lines = head[:-4].split(b"\r\n")
        version, _, rest = status_line.partition(b" ")
        if not version.startswith(b"HTTP/1.") or len(rest) < 3 or not rest[:3].isdigit():
            raise RawHTTPError(f"not an HTTP/1.x status line: {status_line!r}")
        length = None
        for line in header_lines:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise RawHTTPError(f"unsupported transfer-encoding: {value.strip()!r}")
        if length is None:
            raise RawHTTPError("response without Content-Length")
        return Response(int(rest[:3]), await self._reader.readexactly(length))
