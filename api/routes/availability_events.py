"""Live availability: a provider's changed dates as server-sent events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from api.availability_stream import REFRESH, AvailabilityHub, Subscription
from api.deps import DatabaseDep, ServicesDep, SettingsDep
from api.errors import DocumentedErrorRoute, not_found
from api.limits import limit_search
from api.schemas.common import errors
from db import providers

router = APIRouter(
    prefix="/providers",
    tags=["providers"],
    route_class=DocumentedErrorRoute,
    responses=errors(404, 422, 503),
)

PING_SECONDS = 15
# A client that takes no bytes for this long is let go (its queue would only collapse).
SEND_TIMEOUT_SECONDS = 30

STREAM_DESCRIPTION = """\
`event: changed` with `{"provider_id": ..., "dates": ["2026-12-24", ...]}`: the provider's free
time changed on these dates (the provider's own local dates); fetch their availability again.
`event: refresh` with `{"provider_id": ...}`: refetch every date (the change touched every date,
or this stream fell behind). A comment line every 15 s keeps proxies from closing the stream.
The stream ends after AVAILABILITY_STREAM_SECONDS; EventSource opens a new one by itself, and a
page should refetch what it shows when it does, since changes in between are not replayed."""


async def _hub(services: ServicesDep) -> AvailabilityHub:
    return services.availability


HubDep = Annotated[AvailabilityHub, Depends(_hub)]


def _changed(provider_id: UUID, dates: tuple[str, ...]) -> ServerSentEvent:
    body = {"provider_id": str(provider_id), "dates": list(dates)}
    return ServerSentEvent(json.dumps(body, separators=(",", ":")), event="changed")


def _refresh(provider_id: UUID) -> ServerSentEvent:
    body = {"provider_id": str(provider_id)}
    return ServerSentEvent(json.dumps(body, separators=(",", ":")), event="refresh")


async def _events(
    hub: AvailabilityHub, subscription: Subscription, seconds: float
) -> AsyncIterator[ServerSentEvent]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        while (remaining := deadline - loop.time()) > 0:
            try:
                event = await asyncio.wait_for(subscription.next(), remaining)
            except TimeoutError:
                return
            if isinstance(event, tuple):
                yield _changed(subscription.provider_id, event)
            elif event == REFRESH:
                yield _refresh(subscription.provider_id)
            else:
                return  # the API is stopping
    finally:
        hub.remove(subscription)


@router.get(
    "/{provider_id}/availability/events",
    dependencies=[Depends(limit_search)],
    response_class=Response,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": STREAM_DESCRIPTION},
        404: {"description": "no such provider"},
    },
)
async def availability_events(
    provider_id: UUID, db: DatabaseDep, hub: HubDep, settings: SettingsDep
) -> Response:
    """Server-sent events naming the dates whose free slots changed, as they change."""
    if await providers.get_profile(db, provider_id) is None:
        raise not_found("provider")
    # Subscribed before the answer starts: a change made once the headers arrive is heard.
    subscription = hub.add(provider_id)
    return EventSourceResponse(
        _events(hub, subscription, settings.availability_stream_seconds),
        ping=PING_SECONDS,
        send_timeout=SEND_TIMEOUT_SECONDS,
        # Also when no event is ever sent (a HEAD request never starts the stream).
        background=BackgroundTask(hub.remove, subscription),
    )
