"""analysis_routing_choices: each analyst's last scenario, report types and building type
(issue 17), offered as the default on their next upload. One row per user, rewritten by each
upload; it goes with its user, its scenario, and loses its building type if that goes.

Revision ID: 665d5846f5cf
Revises: f2b4d6a8c0e1
Create Date: 2026-12-07 09:31:35.893575+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newspeech.db.base

revision: str = "665d5846f5cf"
down_revision: str | None = "f2b4d6a8c0e1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analysis_routing_choices",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "scenario_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("report_types", sa.JSON(), nullable=False),
        sa.Column(
            "building_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["building_type_id"],
            ["analysis_building_types.id"],
            name=op.f("fk_analysis_routing_choices_building_type_id_analysis_building_types"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["analysis_scenarios.id"],
            name=op.f("fk_analysis_routing_choices_scenario_id_analysis_scenarios"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_analysis_routing_choices_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_analysis_routing_choices")),
    )


def downgrade() -> None:
    op.drop_table("analysis_routing_choices")
