"""analysis: jobs and their stages

Recording-analysis jobs (issue 17), new tables only: ``analysis_jobs`` (one run of the pipeline
over a recording) and ``analysis_job_stages`` (its ordered steps, unique per
``(job_id, phase, chunk)``, each with its checkpointed output). Downgrading drops them (the
indexes go with the tables: MariaDB refuses to drop an index a foreign key still uses).

Revision ID: 8fc9bdd1b0e2
Revises: b7c41e2d9f05
Create Date: 2026-12-07 02:32:15.836833+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newspeech.db.base

revision: str = "8fc9bdd1b0e2"
down_revision: str | None = "b7c41e2d9f05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analysis_jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "transcription_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                "cancelled",
                name="analysis_job_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "requested_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("started_at", newspeech.db.base.UTCDateTime(), nullable=True),
        sa.Column("finished_at", newspeech.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_analysis_jobs_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["transcription_id"],
            ["analysis_transcriptions.id"],
            name=op.f("fk_analysis_jobs_transcription_id_analysis_transcriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_jobs")),
    )
    with op.batch_alter_table("analysis_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_analysis_jobs_status", ["status"], unique=False)
        batch_op.create_index(
            "ix_analysis_jobs_transcription_id", ["transcription_id"], unique=False
        )

    op.create_table(
        "analysis_job_stages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "cut",
                "transcribe",
                "assemble",
                name="analysis_stage_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "running",
                "done",
                "failed",
                name="analysis_stage_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=True),
        sa.Column("end_seconds", sa.Float(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("lease_until", newspeech.db.base.UTCDateTime(), nullable=True),
        sa.Column("started_at", newspeech.db.base.UTCDateTime(), nullable=True),
        sa.Column("finished_at", newspeech.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["analysis_jobs.id"],
            name=op.f("fk_analysis_job_stages_job_id_analysis_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_job_stages")),
        sa.UniqueConstraint(
            "job_id", "phase", "chunk", name=op.f("uq_analysis_job_stages_job_id_phase_chunk")
        ),
    )


def downgrade() -> None:
    op.drop_table("analysis_job_stages")
    op.drop_table("analysis_jobs")
