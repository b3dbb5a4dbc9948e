from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field, field_validator

from api.schemas.common import Strict, zone_name
from api.schemas.providers import NO_NUL


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class UserCreate(Strict):
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)
    full_name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    phone: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$", examples=["+15551234567"])
    role: Literal["customer", "provider"] = "customer"
    timezone: str | None = Field(default=None, description="IANA zone of a provider's hours")
    display_name: str | None = Field(default=None, max_length=200, pattern=NO_NUL)

    _valid_zone = field_validator("timezone")(zone_name)


class UserPublic(BaseModel):
    id: UUID
    email: str
    full_name: str
    phone: str | None
    role: str
    provider_id: UUID | None
