from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import DatabaseDep, TemporalDep
from api.errors import RETRY_AFTER_SECONDS

router = APIRouter(tags=["health"])
log = logging.getLogger("booking.api")
CHECK_TIMEOUT_SECONDS = 3


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "a dependency is unreachable"}})
async def ready(db: DatabaseDep, temporal: TemporalDep) -> JSONResponse:
    """The database and Temporal are reachable."""
    checks = {"database": "ok", "temporal": "ok"}
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), db.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception as err:
        # The answer names the dependency only: the cause (hosts, drivers) stays in our logs.
        log.warning("not ready: the database is unreachable: %r", err)
        checks["database"] = "unreachable"
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await temporal.service_client.check_health()
    except Exception as err:
        log.warning("not ready: Temporal is unreachable: %r", err)
        checks["temporal"] = "unreachable"
    if all(value == "ok" for value in checks.values()):
        return JSONResponse({"status": "ready", **checks})
    return JSONResponse(
        {"status": "not_ready", **checks}, 503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )
