"""analysis: metadata dictionaries, prompt registry, transcriptions and reports

The foundation of recording analysis (issue 17), new tables only: the dictionaries filled on
first use (employees, clients, places, zones, cities, building types; each unique on a
normalised ``key``), the prompt registry (scenarios, report types per scenario, prompts per
report type and building type with their ``run_part``, immutable prompt versions), recordings
with their transcripts (``analysis_transcriptions``) and the reports made from them
(``analysis_reports``). Downgrading drops them with everything in them.

Revision ID: 9dadb2a589ff
Revises: 5e1f0a7c2b93
Create Date: 2026-12-06 23:22:49.760410+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newspeech.db.base

revision: str = "9dadb2a589ff"
down_revision: str | None = "5e1f0a7c2b93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analysis_building_types",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_building_types")),
        sa.UniqueConstraint("key", name=op.f("uq_analysis_building_types_key")),
    )
    op.create_table(
        "analysis_cities",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_cities")),
        sa.UniqueConstraint("key", name=op.f("uq_analysis_cities_key")),
    )
    op.create_table(
        "analysis_clients",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_clients")),
        sa.UniqueConstraint("key", name=op.f("uq_analysis_clients_key")),
    )
    op.create_table(
        "analysis_employees",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_employees")),
        sa.UniqueConstraint("key", name=op.f("uq_analysis_employees_key")),
    )
    op.create_table(
        "analysis_places",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_places")),
        sa.UniqueConstraint("key", name=op.f("uq_analysis_places_key")),
    )
    op.create_table(
        "analysis_scenarios",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_scenarios")),
        sa.UniqueConstraint("key", name=op.f("uq_analysis_scenarios_key")),
    )
    op.create_table(
        "analysis_zones",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_zones")),
        sa.UniqueConstraint("key", name=op.f("uq_analysis_zones_key")),
    )
    op.create_table(
        "analysis_report_types",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "scenario_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["analysis_scenarios.id"],
            name=op.f("fk_analysis_report_types_scenario_id_analysis_scenarios"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_report_types")),
        sa.UniqueConstraint(
            "scenario_id", "key", name=op.f("uq_analysis_report_types_scenario_id_key")
        ),
    )
    op.create_table(
        "analysis_prompts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "report_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "building_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("run_part", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["building_type_id"],
            ["analysis_building_types.id"],
            name=op.f("fk_analysis_prompts_building_type_id_analysis_building_types"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["report_type_id"],
            ["analysis_report_types.id"],
            name=op.f("fk_analysis_prompts_report_type_id_analysis_report_types"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_prompts")),
        sa.UniqueConstraint(
            "report_type_id",
            "building_type_id",
            "run_part",
            name=op.f("uq_analysis_prompts_report_type_id_building_type_id_run_part"),
        ),
    )
    op.create_table(
        "analysis_transcriptions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("recording_key", sa.String(length=500), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "uploaded",
                "transcribing",
                "transcribed",
                "failed",
                name="transcription_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("segments", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("recorded_on", sa.Date(), nullable=True),
        sa.Column(
            "scenario_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "building_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("place_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("zone_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("city_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "uploaded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["building_type_id"],
            ["analysis_building_types.id"],
            name=op.f("fk_analysis_transcriptions_building_type_id_analysis_building_types"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["city_id"],
            ["analysis_cities.id"],
            name=op.f("fk_analysis_transcriptions_city_id_analysis_cities"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["analysis_clients.id"],
            name=op.f("fk_analysis_transcriptions_client_id_analysis_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["analysis_employees.id"],
            name=op.f("fk_analysis_transcriptions_employee_id_analysis_employees"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["place_id"],
            ["analysis_places.id"],
            name=op.f("fk_analysis_transcriptions_place_id_analysis_places"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["analysis_scenarios.id"],
            name=op.f("fk_analysis_transcriptions_scenario_id_analysis_scenarios"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["users.id"],
            name=op.f("fk_analysis_transcriptions_uploaded_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["analysis_zones.id"],
            name=op.f("fk_analysis_transcriptions_zone_id_analysis_zones"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_transcriptions")),
        sa.UniqueConstraint("recording_key", name=op.f("uq_analysis_transcriptions_recording_key")),
    )
    op.create_index(
        "ix_analysis_transcriptions_place_id", "analysis_transcriptions", ["place_id"], unique=False
    )
    op.create_index(
        "ix_analysis_transcriptions_recorded_on",
        "analysis_transcriptions",
        ["recorded_on"],
        unique=False,
    )
    op.create_index(
        "ix_analysis_transcriptions_status", "analysis_transcriptions", ["status"], unique=False
    )

    op.create_table(
        "analysis_prompt_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "prompt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("returns_json", sa.Boolean(), nullable=False),
        sa.Column("json_schema", sa.JSON(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["analysis_prompts.id"],
            name=op.f("fk_analysis_prompt_versions_prompt_id_analysis_prompts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_prompt_versions")),
        sa.UniqueConstraint(
            "prompt_id", "version", name=op.f("uq_analysis_prompt_versions_prompt_id_version")
        ),
    )
    op.create_table(
        "analysis_reports",
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
            "report_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("place_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("report_date", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "ready",
                "failed",
                name="report_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", newspeech.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["analysis_clients.id"],
            name=op.f("fk_analysis_reports_client_id_analysis_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["analysis_employees.id"],
            name=op.f("fk_analysis_reports_employee_id_analysis_employees"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["place_id"],
            ["analysis_places.id"],
            name=op.f("fk_analysis_reports_place_id_analysis_places"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["report_type_id"],
            ["analysis_report_types.id"],
            name=op.f("fk_analysis_reports_report_type_id_analysis_report_types"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["transcription_id"],
            ["analysis_transcriptions.id"],
            name=op.f("fk_analysis_reports_transcription_id_analysis_transcriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_reports")),
    )
    op.create_index("ix_analysis_reports_place_id", "analysis_reports", ["place_id"], unique=False)
    op.create_index(
        "ix_analysis_reports_report_date", "analysis_reports", ["report_date"], unique=False
    )
    op.create_index(
        "ix_analysis_reports_transcription_id",
        "analysis_reports",
        ["transcription_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("analysis_reports")
    op.drop_table("analysis_prompt_versions")
    op.drop_table("analysis_transcriptions")
    op.drop_table("analysis_prompts")
    op.drop_table("analysis_report_types")
    op.drop_table("analysis_zones")
    op.drop_table("analysis_scenarios")
    op.drop_table("analysis_places")
    op.drop_table("analysis_employees")
    op.drop_table("analysis_clients")
    op.drop_table("analysis_cities")
    op.drop_table("analysis_building_types")
