"""audit_logs.write_key: the idempotency key of a live exam's write

A write the exam kept through a database outage is replayed when the database is back; if its
first commit succeeded and only the reply was lost, the replay finds its key here and stores
nothing twice (no second audit row). Unique, NULL for every other row.

Revision ID: d3f5a7c9e1b2
Revises: b7d2e4f6a8c1
Create Date: 2026-12-07 06:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d3f5a7c9e1b2"
down_revision: str | None = "b7d2e4f6a8c1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_logs", sa.Column("write_key", sa.String(length=32), nullable=True))
    op.create_index("ux_audit_logs_write_key", "audit_logs", ["write_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_audit_logs_write_key", table_name="audit_logs")
    op.drop_column("audit_logs", "write_key")
