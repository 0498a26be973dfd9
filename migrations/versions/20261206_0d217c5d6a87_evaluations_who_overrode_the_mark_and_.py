"""evaluations: who overrode the mark, and when

Until now only ``reviewed_by`` / ``reviewed_at`` said who changed a score, and a later flag
cleared them. Existing overrides (manual evaluations still marked reviewed) are copied over; one
flagged again since its override has only its audit row to say who made it.

Revision ID: 0d217c5d6a87
Revises: 211c97026998
Create Date: 2026-12-06 14:01:22.798556+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newspeech.db.base

revision: str = "0d217c5d6a87"
down_revision: str | None = "211c97026998"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "overridden_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("overridden_at", newspeech.db.base.UTCDateTime(), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_evaluations_overridden_by_users"),
            "users",
            ["overridden_by"],
            ["id"],
            ondelete="SET NULL",
        )
    evaluations = sa.table(
        "evaluations",
        sa.column("evaluator_type", sa.String),
        sa.column("reviewed_by", sa.BigInteger),
        sa.column("reviewed_at", newspeech.db.base.UTCDateTime()),
        sa.column("overridden_by", sa.BigInteger),
        sa.column("overridden_at", newspeech.db.base.UTCDateTime()),
    )
    op.execute(
        evaluations.update()
        .where(evaluations.c.evaluator_type == "manual", evaluations.c.reviewed_at.is_not(None))
        .values(overridden_by=evaluations.c.reviewed_by, overridden_at=evaluations.c.reviewed_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_evaluations_overridden_by_users"), type_="foreignkey"
        )
        batch_op.drop_column("overridden_at")
        batch_op.drop_column("overridden_by")
