"""answers.turn_latency: per-turn latency measured by the exam session loop (JSON)

Revision ID: 85fb437937b3
Revises: c6fd875daa72
Create Date: 2026-11-27 03:10:19.432491+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "85fb437937b3"
down_revision: str | None = "c6fd875daa72"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("turn_latency", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.drop_column("turn_latency")
