"""Reads of what can be booked: services and their providers."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select

from db.engine import Database
from db.models import ProviderProfile, Service


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    id: UUID
    provider_id: UUID
    provider_timezone: str
    name: str
    duration_minutes: int
    price_amount: int
    currency: str


async def get_service(db: Database, service_id: UUID) -> ServiceInfo | None:
    """An active service with its provider's zone, or None."""
    async with db.session() as session:
        row = (
            await session.execute(
                select(Service, ProviderProfile.timezone)
                .join(ProviderProfile, Service.provider_id == ProviderProfile.id)
                .where(Service.id == service_id, Service.active.is_(True))
            )
        ).first()
    if row is None:
        return None
    service, timezone = row
    return ServiceInfo(
        id=service.id,
        provider_id=service.provider_id,
        provider_timezone=timezone,
        name=service.name,
        duration_minutes=service.duration_minutes,
        price_amount=service.price_amount,
        currency=service.currency,
    )
