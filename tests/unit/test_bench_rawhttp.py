"""The benchmark's minimal HTTP client reads whole answers and refuses what it cannot time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from bench.rawhttp import KeepAliveGet, RawHTTPError

Handler = Callable[[bytes], bytes | None]


@asynccontextmanager
async def server(answer: Handler) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A loopback server that answers each request head with answer(head); None closes."""
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                seen.append(head)
                reply = answer(head)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield f"http://127.0.0.1:{port}", seen


def ok(body: bytes, status: bytes = b"200 OK") -> Handler:
    return lambda _: (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


async def test_it_reuses_one_connection_and_reads_each_whole_body() -> None:
    body = b'{"count":2,"slots":["' + b"x" * 70_000 + b'"]}'
    params = {"tz": "Europe/Berlin"}
    async with (
        server(ok(body)) as (url, seen),
        KeepAliveGet(url, "/providers/p/availability", params) as get,
    ):
        first, second = await get.get(), await get.get()
    assert (first.status, first.body) == (200, body)
    assert (second.status, second.body) == (200, body)
    assert len(seen) == 2
    assert seen[0].startswith(b"GET /providers/p/availability?tz=Europe%2FBerlin HTTP/1.1\r\n")


async def test_the_status_is_reported_not_hidden() -> None:
    not_found = ok(b'{"code":"not_found"}', b"404 Not Found")
    async with server(not_found) as (url, _), KeepAliveGet(url, "/x", {}) as get:
        answer = await get.get()
    assert answer.status == 404


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", "transfer-encoding"),
        (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n", "without Content-Length"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "status line"),
        (None, "closed the connection"),
    ],
)
async def test_answers_it_cannot_time_are_errors(reply: bytes | None, message: str) -> None:
    async with server(lambda _: reply) as (url, _), KeepAliveGet(url, "/x", {}) as get:
        with pytest.raises(RawHTTPError, match=message):
            await get.get()
