"""Password hashing off the event loop: argon2 takes tens of milliseconds of CPU per call."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from domain.passwords import hash_password, verify_password


class PasswordHasher:
    """Hashes and verifies in a pool of its own, so a burst of logins queues there (bounded by
    PASSWORD_HASH_THREADS) instead of stalling every other request or taking the shared pool
    that FastAPI runs sync code in."""

    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="argon2")

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, hash_password, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, verify_password, password_hash, password
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
