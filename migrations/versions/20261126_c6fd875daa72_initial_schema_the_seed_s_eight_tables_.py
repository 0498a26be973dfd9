"""initial schema: the seed's eight tables and college types

Revision ID: c6fd875daa72
Revises:
Create Date: 2026-11-26 23:10:49.345131+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newspeech.db.base
from newspeech.db.fulltext import create_fulltext_indexes, drop_fulltext_indexes

revision: str = "c6fd875daa72"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "college_types",
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_college_types")),
    )
    op.create_table(
        "configuration",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("config_key", sa.String(length=255), nullable=False),
        sa.Column("config_value", sa.Text(), nullable=True),
        sa.Column(
            "value_type",
            sa.Enum(
                "string",
                "integer",
                "float",
                "boolean",
                "json",
                name="config_value_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_configuration")),
        sa.UniqueConstraint("config_key", name=op.f("uq_configuration_config_key")),
    )
    op.create_table(
        "question_banks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("college_type", sa.String(length=50), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("scenario_name", sa.String(length=255), nullable=False),
        sa.Column("scenario_description", sa.Text(), nullable=True),
        sa.Column("question_number", sa.Integer(), nullable=False),
        sa.Column("question_text", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column(
            "difficulty_level",
            sa.Enum(
                "easy",
                "medium",
                "hard",
                name="difficulty_level",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("keywords", sa.JSON(), nullable=True),
        sa.Column("expected_keywords", sa.JSON(), nullable=True),
        sa.Column("model_answer", sa.Text(), nullable=True),
        sa.Column("max_score", sa.Integer(), nullable=False),
        sa.Column("min_score", sa.Integer(), nullable=False),
        sa.Column("answer_guidelines", sa.Text(), nullable=True),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["college_type"],
            ["college_types.code"],
            name=op.f("fk_question_banks_college_type_college_types"),
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_banks")),
        sa.UniqueConstraint(
            "college_type",
            "scenario_id",
            "question_number",
            name=op.f("uq_question_banks_college_type_scenario_id_question_number"),
        ),
    )
    with op.batch_alter_table("question_banks", schema=None) as batch_op:
        batch_op.create_index("ix_question_banks_college_type", ["college_type"], unique=False)
        batch_op.create_index(
            "ix_question_banks_difficulty_level", ["difficulty_level"], unique=False
        )
        batch_op.create_index("ix_question_banks_scenario_id", ["scenario_id"], unique=False)

    op.create_table(
        "users",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("full_name", sa.String(length=255), nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "student",
                "examiner",
                "admin",
                name="user_role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("college_type", sa.String(length=50), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "suspended",
                name="user_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("last_login", newspeech.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["college_type"],
            ["college_types.code"],
            name=op.f("fk_users_college_type_college_types"),
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index("ix_users_college_type", ["college_type"], unique=False)
        batch_op.create_index("ix_users_role", ["role"], unique=False)

    op.create_table(
        "sessions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("college_type", sa.String(length=50), nullable=False),
        sa.Column("session_code", sa.String(length=50), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "in_progress",
                "completed",
                "terminated",
                name="session_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("start_time", newspeech.db.base.UTCDateTime(), nullable=True),
        sa.Column("end_time", newspeech.db.base.UTCDateTime(), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("total_score", sa.Integer(), nullable=False),
        sa.Column("total_questions", sa.Integer(), nullable=False),
        sa.Column("questions_answered", sa.Integer(), nullable=False),
        sa.Column("voice_detected_count", sa.Integer(), nullable=False),
        sa.Column("avg_latency_ms", sa.Float(), nullable=False),
        sa.Column("max_latency_ms", sa.Float(), nullable=False),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["college_type"],
            ["college_types.code"],
            name=op.f("fk_sessions_college_type_college_types"),
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("session_code", name=op.f("uq_sessions_session_code")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index("ix_sessions_college_type", ["college_type"], unique=False)
        batch_op.create_index("ix_sessions_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_sessions_status", ["status"], unique=False)
        batch_op.create_index("ix_sessions_user_id", ["user_id"], unique=False)

    op.create_table(
        "answers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "question_bank_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("question_number", sa.Integer(), nullable=False),
        sa.Column("question_text", sa.Text(), nullable=True),
        sa.Column("answer_text", sa.Text(), nullable=True),
        sa.Column("answer_audio_path", sa.String(length=255), nullable=True),
        sa.Column("audio_duration_seconds", sa.Float(), nullable=False),
        sa.Column("transcribed_text", sa.Text(), nullable=True),
        sa.Column("confidence_score", sa.Float(), nullable=False),
        sa.Column("is_complete", sa.Boolean(), nullable=False),
        sa.Column("started_at", newspeech.db.base.UTCDateTime(), nullable=True),
        sa.Column("ended_at", newspeech.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_bank_id"],
            ["question_banks.id"],
            name=op.f("fk_answers_question_bank_id_question_banks"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_answers_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
    )
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.create_index("ix_answers_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_answers_question_bank_id", ["question_bank_id"], unique=False)
        batch_op.create_index("ix_answers_question_number", ["question_number"], unique=False)
        batch_op.create_index("ix_answers_session_id", ["session_id"], unique=False)

    op.create_table(
        "audit_logs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("resource_type", sa.String(length=100), nullable=True),
        sa.Column(
            "resource_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=50), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_audit_logs_session_id_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_audit_logs_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_logs")),
    )
    with op.batch_alter_table("audit_logs", schema=None) as batch_op:
        batch_op.create_index("ix_audit_logs_action", ["action"], unique=False)
        batch_op.create_index("ix_audit_logs_created_at", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_audit_logs_resource", ["resource_type", "resource_id"], unique=False
        )
        batch_op.create_index("ix_audit_logs_session_id", ["session_id"], unique=False)
        batch_op.create_index("ix_audit_logs_user_id", ["user_id"], unique=False)

    op.create_table(
        "results",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("college_type", sa.String(length=50), nullable=False),
        sa.Column("total_score", sa.Integer(), nullable=False),
        sa.Column("max_score", sa.Integer(), nullable=False),
        sa.Column("percentage_correct", sa.Float(), nullable=False),
        sa.Column("grade", sa.String(length=1), nullable=True),
        sa.Column("pass_status", sa.Boolean(), nullable=False),
        sa.Column("result_json", sa.JSON(), nullable=True),
        sa.Column("certificate_path", sa.String(length=255), nullable=True),
        sa.Column("generated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["college_type"],
            ["college_types.code"],
            name=op.f("fk_results_college_type_college_types"),
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_results_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_results_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_results")),
        sa.UniqueConstraint("session_id", name=op.f("uq_results_session_id")),
    )
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.create_index("ix_results_college_type", ["college_type"], unique=False)
        batch_op.create_index("ix_results_generated_at", ["generated_at"], unique=False)
        batch_op.create_index("ix_results_pass_status", ["pass_status"], unique=False)
        batch_op.create_index("ix_results_user_id", ["user_id"], unique=False)

    op.create_table(
        "evaluations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "answer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "evaluator_type",
            sa.Enum(
                "keyword_match",
                "llm_based",
                "manual",
                "hybrid",
                name="evaluator_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("score_obtained", sa.Integer(), nullable=False),
        sa.Column("max_score", sa.Integer(), nullable=False),
        sa.Column("percentage_correct", sa.Float(), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column(
            "feedback_type",
            sa.Enum(
                "correct",
                "partial",
                "incorrect",
                name="feedback_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("matched_keywords", sa.JSON(), nullable=True),
        sa.Column("missing_keywords", sa.JSON(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("processing_time_ms", sa.Float(), nullable=False),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["answers.id"],
            name=op.f("fk_evaluations_answer_id_answers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_evaluations_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
        sa.UniqueConstraint("answer_id", name=op.f("uq_evaluations_answer_id")),
    )
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.create_index("ix_evaluations_feedback_type", ["feedback_type"], unique=False)
        batch_op.create_index("ix_evaluations_score_obtained", ["score_obtained"], unique=False)
        batch_op.create_index("ix_evaluations_session_id", ["session_id"], unique=False)

    create_fulltext_indexes(op.get_bind())


def downgrade() -> None:
    # Dropping a table drops its indexes; MySQL refuses to drop an index a foreign key uses.
    drop_fulltext_indexes(op.get_bind())
    op.drop_table("evaluations")
    op.drop_table("results")
    op.drop_table("audit_logs")
    op.drop_table("answers")
    op.drop_table("sessions")
    op.drop_table("users")
    op.drop_table("question_banks")
    op.drop_table("configuration")
    op.drop_table("college_types")
