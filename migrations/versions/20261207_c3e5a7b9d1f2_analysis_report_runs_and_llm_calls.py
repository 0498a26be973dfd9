"""analysis: report runs and LLM calls

Prompt chains as job stages (issue 17): ``analysis_report_runs`` (each run of a report's chain,
with its Markdown, JSON and the key of its PDF in the audio store; re-running a report adds
one) and ``analysis_llm_calls`` (every chat-completion request, unique per stage try and
sequence). Job stages gain ``run_id`` and ``prompt_version_id``, and the stage-kind CHECK gains
``speakers``, ``prompt`` and ``report``.
Downgrading drops the new tables and columns and restores the CHECK (stages of the new kinds are
deleted first).

Revision ID: c3e5a7b9d1f2
Revises: e3f1a9c4b2d7
Create Date: 2026-12-07 06:08:36.012693+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newspeech.db.base

revision: str = "c3e5a7b9d1f2"
down_revision: str | None = "e3f1a9c4b2d7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAGE_KINDS = ("cut", "transcribe", "assemble")
NEW_KINDS = ("speakers", "prompt", "report")


def upgrade() -> None:
    op.create_table(
        "analysis_report_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "done",
                "failed",
                name="report_run_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("markdown", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("pdf_key", sa.String(length=500), nullable=True),
        sa.Column("pdf_bytes", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "requested_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("finished_at", newspeech.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["analysis_jobs.id"],
            name=op.f("fk_analysis_report_runs_job_id_analysis_jobs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["analysis_reports.id"],
            name=op.f("fk_analysis_report_runs_report_id_analysis_reports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_analysis_report_runs_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_report_runs")),
        sa.UniqueConstraint(
            "report_id", "number", name=op.f("uq_analysis_report_runs_report_id_number")
        ),
    )
    with op.batch_alter_table("analysis_report_runs", schema=None) as batch_op:
        batch_op.create_index("ix_analysis_report_runs_job_id", ["job_id"], unique=False)

    op.create_table(
        "analysis_llm_calls",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("stage_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stage_attempt", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "prompt_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("part", sa.Integer(), nullable=True),
        sa.Column("parts", sa.Integer(), nullable=True),
        sa.Column("input_sha256", sa.String(length=64), nullable=False),
        sa.Column("model_requested", sa.String(length=200), nullable=False),
        sa.Column("model_answered", sa.String(length=200), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("total_tokens", sa.Integer(), nullable=True),
        sa.Column("latency_seconds", sa.Float(), nullable=False),
        sa.Column("raw_output", sa.Text(), nullable=True),
        sa.Column("parsed", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_version_id"],
            ["analysis_prompt_versions.id"],
            name=op.f("fk_analysis_llm_calls_prompt_version_id_analysis_prompt_versions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analysis_report_runs.id"],
            name=op.f("fk_analysis_llm_calls_run_id_analysis_report_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["analysis_job_stages.id"],
            name=op.f("fk_analysis_llm_calls_stage_id_analysis_job_stages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_llm_calls")),
        sa.UniqueConstraint(
            "stage_id",
            "stage_attempt",
            "sequence",
            name=op.f("uq_analysis_llm_calls_stage_id_stage_attempt_sequence"),
        ),
    )
    with op.batch_alter_table("analysis_llm_calls", schema=None) as batch_op:
        batch_op.create_index("ix_analysis_llm_calls_run_id", ["run_id"], unique=False)

    with op.batch_alter_table("analysis_job_stages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "prompt_version_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_analysis_job_stages_run_id_analysis_report_runs"),
            "analysis_report_runs",
            ["run_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_analysis_job_stages_prompt_version_id_analysis_prompt_versions"),
            "analysis_prompt_versions",
            ["prompt_version_id"],
            ["id"],
            ondelete="RESTRICT",
        )

    _swap_check("analysis_job_stages", "analysis_stage_kind", "kind", STAGE_KINDS + NEW_KINDS)


def downgrade() -> None:
    kinds = ", ".join(f"'{kind}'" for kind in NEW_KINDS)
    op.execute(f"DELETE FROM analysis_job_stages WHERE kind IN ({kinds})")
    _swap_check("analysis_job_stages", "analysis_stage_kind", "kind", STAGE_KINDS)
    with op.batch_alter_table("analysis_job_stages", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_analysis_job_stages_prompt_version_id_analysis_prompt_versions"),
            type_="foreignkey",
        )
        batch_op.drop_constraint(
            batch_op.f("fk_analysis_job_stages_run_id_analysis_report_runs"), type_="foreignkey"
        )
        batch_op.drop_column("prompt_version_id")
        batch_op.drop_column("run_id")

    # The indexes go with the tables (MariaDB refuses to drop an index a foreign key uses).
    op.drop_table("analysis_llm_calls")
    op.drop_table("analysis_report_runs")


def _swap_check(table: str, enum_name: str, column: str, values: tuple[str, ...]) -> None:
    """Replace the CHECK of a portable enum column (``enum_column``) by one allowing
    ``values``."""
    name = f"ck_{table}_{enum_name}"
    allowed = ", ".join(f"'{value}'" for value in values)
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(name), type_="check")
        batch_op.create_check_constraint(batch_op.f(name), f"{column} IN ({allowed})")
