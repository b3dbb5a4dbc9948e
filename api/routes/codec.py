"""Temporal's remote codec protocol, so the Web UI can show our encrypted payloads decoded."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Header
from fastapi.params import Depends as DependsParam
from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer, WithJsonSchema
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from api.deps import CurrentUser, SettingsDep, TemporalDep
from api.errors import APIError, DocumentedErrorRoute
from api.schemas.common import errors
from config import Settings
from workflows.codec import PayloadDecryptionError

PREFIX = "/codec"
router = APIRouter(
    prefix=PREFIX,
    tags=["codec"],
    route_class=DocumentedErrorRoute,
    responses=errors(400, 401, 403, 413, 422),
)


def _from_base64(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a base64 string")
    # Protobuf's JSON form allows standard or URL-safe base64, padded or not.
    padded = value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except binascii.Error:
        raise ValueError("must be base64") from None


Base64 = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(lambda raw: base64.b64encode(raw).decode(), return_type=str),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]


class PayloadJSON(BaseModel):
    """A Temporal Payload in protobuf's JSON form, as the Web UI sends it."""

    metadata: dict[str, Base64] = Field(default_factory=dict)
    data: Base64 = b""


class PayloadsJSON(BaseModel):
    payloads: list[PayloadJSON] = Field(default_factory=list)


async def _codec(temporal: TemporalDep) -> PayloadCodec:
    # The very codec the API's Temporal client encodes with, so both always agree.
    codec = temporal.data_converter.payload_codec
    if codec is None:
        raise RuntimeError("the Temporal client was connected without a payload codec")
    return codec


async def _our_namespace(
    settings: SettingsDep, x_namespace: Annotated[str | None, Header()] = None
) -> None:
    if x_namespace is not None and x_namespace != settings.temporal_namespace:
        raise APIError(
            403,
            "namespace_not_served",
            f"this codec serves only the namespace {settings.temporal_namespace!r}",
        )


async def _admin(user: CurrentUser) -> None:
    if user.role != "admin":
        raise APIError(403, "admins_only", "only an admin may encode or decode payloads")


def access(settings: Settings) -> Sequence[DependsParam]:
    """Anyone on the machine in development; in production, admins with a bearer token."""
    return [] if settings.environment == "development" else [Depends(_admin)]


CodecDep = Annotated[PayloadCodec, Depends(_codec)]
Convert = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


async def _apply(convert: Convert, body: PayloadsJSON) -> PayloadsJSON:
    payloads = [Payload(metadata=p.metadata, data=p.data) for p in body.payloads]
    try:
        converted = await convert(payloads)
    except PayloadDecryptionError as err:
        raise APIError(422, "undecryptable_payload", str(err)) from None
    return PayloadsJSON(
        payloads=[PayloadJSON(metadata=dict(p.metadata), data=p.data) for p in converted]
    )


@router.post("/decode", dependencies=[Depends(_our_namespace)])
async def decode(body: PayloadsJSON, codec: CodecDep) -> PayloadsJSON:
    """Decrypt payloads for display; unencrypted ones come back as they are."""
    return await _apply(codec.decode, body)


@router.post("/encode", dependencies=[Depends(_our_namespace)])
async def encode(body: PayloadsJSON, codec: CodecDep) -> PayloadsJSON:
    """Encrypt payloads under the current key, as the worker would."""
    return await _apply(codec.encode, body)


class CodecCORS:
    """CORS for the Web UI's origins on the codec routes only; the rest of the API has none."""

    def __init__(self, app: ASGIApp, allow_origins: Sequence[str]) -> None:
        self._app = app
        self._cors = CORSMiddleware(
            app,
            allow_origins=allow_origins,
            allow_methods=["POST"],
            allow_headers=["content-type", "x-namespace", "authorization"],
            allow_credentials=True,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX or path.startswith(f"{PREFIX}/")):
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, send)
