"""The abuse-limit settings and the login wait policy: pure code, no database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from api.rate_limiter import Rule, rules_from_settings
from config import Settings
from db.login_throttle import LoginPolicy


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rate_limit_login_ip", "lots"),
        ("rate_limit_search_ip", "0/minute"),
        ("rate_limit_storage", "mongodb://127.0.0.1"),
    ],
)
def test_limit_settings_are_checked_at_start(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=name.upper()):
        Settings(_env_file=None, **{name: value})  # type: ignore[call-arg,arg-type]


def test_limit_settings_take_several_windows_and_redis_urls() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        rate_limit_login_ip="5/second;100 per 15 minutes",
        rate_limit_storage="redis://:secret@cache:6379/2",
    )
    assert [str(item) for item in rules_from_settings(settings)[Rule.LOGIN_IP]] == [
        "5 per 1 second",
        "100 per 15 minute",
    ]


def test_the_wait_doubles_and_never_outlasts_the_lock() -> None:
    policy = LoginPolicy(backoff_after=5, lock_after=20, lock=timedelta(minutes=15))
    waits = [policy.wait_after(n) for n in range(1, 22)]
    assert waits[:4] == [None] * 4
    assert waits[4:8] == [timedelta(seconds=s) for s in (1, 2, 4, 8)]
    assert waits[13] == timedelta(seconds=512)
    assert all(wait == timedelta(minutes=15) for wait in waits[14:])
