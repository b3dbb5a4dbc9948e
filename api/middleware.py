"""Pure ASGI middleware every request passes: the body cap, security headers, CORS."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A JSON API renders nothing: no sources, no framing.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc as FastAPI serves them: assets from jsDelivr, an inline start script,
# ReDoc's fonts and its web worker, and the schema fetched from this origin.
DOCS_CSP = (
    "default-src 'none'; "
    "script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src 'self' https://cdn.jsdelivr.net https://fonts.googleapis.com 'unsafe-inline'; "
    "font-src https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "connect-src 'self'; worker-src blob:; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
# For the one answer no middleware sees: a 500 from Starlette's ServerErrorMiddleware.
ERROR_HEADERS = {
    name.decode(): value.decode()
    for name, value in (*SECURITY_HEADERS, (b"content-security-policy", API_CSP.encode()))
}


class BodyTooLarge(Exception):
    """Raised into the app by `receive` once a body grows past the cap."""


class BodyLimit:
    """413 `body_too_large` for a body over `max_bytes`: at once when Content-Length says so,
    else as soon as the chunks read so far pass it, so no body is ever read whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            await self._refuse(send)
            return
        received = 0
        exceeded = False
        started = False

        async def capped_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_bytes:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # The app may have turned BodyTooLarge into an answer of its own (FastAPI answers
            # 400 for a body it failed to read): the 413 goes out instead.
            if exceeded:
                if not started:
                    started = True
                    await self._refuse(send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, capped_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "code": "body_too_large",
                "detail": f"the request body is over the limit of {self._max_bytes} bytes",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """The security headers on every answer; a route's own (say, a stricter CSP) wins."""

    def __init__(self, app: ASGIApp, *, docs: bool) -> None:
        self._app = app
        self._docs = docs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CSP if self._docs and path.startswith(DOCS_PATHS) else API_CSP
        extra = [*SECURITY_HEADERS, (b"content-security-policy", csp.encode())]
        # Over plain HTTP the header is ignored, and would pin a host that has no TLS yet.
        if scope.get("scheme") == "https":
            extra.append(HSTS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in extra if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_headers)


class ApiCORS:
    """CORS for the allow-listed origins on every path but `skip_prefix` (the codec's own)."""

    def __init__(self, app: ASGIApp, allow_origins: Sequence[str], skip_prefix: str) -> None:
        self._app = app
        self._skip = skip_prefix
        self._cors = CORSMiddleware(
            app,
            allow_origins=allow_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "idempotency-key"],
            expose_headers=["retry-after", "location"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        skipped = path == self._skip or path.startswith(f"{self._skip}/")
        if scope["type"] == "http" and not skipped:
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None
