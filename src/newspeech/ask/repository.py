"""Running checked SQL read-only, bounded in time, with the least privilege each backend allows.

- PostgreSQL: a ``READ ONLY`` transaction, ``SET LOCAL statement_timeout`` and, when the role
  exists and this user may assume it, ``SET LOCAL ROLE newspeech_ask`` (SELECT on the
  ``ask`` views, nothing else); always rolled back.
- MariaDB: a ``READ ONLY`` transaction and ``SET STATEMENT max_statement_time=... FOR`` the
  query; rolled back.
- SQLite: its own connection opened ``mode=ro``, an authorizer admitting only reads of the
  ``ask_`` views (and of base tables from inside them) and a progress handler that stops the
  query at the deadline.

Database errors never reach the caller verbatim (they name tables and columns): they are
logged and become :class:`~newspeech.errors.QueryRefused` or
:class:`~newspeech.errors.QueryTimeout`.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from newspeech.ask.catalogue import VIEWS, physical_name
from newspeech.ask.guards import RowFilter
from newspeech.ask.roles import READ_ONLY_ROLE
from newspeech.errors import QueryRefused, QueryTimeout

logger = logging.getLogger(__name__)

_PG_CANCELLED = "57014"
_MARIADB_INTERRUPTED = {1969, 3024}

SQLITE_FUNCTIONS = frozenset(
    {
        "abs",
        "avg",
        "count",
        "sum",
        "total",
        "min",
        "max",
        "round",
        "coalesce",
        "ifnull",
        "nullif",
        "lower",
        "upper",
        "length",
        "substr",
        "substring",
        "trim",
        "ltrim",
        "rtrim",
        "instr",
        "date",
        "time",
        "datetime",
        "julianday",
        "strftime",
        "unixepoch",
        "iif",
        "rank",
        "dense_rank",
        "row_number",
        "like",
        "glob",
        "floor",
        "ceil",
        "ceiling",
        "concat",
        "printf",
        "format",
    }
)
"""Functions the SQLite authorizer lets a question (or a view it reads) call."""


@dataclass(frozen=True)
class Rows:
    columns: list[str]
    rows: list[tuple[Any, ...]]


class ReadOnlyRunner:
    """Runs one checked query on ``engine``'s database and returns its rows."""

    def __init__(self, engine: AsyncEngine, *, timeout_seconds: float = 5.0) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.timeout_seconds = timeout_seconds
        self._can_assume_role: bool | None = None

    async def run(self, sql: str, rows: RowFilter) -> Rows:
        """Run ``sql`` (checked by the guards for ``rows``). On PostgreSQL ``rows`` also sets
        the row-level security scope (migration b7d2e4f6a8c1) of the read-only role."""
        if self.dialect == "sqlite":
            path = self.engine.url.database
            if not path or path == ":memory:":
                raise QueryRefused("questions need a file database on SQLite")
            return await asyncio.to_thread(run_sqlite, path, sql, self.timeout_seconds)
        async with self.engine.connect() as connection:
            try:
                if self.dialect == "postgresql":
                    return await self._postgresql(connection, sql, rows)
                return await self._mariadb(connection, sql)
            except DBAPIError as exc:
                raise _refusal(exc) from exc
            finally:
                await connection.rollback()

    async def _postgresql(self, connection: AsyncConnection, sql: str, rows: RowFilter) -> Rows:
        await connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        milliseconds = max(1, int(self.timeout_seconds * 1000))
        await connection.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
        if await self._role_available(connection):
            colleges = ",".join(sorted(rows.colleges or ()))
            await connection.execute(
                text(
                    "SELECT set_config('newspeech.ask_all', :all, true), "
                    "set_config('newspeech.ask_colleges', :colleges, true), "
                    "set_config('newspeech.ask_analysis', :analysis, true)"
                ),
                {
                    "all": "on" if rows.exams and rows.colleges is None else "off",
                    "colleges": colleges if rows.exams else "",
                    "analysis": "on" if rows.analysis else "off",
                },
            )
            await connection.exec_driver_sql(f"SET LOCAL ROLE {READ_ONLY_ROLE}")
        return await _fetch(connection, sql)

    async def _role_available(self, connection: AsyncConnection) -> bool:
        if self._can_assume_role is None:
            found = await connection.exec_driver_sql(
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
                f"'{READ_ONLY_ROLE}') THEN pg_has_role('{READ_ONLY_ROLE}', 'MEMBER') "
                "ELSE false END"
            )
            self._can_assume_role = bool(found.scalar())
            if not self._can_assume_role:
                logger.warning(
                    "ask: role %s unavailable; read-only transaction only", READ_ONLY_ROLE
                )
        return self._can_assume_role

    async def _mariadb(self, connection: AsyncConnection, sql: str) -> Rows:
        await connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        seconds = max(0.001, self.timeout_seconds)
        return await _fetch(connection, f"SET STATEMENT max_statement_time={seconds:.3f} FOR {sql}")


async def _fetch(connection: AsyncConnection, sql: str) -> Rows:
    # no_parameters: the driver must not read "%" in LIKE patterns as placeholders.
    plain = await connection.execution_options(no_parameters=True)
    result = await plain.exec_driver_sql(sql)
    return Rows(list(result.keys()), [tuple(row) for row in result.fetchall()])


def _refusal(exc: DBAPIError) -> QueryRefused:
    original: Any = exc.orig
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    errno = original.args[0] if original is not None and original.args else None
    if (
        state == _PG_CANCELLED
        or errno in _MARIADB_INTERRUPTED
        or "canceling statement" in str(original)
    ):
        return QueryTimeout("the query took too long and was stopped; ask something narrower")
    logger.warning("ask: the database refused a checked query: %s", original)
    return QueryRefused("the database could not run this query")


VIEW_SOURCES = frozenset(
    {
        "college_types",
        "sessions",
        "answers",
        "evaluations",
        "results",
        "question_banks",
        "analysis_transcriptions",
        "analysis_reports",
        "analysis_scenarios",
        "analysis_report_types",
        "analysis_report_runs",
        "analysis_jobs",
        "analysis_job_stages",
        "analysis_llm_calls",
        "analysis_prompts",
        "analysis_prompt_versions",
        "analysis_building_types",
        "analysis_employees",
        "analysis_clients",
        "analysis_places",
        "analysis_zones",
        "analysis_cities",
    }
)
"""The tables the views read. SQLite names the view a read comes from only for some of a
view's joins, so reads of these are admitted too; the guards above never let a question name
them, and users, sign-ins, tokens, audit rows, configuration and sqlite_master stay denied."""


def _authorizer(views: frozenset[str], stored: frozenset[str]) -> Callable[..., int]:
    """Reads of the views and the tables they read, and of names that are no stored table (a
    query's own WITH names); every other action is denied."""
    hidden = {name.lower() for name in stored} - views - VIEW_SOURCES

    def readable(table: str, source: str) -> bool:
        if table in views or source in views:
            return True
        return table not in hidden and not table.startswith(("sqlite_", "pragma_"))

    def authorize(
        action: int, arg1: str | None, arg2: str | None, _db: str | None, source: str | None
    ) -> int:
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            if readable((arg1 or "").lower(), (source or "").lower()):
                return sqlite3.SQLITE_OK
            logger.info("ask: SQLite authorizer denied reading %s", arg1)
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            name = (arg2 or "").lower()
            if name in SQLITE_FUNCTIONS:
                return sqlite3.SQLITE_OK
            logger.info("ask: SQLite authorizer denied the function %s", name)
            return sqlite3.SQLITE_DENY
        logger.info("ask: SQLite authorizer denied action %s on %s %s", action, arg1, arg2)
        return sqlite3.SQLITE_DENY

    return authorize


SQLITE_VIEWS = frozenset(physical_name("sqlite", view)[1] for view in VIEWS)


def run_sqlite(path: str, sql: str, timeout_seconds: float) -> Rows:
    """One query on a read-only connection of its own (blocking: run it in a thread)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout_seconds)
    try:
        connection.execute("PRAGMA query_only = ON")
        stored = connection.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
        )
        connection.set_authorizer(_authorizer(SQLITE_VIEWS, frozenset(r[0] for r in stored)))
        deadline = time.monotonic() + timeout_seconds
        connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            cursor = connection.execute(sql)
            rows = cursor.fetchall()
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise QueryTimeout(
                    "the query took too long and was stopped; ask something narrower"
                ) from exc
            logger.warning("ask: SQLite refused a checked query: %s", exc)
            raise QueryRefused("the database could not run this query") from exc
        except sqlite3.DatabaseError as exc:
            logger.warning("ask: SQLite refused a checked query: %s", exc)
            raise QueryRefused("the database could not run this query") from exc
        columns = [str(d[0]) for d in cursor.description or ()]
        return Rows(columns, [tuple(row) for row in rows])
    finally:
        connection.close()
