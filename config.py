"""The one source of configuration, read by the API, the worker, Alembic and the dev stack."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that ship in the repository for local use; production must bring its own.
DEV_WEBHOOK_SECRET = "whsec_dev_only_not_secret"
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-in-production"
PLACEHOLDER_SECRETS = frozenset({DEV_WEBHOOK_SECRET, DEV_JWT_SECRET, "", "changeme", "change-me"})
# DEV ONLY: a fixed, public AES-256 key, so `make dev` and the tests encrypt out of the box.
DEV_PAYLOAD_KEY = b"dev-only-payload-key-not-secret!"
DEV_PAYLOAD_ENCRYPTION_KEYS = f"dev:{base64.urlsafe_b64encode(DEV_PAYLOAD_KEY).decode()}"
PAYLOAD_KEY_BYTES = 32
# DEV ONLY: a fixed, public Fernet key for calendar grants and passwords at rest.
DEV_CALENDAR_SECRET_KEY = base64.urlsafe_b64encode(b"dev-only-calendar-key-not-secret").decode()


class Settings(BaseSettings):
    # Errors must not echo the input: it holds secrets and ends up in logs.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    environment: Literal["development", "production"] = "development"

    database_url: str = "sqlite:///.data/app.db"
    database_pool_size: int = Field(default=10, ge=1)

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "bookings"

    payment_timeout_seconds: int = Field(default=15 * 60, gt=0)
    approval_timeout_hours: int = Field(default=48, gt=0)
    # Each move adds to a long-lived workflow's history: moves per booking are capped.
    max_reschedules: int = Field(default=10, ge=0, le=100)
    # A reminder is rendered and recorded up to this long before its instant (each booking a
    # little earlier or later in the second half of it), then sent at the instant: a thousand
    # reminders due at 09:00:00 are prepared over the minute before and leave on time. 0 turns
    # it off (each is prepared at its instant, after its timer).
    reminder_prepare_seconds: int = Field(default=120, ge=0, le=600)
    # Activities one worker runs at once. A prepared reminder waits for its instant in one, so
    # this bounds the reminders that can fall due within REMINDER_PREPARE_SECONDS of each other
    # per worker; the waits are asleep and cost nothing but the slot.
    worker_max_activities: int = Field(default=2000, ge=1)
    payment_gateway: Literal["sandbox", "stripe"] = "sandbox"
    payment_webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    stripe_api_key: SecretStr | None = None
    # Given to the booking page for Stripe.js; public by design (pk_live_... or pk_test_...).
    stripe_publishable_key: str | None = None
    stripe_api_base: str | None = None

    # Messages: the sandbox records and renders every message and sends none.
    email_backend: Literal["sandbox", "sendgrid", "smtp"] = "sandbox"
    sms_backend: Literal["sandbox", "twilio"] = "sandbox"
    notify_from_email: str = "bookings@example.com"
    notify_from_name: str = "Bookings"
    # Where people reach the API (links in messages, Twilio's status callbacks).
    public_base_url: str = "http://127.0.0.1:8000"
    sendgrid_api_key: SecretStr | None = None
    # Only to point the SDK at a local peer in tests; SendGrid's own host otherwise.
    sendgrid_api_base: str | None = None
    # SendGrid's signed event webhook: its ECDSA public key (base64 DER, as SendGrid shows it).
    sendgrid_webhook_public_key: str | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    # Only to point the SDK at a local peer in tests; Twilio's own host otherwise.
    twilio_api_base: str | None = None

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_ttl_minutes: int = Field(default=60, gt=0)

    # The reconciler's schedule, and how long past a deadline before it steps in.
    reconcile_interval_minutes: int = Field(default=10, gt=0)
    reconcile_grace_minutes: int = Field(default=10, gt=0)

    # `id1:base64key1,id2:base64key2`: the first key encrypts, every key decrypts.
    payload_encryption_keys: SecretStr = SecretStr(DEV_PAYLOAD_ENCRYPTION_KEYS)
    codec_cors_origins: list[str] = ["http://localhost:8233", "http://127.0.0.1:8233"]

    # Calendar grants and passwords at rest: Fernet keys, comma-separated; the first encrypts,
    # every key decrypts (add a new key first, re-seal, then drop the old one).
    calendar_secret_keys: SecretStr = SecretStr(DEV_CALENDAR_SECRET_KEY)
    # How often each connection's calendars are read (a signal reads them at once).
    calendar_sync_minutes: int = Field(default=5, gt=0)
    # Google and Microsoft 365: the OAuth client registered with each (unset: not offered).
    # Their redirect URI is PUBLIC_BASE_URL + /calendar/connections/{google|microsoft}/callback.
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    microsoft_client_id: str | None = None
    microsoft_client_secret: SecretStr | None = None
    microsoft_authority: str = "https://login.microsoftonline.com/common"
    # Only to point the clients at local peers in tests; the vendors' own hosts otherwise.
    google_oauth_auth_uri: str | None = None
    google_oauth_token_uri: str | None = None
    google_calendar_api_base: str | None = None
    graph_api_base: str | None = None
    calendar_oauth_ca_bundle: str | None = None
    # CalDAV servers on loopback or private addresses (a Nextcloud on the LAN): allowed in
    # development; in production only when set, since a provider chooses the address (SSRF).
    caldav_private_hosts: bool | None = None

    # --- Abuse limits (issue #13). Limits are `limits` strings: "N/minute", "N per 15 minutes",
    # several joined by ";". Each is a moving window.
    # memory:// keeps counts in the process (one API replica); redis://host:port/db shares them.
    rate_limit_storage: str = "memory://"
    rate_limits_enabled: bool = True
    rate_limit_login_account: str = "10/minute"
    rate_limit_login_ip: str = "30/minute"
    rate_limit_register_ip: str = "10/hour"
    rate_limit_booking_customer: str = "20/minute"
    rate_limit_search_ip: str = "120/minute"
    # Failed logins in a row before each further try waits (1 s, doubling), and before a lock.
    login_backoff_after: int = Field(default=5, ge=1)
    login_lock_after: int = Field(default=20, ge=2)
    login_lock_minutes: int = Field(default=15, gt=0)
    # Open unpaid holds one customer may have at once (409 too_many_holds beyond).
    max_open_holds: int = Field(default=3, ge=1)
    # Request bodies beyond this answer 413 before they are read whole (webhooks included).
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Threads that hash passwords (argon2), so logins never stall the event loop.
    password_hash_threads: int = Field(default=4, ge=1)
    # Origins a browser may call the API from (CORS); none by default (same origin only).
    cors_allow_origins: list[str] = []
    # /docs, /redoc and /openapi.json; turn off in production if the API is not public.
    api_docs: bool = True
    # Each live-availability stream (SSE) ends after this long, so connections do not pile up;
    # the browser's EventSource opens a new one by itself.
    availability_stream_seconds: float = Field(default=300, gt=0)

    # --- Privacy (issue #13): retention of what is no longer needed.
    # How often the retention workflow (a Temporal Schedule) purges what is past these periods.
    retention_interval_hours: int = Field(default=24, gt=0)
    # Days after it was sent that a message of an ended booking keeps its text and address.
    retention_message_days: int = Field(default=90, gt=0)
    # Days a handled payment webhook event stays in the ledger; gateways retry for up to 3.
    retention_payment_event_days: int = Field(default=90, ge=7)
    # Days an expired or used calendar authorization (a sealed PKCE verifier) is kept.
    retention_calendar_authorization_days: int = Field(default=1, gt=0)

    # --- Telemetry (issue #13).
    # Log lines as JSON (for collectors) or for a person at a terminal; unset: console in
    # development, JSON elsewhere.
    log_format: Literal["json", "console"] | None = Field(default=None, validate_default=True)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # The API's GET /metrics (Prometheus); with a token, a scraper must send it as a bearer token.
    api_metrics: bool = True
    metrics_token: SecretStr | None = None
    # The worker's Temporal SDK metrics at http://HOST:PORT/metrics; port 0 turns them off. A
    # second worker on one host finds the port taken and runs without them, saying so.
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=9464, ge=0, lt=65536)
    # An OTLP/HTTP collector (http://collector:4318) for traces; unset: no tracing at all.
    otel_exporter_otlp_endpoint: str | None = None

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url.startswith(("sqlite", "postgres")):
            raise ValueError("DATABASE_URL must be a sqlite:// or postgresql:// URL")
        return url

    @field_validator("log_format")
    @classmethod
    def _log_format_for_environment(
        cls, log_format: str | None, info: ValidationInfo
    ) -> str | None:
        if log_format is not None:
            return log_format
        return "console" if info.data.get("environment") == "development" else "json"

    @field_validator(
        "rate_limit_login_account",
        "rate_limit_login_ip",
        "rate_limit_register_ip",
        "rate_limit_booking_customer",
        "rate_limit_search_ip",
    )
    @classmethod
    def _readable_rate_limit(cls, value: str, info: ValidationInfo) -> str:
        import limits

        name = (info.field_name or "rate limit").upper()
        try:
            items = limits.parse_many(value)
        except ValueError:
            raise ValueError(f'{name} must read like "10/minute" or "5 per 15 minutes"') from None
        if not items or any(item.amount < 1 for item in items):
            raise ValueError(f"{name} must allow at least one request")
        return value

    @field_validator("stripe_publishable_key")
    @classmethod
    def _publishable_stripe_key(cls, key: str | None) -> str | None:
        # Every visitor reads this key: a secret or restricted key here would be published.
        if key is not None and not key.startswith("pk_"):
            raise ValueError("STRIPE_PUBLISHABLE_KEY must be a publishable key (pk_...)")
        return key

    @field_validator("rate_limit_storage")
    @classmethod
    def _known_rate_limit_storage(cls, url: str) -> str:
        if not url.removeprefix("async+").startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("RATE_LIMIT_STORAGE must be memory:// or a redis:// URL")
        return url

    @field_validator("sendgrid_webhook_public_key")
    @classmethod
    def _readable_sendgrid_key(cls, key: str | None) -> str | None:
        if key is None:
            return None
        try:
            public_key = load_der_public_key(base64.b64decode(key, validate=True))
        except (binascii.Error, ValueError):
            raise ValueError(
                "SENDGRID_WEBHOOK_PUBLIC_KEY must be the base64 public key SendGrid shows"
            ) from None
        if not isinstance(public_key, EllipticCurvePublicKey):
            raise ValueError("SENDGRID_WEBHOOK_PUBLIC_KEY must be an ECDSA public key")
        return key

    @field_validator("payload_encryption_keys")
    @classmethod
    def _well_formed_payload_keys(cls, keys: SecretStr) -> SecretStr:
        parse_payload_keys(keys.get_secret_value())
        return keys

    @field_validator("calendar_secret_keys")
    @classmethod
    def _well_formed_calendar_keys(cls, keys: SecretStr) -> SecretStr:
        parse_calendar_keys(keys.get_secret_value())
        return keys

    @model_validator(mode="after")
    def _real_secrets_outside_development(self) -> Settings:
        if self.email_backend == "sendgrid" and self.sendgrid_api_key is None:
            raise ValueError("SENDGRID_API_KEY is required when EMAIL_BACKEND=sendgrid")
        if self.sms_backend == "twilio" and not (
            self.twilio_account_sid and self.twilio_auth_token and self.twilio_from_number
        ):
            raise ValueError(
                "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER are required when "
                "SMS_BACKEND=twilio"
            )
        if self.environment == "development":
            return self
        for name in ("payment_webhook_secret", "jwt_secret"):
            secret: SecretStr = getattr(self, name)
            if secret.get_secret_value() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name.upper()} must be set to a real secret in production")
        if DEV_PAYLOAD_KEY in self.payload_keys.values():
            raise ValueError("PAYLOAD_ENCRYPTION_KEYS must not contain the development key")
        if DEV_CALENDAR_SECRET_KEY in parse_calendar_keys(
            self.calendar_secret_keys.get_secret_value()
        ):
            raise ValueError("CALENDAR_SECRET_KEYS must not contain the development key")
        if self.payment_gateway == "sandbox":
            raise ValueError(
                "PAYMENT_GATEWAY=sandbox takes no real money and is for development only; "
                "set PAYMENT_GATEWAY=stripe in production"
            )
        if self.payment_gateway == "stripe" and self.stripe_api_key is None:
            raise ValueError("STRIPE_API_KEY is required when PAYMENT_GATEWAY=stripe")
        if self.payment_gateway == "stripe" and self.stripe_publishable_key is None:
            # Without it the booking page cannot take a card: nobody could pay there.
            raise ValueError("STRIPE_PUBLISHABLE_KEY is required when PAYMENT_GATEWAY=stripe")
        if self.api_metrics and self.metrics_token is None:
            # Request counts by route and status tell a stranger too much about the service.
            raise ValueError(
                "METRICS_TOKEN is required in production for the API's /metrics "
                "(or API_METRICS=false to turn it off)"
            )
        return self

    @property
    def payload_keys(self) -> dict[str, bytes]:
        """Payload keys by id, in order: the first encrypts, all of them decrypt."""
        return parse_payload_keys(self.payload_encryption_keys.get_secret_value())

    @property
    def caldav_private_hosts_allowed(self) -> bool:
        if self.caldav_private_hosts is None:
            return self.environment == "development"
        return self.caldav_private_hosts

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


def parse_payload_keys(raw: str) -> dict[str, bytes]:
    """Parse `id:base64key,...`; messages name the key id, never the key."""
    keys: dict[str, bytes] = {}
    for entry in raw.split(","):
        key_id, sep, encoded = (part.strip() for part in entry.partition(":"))
        if not (key_id and sep and encoded):
            raise ValueError("PAYLOAD_ENCRYPTION_KEYS must look like id1:base64key1,id2:base64key2")
        if key_id in keys:
            raise ValueError(f"PAYLOAD_ENCRYPTION_KEYS names key id {key_id!r} twice")
        try:
            padded = encoded + "=" * (-len(encoded) % 4)
            key = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except binascii.Error:
            raise ValueError(f"PAYLOAD_ENCRYPTION_KEYS: key {key_id!r} is not base64") from None
        if len(key) != PAYLOAD_KEY_BYTES:
            raise ValueError(
                f"PAYLOAD_ENCRYPTION_KEYS: key {key_id!r} must be {PAYLOAD_KEY_BYTES} bytes "
                f"(AES-256), not {len(key)}; make one with `openssl rand -base64 32`"
            )
        keys[key_id] = key
    return keys


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


def parse_calendar_keys(value: str) -> list[str]:
    """The Fernet keys of CALENDAR_SECRET_KEYS, in order; ValueError naming the bad one."""
    from cryptography.fernet import Fernet

    keys = [key.strip() for key in value.split(",") if key.strip()]
    if not keys:
        raise ValueError("CALENDAR_SECRET_KEYS must hold at least one Fernet key")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, binascii.Error):
            raise ValueError(
                f"CALENDAR_SECRET_KEYS key {position} is not a Fernet key (32 url-safe base64 "
                "bytes, as Fernet.generate_key() makes)"
            ) from None
    return keys
