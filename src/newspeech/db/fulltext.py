"""Full-text indexes, where the backend has them.

MySQL/MariaDB get a FULLTEXT index, PostgreSQL a GIN index over ``to_tsvector('english', ...)``;
SQLite has no full-text index on an ordinary table (FTS5 is a separate virtual table), so none.
Names start with ``ft_`` so Alembic's autogenerate can leave them alone.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection
from sqlalchemy.sql import text

FULLTEXT_PREFIX = "ft_"
FULLTEXT_INDEXES = {
    # index name: (table, column)
    "ft_question_banks_question_text": ("question_banks", "question_text"),
}


def is_fulltext_index(name: str | None) -> bool:
    return bool(name) and str(name).startswith(FULLTEXT_PREFIX)


def create_fulltext_indexes(connection: Connection) -> None:
    dialect = connection.dialect.name
    for name, (table, column) in FULLTEXT_INDEXES.items():
        if dialect in ("mysql", "mariadb"):
            connection.execute(text(f"CREATE FULLTEXT INDEX {name} ON {table} ({column})"))
        elif dialect == "postgresql":
            connection.execute(
                text(f"CREATE INDEX {name} ON {table} USING gin (to_tsvector('english', {column}))")
            )


def drop_fulltext_indexes(connection: Connection) -> None:
    dialect = connection.dialect.name
    for name, (table, _column) in FULLTEXT_INDEXES.items():
        if dialect in ("mysql", "mariadb"):
            connection.execute(text(f"DROP INDEX {name} ON {table}"))
        elif dialect == "postgresql":
            connection.execute(text(f"DROP INDEX {name}"))
