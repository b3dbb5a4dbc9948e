"""Access tokens (JWT, HS256)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from config import Settings

ALGORITHM = "HS256"


def create_access_token(user_id: UUID, role: str, settings: Settings) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "role": role,
        "iat": now,
        "exp": now + timedelta(minutes=settings.jwt_ttl_minutes),
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM)


def user_id_from_token(token: str, settings: Settings) -> UUID | None:
    """The user the token names, or None if it is forged, expired or malformed."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp"]},
        )
        return UUID(claims["sub"])
    except (jwt.PyJWTError, ValueError):
        return None
