"""Build the FastAPI app. Run it with `uvicorn --factory api.main:create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import Depends, FastAPI

from activities.calendars.accounts import CalendarAccounts
from activities.payments import gateway_from_settings
from api.availability_stream import AvailabilityHub
from api.deps import AppServices
from api.errors import install_error_handlers
from api.middleware import ApiCORS, BodyLimit, SecurityHeaders
from api.passwords import PasswordHasher
from api.rate_limiter import RateLimiter
from api.routes import (
    admin,
    appointments,
    auth,
    availability_events,
    calendars,
    codec,
    health,
    notifications,
    payments,
    provider_settings,
    providers,
    sandbox,
    users,
)
from api.telemetry import FASTAPI_TELEMETRY, bind_booking_id, install_telemetry
from api.web import WEB_DIST, WebPages, page_csp, web_dist_ready
from config import Settings, get_settings
from db.engine import Database
from telemetry.logs import configure_logging
from telemetry.tracing import temporal_interceptors
from workflows.calendar_client import CalendarSyncClient
from workflows.client import BookingClient, connect


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database.from_settings(settings)
        # Lazy: the API starts (and /health answers) even while Temporal is still coming up.
        temporal = await connect(settings, lazy=True, interceptors=temporal_interceptors(settings))
        payments_gateway = gateway_from_settings(settings, db)
        limiter = RateLimiter.from_settings(settings)
        passwords = PasswordHasher(settings.password_hash_threads)
        availability = AvailabilityHub.from_settings(settings, db)
        await availability.start()
        app.state.services = AppServices(
            settings=settings,
            db=db,
            temporal=temporal,
            payments=payments_gateway,
            bookings=BookingClient(temporal, settings.temporal_task_queue),
            calendars=CalendarAccounts.from_settings(settings, db),
            calendar_syncs=CalendarSyncClient(
                temporal,
                settings.temporal_task_queue,
                timedelta(minutes=settings.calendar_sync_minutes),
            ),
            limiter=limiter,
            passwords=passwords,
            availability=availability,
        )
        try:
            yield
        finally:
            await availability.stop()  # first: it reads the database, and ends the streams
            await limiter.aclose()
            passwords.close()
            await payments_gateway.aclose()
            await db.dispose()

    app = FastAPI(
        title="Booking",
        summary="Appointment booking where every booking is a durable Temporal workflow",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(bind_booking_id)],
        telemetry=FASTAPI_TELEMETRY,
        docs_url="/docs" if settings.api_docs else None,
        redoc_url="/redoc" if settings.api_docs else None,
        openapi_url="/openapi.json" if settings.api_docs else None,
    )
    install_error_handlers(app)
    # /providers/me before /providers/{provider_id}, which would otherwise claim "me".
    for router in (
        health.router,
        auth.router,
        provider_settings.router,
        providers.router,
        availability_events.router,
        appointments.router,
        users.router,
        notifications.router,
        notifications.webhooks,
        payments.router,
        calendars.router,
        admin.router,
    ):
        app.include_router(router)
    app.include_router(codec.router, dependencies=codec.access(settings))
    # The last added runs first: headers on every answer, CORS on the 413 too.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(codec.CodecCORS, allow_origins=settings.codec_cors_origins)
    if settings.cors_allow_origins:
        app.add_middleware(
            ApiCORS, allow_origins=settings.cors_allow_origins, skip_prefix=codec.PREFIX
        )
    if web_dist_ready(WEB_DIST):  # the pages' own CSP; the headers below wrap them
        app.add_middleware(WebPages, dist=WEB_DIST, csp=page_csp(settings))
    app.add_middleware(SecurityHeaders, docs=settings.api_docs)
    if settings.environment == "development":
        app.include_router(notifications.outbox)
    if settings.payment_gateway == "sandbox":
        app.include_router(sandbox.router)
    install_telemetry(app, settings)  # last: its middleware is the outermost
    return app
