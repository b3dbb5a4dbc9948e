"""localstripe, a stateful Stripe peer, run as a child process on 127.0.0.1 for the tests."""

from __future__ import annotations

import inspect
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack.processes import ManagedProcess, free_port, wait_for_port


def serve_localstripe(port: int) -> None:
    """Run localstripe in this (child) process: loopback only, in memory, closer to Stripe.

    localstripe's own entry point listens on every interface and pickles its store to
    /tmp/localstripe.pickle, shared by every run on the machine. It also ignores
    `Idempotency-Key` and refuses `description` on PaymentIntents; Stripe does neither.
    """
    from aiohttp import web
    from localstripe import resources, server
    from localstripe.errors import UserError

    resources.Store.dump_to_disk = lambda self: None

    create_intent = resources.PaymentIntent.__init__

    def create_intent_with_description(
        self: Any, description: str | None = None, **params: Any
    ) -> None:
        create_intent(self, **params)
        self.description = description

    resources.PaymentIntent.__init__ = create_intent_with_description

    first_use: dict[str, tuple[tuple[str, bytes], int, bytes]] = {}

    @web.middleware
    async def replay_idempotent_requests(request: web.Request, handler: Any) -> web.StreamResponse:
        """Stripe's rule: a key replays its first response, and only for the same request."""
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or key is None:
            return await handler(request)
        fingerprint = (request.path, await request.read())
        if key in first_use:
            seen, status, body = first_use[key]
            if seen != fingerprint:
                error = {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests can only be used with the same "
                    "parameters they were first used with.",
                }
                return web.json_response({"error": error}, status=400)
            return web.Response(
                body=body,
                status=status,
                content_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        try:
            response = await handler(request)
        except UserError as err:
            response = err.to_response()
        if response.status < 500:
            first_use[key] = (fingerprint, response.status, response.body)
        return response

    server.app.middlewares.append(replay_idempotent_requests)
    web.run_app(server.app, host="127.0.0.1", port=port, print=None)


@contextmanager
def running_localstripe(log: Path, *extensions: Callable[[], None]) -> Iterator[str]:
    """localstripe's base URL while it runs; each extension (a self-contained function, run in
    the child before it serves) fills another gap to Stripe's API."""
    port = free_port()
    # The functions' source, not an import of this module: the child starts in half a second.
    functions = (serve_localstripe, *extensions)
    sources = "\n".join(textwrap.dedent(inspect.getsource(f)) for f in functions)
    calls = "".join(f"{f.__name__}()\n" for f in extensions)
    code = f"from __future__ import annotations\n{sources}\n{calls}serve_localstripe({port})\n"
    process = ManagedProcess("localstripe", [sys.executable, "-c", code], {}, log).start()
    try:
        try:
            wait_for_port(port, process)
        except (RuntimeError, TimeoutError) as err:
            raise RuntimeError(f"localstripe did not start: {err}\n{_tail(log)}") from err
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"
