"""sitting_leases: which exam loop may write a sitting (issue 16)

One row per sitting that has been opened since: the generation of the loop that holds it (a
fencing token, raised by one each time the sitting is opened on any process or node), that
loop's process and when its lease runs out. Every write of a live sitting checks the
generation in its own transaction (``newspeech.exams.lease``). A sitting without a row is
taken by its next opening.

Revision ID: e3f1a9c4b2d7
Revises: d3f5a7c9e1b2
Create Date: 2026-12-07 06:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from newspeech.db.base import UTCDateTime

revision: str = "e3f1a9c4b2d7"
down_revision: str | None = "d3f5a7c9e1b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sitting_leases",
        sa.Column(
            "session_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_sitting_leases_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_sitting_leases")),
    )


def downgrade() -> None:
    op.drop_table("sitting_leases")
