"""Reads of what can be booked: services and their providers."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Uuid, bindparam, select

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
    reminder_offsets: str


_services = Service.__table__.c
_profiles = ProviderProfile.__table__.c

_ACTIVE_SERVICE = (
    select(
        _services.id,
        _services.provider_id,
        _profiles.timezone,
        _services.name,
        _services.duration_minutes,
        _services.price_amount,
        _services.currency,
        _services.reminder_offsets,
    )
    .join_from(Service.__table__, ProviderProfile.__table__, _services.provider_id == _profiles.id)
    .where(_services.id == bindparam("service_id", type_=Uuid), _services.active.is_(True))
)


async def get_service(db: Database, service_id: UUID) -> ServiceInfo | None:
    """An active service with its provider's zone, or None."""
    async with db.reading() as connection:
        row = (await connection.execute(_ACTIVE_SERVICE, {"service_id": service_id})).first()
    return None if row is None else ServiceInfo(*row)
