"""Rate limits applied per route as dependencies (the limiter itself: api/rate_limiter.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import CurrentUser, ServicesDep
from api.rate_limiter import RateLimiter, Rule


def client_ip(request: Request) -> str:
    """The caller's address (behind a proxy: as uvicorn's --forwarded-allow-ips resolved it)."""
    return request.client.host if request.client else "unknown"


async def _limiter(services: ServicesDep) -> RateLimiter:
    return services.limiter


LimiterDep = Annotated[RateLimiter, Depends(_limiter)]


async def limit_login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    limiter: LimiterDep,
) -> None:
    """Logins per client IP, then per account named (known or not)."""
    await limiter.check(Rule.LOGIN_IP, client_ip(request))
    await limiter.check(Rule.LOGIN_ACCOUNT, form.username.lower())


async def limit_register(request: Request, limiter: LimiterDep) -> None:
    await limiter.check(Rule.REGISTER_IP, client_ip(request))


async def limit_booking(user: CurrentUser, limiter: LimiterDep) -> None:
    await limiter.check(Rule.BOOKING_CUSTOMER, str(user.id))


async def limit_search(request: Request, limiter: LimiterDep) -> None:
    """Provider search and availability share one window per client IP."""
    await limiter.check(Rule.SEARCH_IP, client_ip(request))
