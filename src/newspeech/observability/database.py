"""``db_query_duration_seconds`` and ``db_errors_total`` from SQLAlchemy's engine events.

Each statement is timed from ``before_cursor_execute`` to ``after_cursor_execute`` (the
driver's round trip, not the ORM's work around it). Errors come from ``handle_error``, which
are counted when the database answers; a connection that cannot be made is counted where it is
made (``do_connect``), so an unreachable database shows as ``db_errors_total{kind="unavailable"}``.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

from newspeech.db.outage import database_unavailable
from newspeech.observability.metrics import Metrics

_OPERATIONS = frozenset(
    {"select", "insert", "update", "delete", "with", "begin", "commit", "rollback", "savepoint"}
)
_STARTED = "newspeech_statement_started"


def operation(statement: str) -> str:
    """The statement's first keyword when it is a common one, else ``other`` (bounded labels)."""
    word = statement.lstrip(" \n\t(").split(None, 1)[0].lower() if statement.strip() else ""
    return word if word in _OPERATIONS else "other"


def instrument_engine(engine: AsyncEngine, metrics: Metrics) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _before(
        conn: Connection, _cursor: Any, _statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        conn.info[_STARTED] = time.perf_counter()

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _after(
        conn: Connection, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        started: float | None = conn.info.pop(_STARTED, None)
        if started is not None:
            elapsed = time.perf_counter() - started
            metrics.db_duration.labels(operation(statement)).observe(elapsed)

    @event.listens_for(sync_engine, "do_connect")
    def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        # A refused connection never reaches ``handle_error`` on every driver (asyncpg raises
        # a bare OSError), so a new connection is made here, where its failure is seen.
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception:
            metrics.db_errors.labels("unavailable").inc()
            raise

    @event.listens_for(sync_engine, "handle_error")
    def _error(context: ExceptionContext) -> None:
        if context.connection is None:
            return  # failed to connect: counted by ``_connect``
        # A failed statement's start stays in the connection's info until the next statement
        # overwrites it: statements on one connection never overlap.
        original = context.sqlalchemy_exception or context.original_exception
        unavailable = database_unavailable(original) or context.is_disconnect
        metrics.db_errors.labels("unavailable" if unavailable else "query").inc()
