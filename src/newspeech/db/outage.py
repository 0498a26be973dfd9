"""Telling "the database is away" (refused, dropped, gone away) from a bad query, so callers
can answer 503 and try again later instead of failing as if the request were wrong."""

from __future__ import annotations

from asyncpg.exceptions import ConnectionDoesNotExistError  # type: ignore[import-untyped]  # no stubs
from sqlalchemy.exc import DBAPIError, OperationalError

RETRY_AFTER_SECONDS = 5
_MYSQL_CONNECTION_ERRORS = frozenset({2002, 2003, 2006, 2013})
"""MySQL / MariaDB client codes: can't connect (socket, TCP), server gone away, lost."""


def database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError)):  # asyncpg raises these as they are
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or _lost_connection(exc):
        return True
    if isinstance(exc, OperationalError):
        args = getattr(exc.orig, "args", ())
        if args and args[0] in _MYSQL_CONNECTION_ERRORS:
            return True
        return "unable to open database file" in str(exc.orig)
    return False


def _lost_connection(exc: DBAPIError) -> bool:
    """The driver's connection died under it (asyncpg: "connection was closed in the middle of
    operation", e.g. a host going down while a new connection was being set up, which
    SQLAlchemy does not mark as a disconnect)."""
    cause: BaseException | None = exc.orig
    while cause is not None:
        if isinstance(cause, (ConnectionDoesNotExistError, ConnectionError, TimeoutError)):
            return True
        cause = cause.__cause__
    return False
