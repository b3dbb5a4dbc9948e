"""Build the FastAPI app. Run it with `uvicorn --factory api.main:create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from activities.calendars.accounts import CalendarAccounts
from activities.payments import gateway_from_settings
from api.deps import AppServices
from api.errors import install_error_handlers
from api.routes import (
    appointments,
    auth,
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
from config import Settings, get_settings
from db.engine import Database
from workflows.calendar_client import CalendarSyncClient
from workflows.client import BookingClient, connect


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database.from_settings(settings)
        # Lazy: the API starts (and /health answers) even while Temporal is still coming up.
        temporal = await connect(settings, lazy=True)
        payments_gateway = gateway_from_settings(settings, db)
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
        )
        try:
            yield
        finally:
            await payments_gateway.aclose()
            await db.dispose()

    app = FastAPI(
        title="Booking",
        summary="Appointment booking where every booking is a durable Temporal workflow",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    # /providers/me before /providers/{provider_id}, which would otherwise claim "me".
    for router in (
        health.router,
        auth.router,
        provider_settings.router,
        providers.router,
        appointments.router,
        users.router,
        notifications.router,
        notifications.webhooks,
        payments.router,
        calendars.router,
    ):
        app.include_router(router)
    app.include_router(codec.router, dependencies=codec.access(settings))
    app.add_middleware(codec.CodecCORS, allow_origins=settings.codec_cors_origins)
    if settings.environment == "development":
        app.include_router(notifications.outbox)
    if settings.payment_gateway == "sandbox":
        app.include_router(sandbox.router)
    return app
