"""Insert-if-absent that is safe under concurrency on every backend."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


def insert_ignoring_duplicates(
    db: AsyncSession, table: Table, values: dict[str, Any], *, key: str
) -> Insert:
    """An INSERT that silently does nothing when a unique key already holds the row.

    Racing get-or-create callers then never see an IntegrityError: exactly one insert wins and
    every caller reads the same row afterwards. ``key`` names the unique column.
    """
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).values(values).on_conflict_do_nothing()
    if dialect in ("mysql", "mariadb"):
        # INSERT IGNORE would also hide other errors (bad FK, truncation); setting the unique
        # key to itself is a no-op that only swallows the duplicate.
        statement = mysql.insert(table).values(values)
        return statement.on_duplicate_key_update({key: table.c[key]})
    raise NotImplementedError(f"no insert-if-absent for dialect {dialect!r}")
