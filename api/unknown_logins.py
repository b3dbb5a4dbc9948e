"""Failed logins for an email no account has, counted as an account's are.

Without this, an address in backoff (429 login_backoff) would tell an attacker the account
exists, while an unknown one kept answering 401. Here an unknown email fails the same way: 401,
then 401 with Retry-After, then 429 login_backoff, then the lock. The counts live in this
process, the oldest forgotten first past a bound; a known account's live in its row.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from db.login_throttle import LoginPolicy

REMEMBERED = 10_000


class UnknownLogins:
    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._remembered = remembered
        # email -> (failures in a row, when it may try again)
        self._tries: OrderedDict[str, tuple[int, datetime | None]] = OrderedDict()

    def retry_at(self, email: str) -> datetime | None:
        found = self._tries.get(email.lower())
        return None if found is None else found[1]

    def count_failure(self, email: str, policy: LoginPolicy, *, now: datetime) -> datetime | None:
        """As db.login_throttle.count_failure: uncounted during a wait; after a lock the count
        starts again."""
        key = email.lower()
        failures, retry_at = self._tries.pop(key, (0, None))
        if retry_at is not None and retry_at > now:
            self._tries[key] = (failures, retry_at)
            return None
        failures = 1 if failures >= policy.lock_after else failures + 1
        wait = policy.wait_after(failures)
        retry_at = None if wait is None else now + wait
        self._tries[key] = (failures, retry_at)
        while len(self._tries) > self._remembered:
            self._tries.popitem(last=False)
        return retry_at
