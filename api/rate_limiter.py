"""Moving-window rate limits kept in memory or in Redis (the `limits` library)."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import cast

import redis.asyncio
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from api.errors import APIError
from config import Settings

log = logging.getLogger("booking.limits")

KEY_PREFIX = "booking-limits"
# A Redis that stops answering must not hold every request up behind it.
REDIS_TIMEOUT_SECONDS = 0.5


class Rule(StrEnum):
    """What a window counts, and the part of its storage key that says so."""

    LOGIN_ACCOUNT = "login-account"
    LOGIN_IP = "login-ip"
    REGISTER_IP = "register-ip"
    BOOKING_CUSTOMER = "booking-customer"
    SEARCH_IP = "search-ip"


def rules_from_settings(settings: Settings) -> dict[Rule, list[RateLimitItem]]:
    return {
        Rule.LOGIN_ACCOUNT: parse_many(settings.rate_limit_login_account),
        Rule.LOGIN_IP: parse_many(settings.rate_limit_login_ip),
        Rule.REGISTER_IP: parse_many(settings.rate_limit_register_ip),
        Rule.BOOKING_CUSTOMER: parse_many(settings.rate_limit_booking_customer),
        Rule.SEARCH_IP: parse_many(settings.rate_limit_search_ip),
    }


class RateLimiter:
    """Counts requests in moving windows; `check` refuses one beyond its rule with a 429."""

    def __init__(
        self,
        storage: Storage | None,
        rules: Mapping[Rule, list[RateLimitItem]],
        *,
        pool: redis.asyncio.ConnectionPool | None = None,
    ) -> None:
        self._storage = storage
        self._windows = None if storage is None else MovingWindowRateLimiter(storage)
        self._rules = rules
        self._pool = pool
        self._storage_down = False

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """The limiter RATE_LIMIT_* describe; one that lets everything through when disabled."""
        if not settings.rate_limits_enabled:
            return cls(None, {})
        return cls.from_url(settings.rate_limit_storage, rules_from_settings(settings))

    @classmethod
    def from_url(
        cls, url: str, rules: Mapping[Rule, list[RateLimitItem]], *, key_prefix: str = KEY_PREFIX
    ) -> RateLimiter:
        """Windows kept at RATE_LIMIT_STORAGE: memory:// or redis[s]://host:port/db."""
        url = url.removeprefix("async+")
        if url.startswith("memory://"):
            return cls(MemoryStorage(), rules)
        # Our own pool, so aclose can close it: the storage has no close of its own.
        pool = redis.asyncio.ConnectionPool.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        storage = storage_from_string(
            f"async+{url}",
            implementation="redispy",
            key_prefix=key_prefix,
            wrap_exceptions=True,
            connection_pool=pool,  # type: ignore[arg-type]  # passed on to redis-py
        )
        return cls(cast(Storage, storage), rules, pool=pool)

    async def check(self, rule: Rule, who: str) -> None:
        """Count one request by `who` (an IP, an account) under `rule`; APIError 429 beyond it."""
        if self._windows is None:
            return
        # Hashed: the keys outlive the request, and emails and IPs are personal data.
        key = hashlib.blake2b(who.encode(), digest_size=16).hexdigest()
        try:
            for item in self._rules[rule]:
                if not await self._windows.hit(item, rule, key):
                    stats = await self._windows.get_window_stats(item, rule, key)
                    raise too_many_requests(stats.reset_time - time.time())
        except (StorageError, OSError, TimeoutError) as err:
            # Fail open: a Redis outage must not take logins and bookings down with it; the
            # login backoff and the hold cap live in the database and still apply.
            if not self._storage_down:
                log.warning("rate limit storage unreachable, requests pass unlimited: %s", err)
            self._storage_down = True
            return
        if self._storage_down:
            log.info("rate limit storage reachable again")
            self._storage_down = False

    async def aclose(self) -> None:
        # The memory storage's expiry sweep runs as a task on a loop that is about to end.
        if isinstance(self._storage, MemoryStorage) and self._storage.timer is not None:
            self._storage.timer.cancel()
        if self._pool is not None:
            await self._pool.aclose()


def too_many_requests(seconds: float) -> APIError:
    retry_after = max(1, math.ceil(seconds))
    return APIError(
        429,
        "rate_limited",
        f"too many requests; try again in {retry_after} seconds",
        headers={"Retry-After": str(retry_after)},
    )
