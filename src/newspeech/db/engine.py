"""Engine and session factories built from settings (never at import time)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from newspeech.config import Settings


def _connect_args(settings: Settings) -> dict[str, Any]:
    timeout = settings.db_connect_timeout
    if settings.backend == "postgresql":
        return {"timeout": timeout}
    if settings.backend == "mysql":
        return {"connect_timeout": int(timeout), "charset": "utf8mb4"}
    # SQLite: how long a writer waits for the lock before "database is locked".
    return {"timeout": timeout}


def create_engine(settings: Settings) -> AsyncEngine:
    """Create the process's one engine, with the pool settings from ``settings``."""
    options: dict[str, Any] = {
        "echo": settings.db_echo,
        # A ping costs round trips on every checkout (three on asyncpg); a local SQLite file
        # cannot lose its connection, so it is never pinged.
        "pool_pre_ping": settings.db_pool_pre_ping and settings.backend != "sqlite",
        "pool_recycle": settings.db_pool_recycle,
        "connect_args": _connect_args(settings),
    }
    if settings.backend == "sqlite" and ":memory:" in settings.database_url:
        engine = create_async_engine(settings.database_url, **options)
    else:
        options |= {
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_max_overflow,
        }
        engine = create_async_engine(settings.database_url, **options)
    if settings.backend == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # SQLite ignores foreign keys (and so ON DELETE rules) unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL lets readers run while one writer commits; NORMAL sync is safe under WAL.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


_AFTER_COMMIT = "newspeech.after_commit"

logger = logging.getLogger(__name__)


def after_commit(db: AsyncSession, call: Callable[[], Awaitable[None]]) -> None:
    """Run ``call`` once ``db``'s :func:`unit_of_work` has committed (never if it rolls back):
    for what other readers must only see after the rows do, e.g. dropping a shared cache entry
    that a read on another node could otherwise fill again from the rows not yet committed."""
    db.info.setdefault(_AFTER_COMMIT, []).append(call)


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One short transaction: everything inside commits together or not at all; then what
    :func:`after_commit` asked for runs."""
    async with sessionmaker() as db:
        try:
            yield db
            await db.commit()
        except BaseException:
            db.info.pop(_AFTER_COMMIT, None)
            await db.rollback()
            raise
        for call in db.info.pop(_AFTER_COMMIT, []):
            try:
                await call()
            except Exception:  # committed already: a failed follow-up must not undo the reply
                logger.exception("a follow-up after a commit failed")
