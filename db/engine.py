"""Engine and sessions: the one place that knows how SQLite and PostgreSQL differ at runtime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from config import Settings

# Marks a check-then-write transaction: SQLite takes the write lock at BEGIN, not at first write.
SERIALIZED = "booking_serialized"
# The SQLite driver's DEBUG lines carry every statement's values: emails, names, password hashes.
logging.getLogger("aiosqlite").setLevel(logging.INFO)


# hide_parameters: a statement's values (emails, names, phones) stay out of errors and logs.
def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        return _sqlite_engine(settings.async_database_url)
    return create_async_engine(
        settings.async_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
        hide_parameters=True,
    )


def _sqlite_engine(url: str) -> AsyncEngine:
    # sqlite3's `timeout` is SQLite's busy timeout: a writer waits for the lock, not fails.
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when a transaction begins and how.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        serialized = conn.get_execution_options().get(SERIALIZED, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if serialized else "BEGIN")

    return engine


class Database:
    """The engine and its two kinds of transaction: plain, and serialized check-then-write;
    each as an ORM session or, for steps that make no ORM objects, a Core connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._serialized_engine = engine.execution_options(**{SERIALIZED: True})
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._serialized_sessions = async_sessionmaker(
            self._serialized_engine, expire_on_commit=False
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(create_engine(settings))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> AsyncSession:
        return self._sessions()

    @asynccontextmanager
    async def serialized(self) -> AsyncIterator[AsyncSession]:
        """A transaction for check-then-write: in SQLite no other writer runs until it ends."""
        async with self._serialized_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection for reads. On PostgreSQL in autocommit: no BEGIN and ROLLBACK round
        trips (about 2 ms a request), but each statement sees its own snapshot, so a reader of
        several statements must check that they agree. On SQLite a transaction costs no round
        trip and stays."""
        async with self.engine.connect() as connection:
            if self.dialect == "postgresql":
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    def transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A Core connection in a transaction, committed when the block ends without error."""
        return self.engine.begin()

    def serialized_transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """`serialized` on a Core connection: the booking saga's hot steps build no ORM objects
        (the session's bookkeeping was a fifth of the worker's CPU per booking)."""
        return self._serialized_engine.begin()

    async def dispose(self) -> None:
        await self.engine.dispose()
