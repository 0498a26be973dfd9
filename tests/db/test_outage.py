"""Telling a database that is away from a bad query."""

from __future__ import annotations

import pytest
from asyncpg.exceptions import ConnectionDoesNotExistError  # type: ignore[import-untyped]
from sqlalchemy.exc import DBAPIError, ProgrammingError

from newspeech.db.outage import database_unavailable


def wrapped(cause: BaseException) -> DBAPIError:
    """``cause`` as SQLAlchemy's asyncpg adapter hands it on: the adapter's error, caused by
    the driver's, wrapped in a DBAPIError that is not marked as a disconnect."""
    adapted = Exception(str(cause))
    adapted.__cause__ = cause
    return DBAPIError("SELECT 1", None, adapted)


def test_a_connection_closed_while_being_set_up_is_the_database_away() -> None:
    """Seen when the database went down while the pool opened a connection (fault suite)."""
    error = wrapped(ConnectionDoesNotExistError("connection was closed in the middle of operation"))
    assert not error.connection_invalidated
    assert database_unavailable(error)


@pytest.mark.parametrize("cause", [ConnectionResetError(104, "reset"), TimeoutError()])
def test_a_reset_or_a_timeout_underneath_is_the_database_away(cause: BaseException) -> None:
    assert database_unavailable(wrapped(cause))


def test_a_bad_query_is_not_the_database_away() -> None:
    error = ProgrammingError("SELEC 1", None, Exception('syntax error at or near "SELEC"'))
    assert not database_unavailable(error)
