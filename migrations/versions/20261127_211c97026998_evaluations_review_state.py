"""evaluations: review state (needs_review, reasons, flag, reviewer, comment, machine grade)

Revision ID: 211c97026998
Revises: e8abecc6a00e
Create Date: 2026-11-27 07:08:31.497925+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newspeech.db.base

revision: str = "211c97026998"
down_revision: str | None = "e8abecc6a00e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("needs_review", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("review_reasons", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "flagged_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.add_column(sa.Column("flagged_at", newspeech.db.base.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "reviewed_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("reviewed_at", newspeech.db.base.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("review_comment", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("machine_grade", sa.JSON(), nullable=True))
        batch_op.create_index(
            "ix_evaluations_needs_review_reviewed_at", ["needs_review", "reviewed_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_evaluations_reviewed_by_users"),
            "users",
            ["reviewed_by"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_evaluations_flagged_by_users"),
            "users",
            ["flagged_by"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_evaluations_flagged_by_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_evaluations_reviewed_by_users"), type_="foreignkey")
        batch_op.drop_index("ix_evaluations_needs_review_reviewed_at")
        batch_op.drop_column("machine_grade")
        batch_op.drop_column("review_comment")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("reviewed_by")
        batch_op.drop_column("flagged_at")
        batch_op.drop_column("flagged_by")
        batch_op.drop_column("review_reasons")
        batch_op.drop_column("needs_review")
