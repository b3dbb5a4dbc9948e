"""The one source of configuration, read by the API, the worker, Alembic and the dev stack."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that ship in the repository for local use; production must bring its own.
DEV_WEBHOOK_SECRET = "whsec_dev_only_not_secret"
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-in-production"
PLACEHOLDER_SECRETS = frozenset({DEV_WEBHOOK_SECRET, DEV_JWT_SECRET, "", "changeme", "change-me"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"

    database_url: str = "sqlite:///.data/app.db"
    database_pool_size: int = Field(default=10, ge=1)

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "bookings"

    payment_timeout_seconds: int = Field(default=15 * 60, gt=0)
    approval_timeout_hours: int = Field(default=48, gt=0)
    payment_gateway: Literal["sandbox", "stripe"] = "sandbox"
    payment_webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str | None = None

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_ttl_minutes: int = Field(default=60, gt=0)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url.startswith(("sqlite", "postgres")):
            raise ValueError("DATABASE_URL must be a sqlite:// or postgresql:// URL")
        return url

    @model_validator(mode="after")
    def _real_secrets_outside_development(self) -> Settings:
        if self.environment == "development":
            return self
        for name in ("payment_webhook_secret", "jwt_secret"):
            secret: SecretStr = getattr(self, name)
            if secret.get_secret_value() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name.upper()} must be set to a real secret in production")
        if self.payment_gateway == "stripe" and self.stripe_api_key is None:
            raise ValueError("STRIPE_API_KEY is required when PAYMENT_GATEWAY=stripe")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def async_database_url(self) -> str:
        """The URL for the async engine used by the API and the worker."""
        return _with_driver(self.database_url, sqlite="aiosqlite", postgresql="psycopg")

    @property
    def sync_database_url(self) -> str:
        """The URL for Alembic, which runs synchronously."""
        return _with_driver(self.database_url, sqlite="pysqlite", postgresql="psycopg")


def _with_driver(url: str, *, sqlite: str, postgresql: str) -> str:
    scheme, sep, rest = url.partition("://")
    dialect = scheme.split("+", 1)[0]
    if dialect == "postgres":
        dialect = "postgresql"
    driver = sqlite if dialect == "sqlite" else postgresql
    return f"{dialect}+{driver}{sep}{rest}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
