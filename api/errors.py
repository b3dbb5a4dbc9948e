"""Every error a client sees is JSON with a stable `code` and a readable `detail`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from api.middleware import ERROR_HEADERS
from api.schemas.common import ErrorPublic
from workflows.client import (
    BookingEngineUnavailable,
    BookingPending,
    BookingRefused,
    lazy_connect_failed,
)

log = logging.getLogger("booking.api")


class APIError(Exception):
    def __init__(
        self, status_code: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.code = code
        self.detail = detail
        self.headers = headers


def not_found(what: str) -> APIError:
    return APIError(404, f"{what}_not_found", f"no {what.replace('_', ' ')} with that id")


RETRY_AFTER_SECONDS = 5
_RETRY = {"Retry-After": str(RETRY_AFTER_SECONDS)}

DATABASE_UNAVAILABLE = APIError(
    503, "database_unavailable", "the database cannot be reached; try again shortly", _RETRY
)
BOOKING_ENGINE_UNAVAILABLE = APIError(
    503,
    "booking_engine_unavailable",
    "the booking engine (Temporal) cannot be reached; try again shortly",
    _RETRY,
)


def _always(_: Any) -> bool:
    return True


def _disconnected(err: sa_exc.DBAPIError) -> bool:
    return err.connection_invalidated


def _temporal_down(err: RPCError) -> bool:
    return err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)


# A dependency's failure -> the 503 it answers; the first row whose type and test match wins.
# Anything else of these types is a bug and answers 500.
DEPENDENCY_FAILURES: tuple[tuple[type[Exception], Callable[[Any], bool], APIError], ...] = (
    (sa_exc.OperationalError, _always, DATABASE_UNAVAILABLE),
    (sa_exc.InterfaceError, _always, DATABASE_UNAVAILABLE),
    (sa_exc.DBAPIError, _disconnected, DATABASE_UNAVAILABLE),
    (sa_exc.TimeoutError, _always, DATABASE_UNAVAILABLE),  # pool checkout
    (OSError, _always, DATABASE_UNAVAILABLE),  # TimeoutError, ConnectionRefusedError, ...
    (RPCError, _temporal_down, BOOKING_ENGINE_UNAVAILABLE),
    (RuntimeError, lazy_connect_failed, BOOKING_ENGINE_UNAVAILABLE),
)


def dependency_failure(exc: BaseException) -> APIError | None:
    """The 503 for a database or Temporal that cannot be reached; None for anything else."""
    for kind, matches, error in DEPENDENCY_FAILURES:
        if isinstance(exc, kind) and matches(exc):
            return error
    return None


# The BookingClient's errors (workflows/client.py) -> HTTP. A refusal's status by its code: a
# conflict with the booking's state is 409, a scheduling rule broken 422.
CONFLICTS = frozenset(
    {
        "slot_unavailable",
        "not_cancellable",
        "not_reschedulable",
        "not_awaiting_approval",
        "reschedule_limit_reached",
        "too_many_holds",
    }
)
BOOKING_PENDING = APIError(
    503,
    "booking_pending",
    "the booking engine did not answer in time; send the request again, with the same "
    "Idempotency-Key if it had one, to get the booking if it was made",
    {"Retry-After": "2"},
)


def booking_client_error(exc: Exception) -> APIError:
    if isinstance(exc, BookingRefused):
        return APIError(409 if exc.code in CONFLICTS else 422, exc.code, exc.message)
    if isinstance(exc, BookingPending):
        return BOOKING_PENDING
    return APIError(
        503, BOOKING_ENGINE_UNAVAILABLE.code, str(exc) or BOOKING_ENGINE_UNAVAILABLE.detail, _RETRY
    )


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    message = str(error.get("msg", "is invalid"))
    return f"{location}: {message}" if location else message


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(
            {"code": exc.code, "detail": exc.detail}, exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        detail = "; ".join(_describe(e) for e in exc.errors()) or "the request is invalid"
        return JSONResponse({"code": "validation_error", "detail": detail, "errors": errors}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            {"code": code, "detail": str(exc.detail)}, exc.status_code, headers=exc.headers
        )

    async def _dependency_down(request: Request, exc: Exception) -> JSONResponse:
        error = dependency_failure(exc)
        if error is None:
            return _internal_error(exc)
        log.warning("%s %s: %s: %s", request.method, request.url.path, error.code, exc)
        return await _api_error(request, error)

    async def _booking_client_error(request: Request, exc: Exception) -> JSONResponse:
        return await _api_error(request, booking_client_error(exc))

    for booking_error in (BookingRefused, BookingPending, BookingEngineUnavailable):
        app.add_exception_handler(booking_error, _booking_client_error)

    # Handled here, inside the app, so they never reach the catch-all below (which answers
    # and then re-raises to the server).
    for kind in dict.fromkeys(kind for kind, _, _ in DEPENDENCY_FAILURES):
        app.add_exception_handler(kind, _dependency_down)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return _internal_error(exc)


def _internal_error(exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    body = {"code": "internal_error", "detail": "something went wrong on our side"}
    # Sent from outside every middleware (Starlette's last resort): the headers come along.
    return JSONResponse(body, 500, headers=ERROR_HEADERS)


class DocumentedErrorRoute(APIRoute):
    """A route whose documented errors all carry ErrorPublic's schema, a route's own ones too
    (FastAPI replaces, not merges, a router's entry for the same status)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        responses = kwargs.get("responses") or {}
        kwargs["responses"] = {
            status: {"model": ErrorPublic, **response}
            if str(status)[0] in "45" and not {"model", "content"} & response.keys()
            else response
            for status, response in responses.items()
        }
        super().__init__(path, endpoint, **kwargs)
