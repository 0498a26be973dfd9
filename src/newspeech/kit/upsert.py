"""Insert-if-absent that is safe under concurrency on every backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from newspeech.kit.clock import system_clock


def insert_ignoring_duplicates(
    dialect: str,
    table: Table,
    values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    key: str,
) -> Insert:
    """An INSERT that silently does nothing when a unique key already holds the row (of each
    row, given several).

    Racing get-or-create callers then never see an IntegrityError: exactly one insert wins and
    every caller reads the same row afterwards. ``key`` names the unique column.
    """
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


async def insert_if_absent(
    db: AsyncSession,
    table: Table,
    values: dict[str, Any] | Sequence[dict[str, Any]],
    *,
    key: str,
) -> None:
    """Insert ``values`` (stamping created/updated times) unless ``key`` already exists; given
    several rows, each that is absent, in one statement."""
    now = system_clock()
    stamps = {name: now for name in ("created_at", "updated_at") if name in table.c}
    if isinstance(values, dict):
        rows: dict[str, Any] | list[dict[str, Any]] = stamps | values
    elif not values:
        return
    else:
        rows = [stamps | row for row in values]
    dialect = db.get_bind().dialect.name
    await db.execute(insert_ignoring_duplicates(dialect, table, rows, key=key))
