"""analysis: the analyst role and full-text search over transcripts

- ``users.role`` and ``invitations.role`` accept ``analyst`` (their CHECK constraints are
  widened). On PostgreSQL and MariaDB the constraint is dropped and created again. On SQLite a
  table rebuild would have to drop ``users``, which (foreign keys on) deletes every row that
  cascades from it, so the constraint's text is changed in place with SQLite's documented
  procedure for loosening a constraint (``writable_schema``, schema version bumped, integrity
  checked). Downgrading refuses while an analyst account or invitation exists.
- ``analysis_transcript_segments``: one row per timed segment of a transcript, filled from the
  transcripts already stored, with a full-text index: GIN over ``to_tsvector('simple', text)``
  on PostgreSQL, FULLTEXT on MariaDB, an external-content FTS5 table kept in step by triggers
  on SQLite. Their names start with ``ft_`` so autogenerate leaves them alone.

Revision ID: d4e8a1c3f5b7
Revises: c3e5a7b9d1f2
Create Date: 2026-12-07 06:25:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4e8a1c3f5b7"
down_revision: str | None = "c3e5a7b9d1f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = ("student", "examiner", "admin")
NEW_ROLES = (*OLD_ROLES, "analyst")
ROLE_CHECKS = {"users": "ck_users_user_role", "invitations": "ck_invitations_invitation_role"}

SEGMENTS = "analysis_transcript_segments"
FT = "ft_analysis_transcript_segments"


def _in_list(roles: Sequence[str]) -> str:
    return "role IN (" + ", ".join(f"'{role}'" for role in roles) + ")"


def _set_roles(old: Sequence[str], new: Sequence[str]) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        for table, name in ROLE_CHECKS.items():
            op.drop_constraint(op.f(name), table, type_="check")
            op.create_check_constraint(op.f(name), table, sa.text(_in_list(new)))
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    for table in ROLE_CHECKS:
        sql = bind.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
            {"t": table},
        ).scalar_one()
        if _in_list(old) not in sql:
            raise RuntimeError(f"{table}: role CHECK constraint not found in {sql!r}")
        bind.execute(
            sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
            {"sql": sql.replace(_in_list(old), _in_list(new)), "t": table},
        )
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")
    problems = bind.exec_driver_sql("PRAGMA integrity_check").scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"integrity check after changing the role constraint: {problems}")


def _create_search() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"CREATE INDEX {FT} ON {SEGMENTS} USING gin (to_tsvector('simple', text))")
    elif dialect in ("mysql", "mariadb"):
        op.execute(f"CREATE FULLTEXT INDEX {FT} ON {SEGMENTS} (text)")
    elif dialect == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE {FT} USING fts5("
            f"text, content='{SEGMENTS}', content_rowid='id', tokenize='unicode61')"
        )
        op.execute(
            f"CREATE TRIGGER {FT}_insert AFTER INSERT ON {SEGMENTS} BEGIN "
            f"INSERT INTO {FT}(rowid, text) VALUES (new.id, new.text); END"
        )
        op.execute(
            f"CREATE TRIGGER {FT}_delete AFTER DELETE ON {SEGMENTS} BEGIN "
            f"INSERT INTO {FT}({FT}, rowid, text) VALUES ('delete', old.id, old.text); END"
        )
        op.execute(
            f"CREATE TRIGGER {FT}_update AFTER UPDATE ON {SEGMENTS} BEGIN "
            f"INSERT INTO {FT}({FT}, rowid, text) VALUES ('delete', old.id, old.text); "
            f"INSERT INTO {FT}(rowid, text) VALUES (new.id, new.text); END"
        )


def _backfill() -> None:
    """Segments of the transcripts stored before this revision."""
    transcriptions = sa.table(
        "analysis_transcriptions", sa.column("id", sa.BigInteger), sa.column("segments", sa.JSON)
    )
    segments = sa.table(
        SEGMENTS,
        sa.column("transcription_id", sa.BigInteger),
        sa.column("position", sa.Integer),
        sa.column("start_seconds", sa.Float),
        sa.column("end_seconds", sa.Float),
        sa.column("text", sa.Text),
        sa.column("words", sa.JSON),
    )
    bind = op.get_bind()
    query = sa.select(transcriptions.c.id, transcriptions.c.segments).where(
        transcriptions.c.segments.is_not(None)
    )
    for transcription_id, stored in bind.execute(query).all():
        rows = [
            {
                "transcription_id": transcription_id,
                "position": position,
                "start_seconds": float(segment["start"]),
                "end_seconds": float(segment["end"]),
                "text": str(segment["text"]),
                "words": list(segment.get("words") or []),
            }
            for position, segment in enumerate(stored or [])
            if str(segment.get("text", "")).strip()
        ]
        if rows:
            bind.execute(segments.insert(), rows)


def upgrade() -> None:
    _set_roles(OLD_ROLES, NEW_ROLES)
    op.create_table(
        SEGMENTS,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "transcription_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=False),
        sa.Column("end_seconds", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transcription_id"],
            ["analysis_transcriptions.id"],
            name=op.f("fk_analysis_transcript_segments_transcription_id_analysis_transcriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_transcript_segments")),
        sa.UniqueConstraint(
            "transcription_id",
            "position",
            name=op.f("uq_analysis_transcript_segments_transcription_id_position"),
        ),
    )
    _create_search()
    _backfill()


def downgrade() -> None:
    bind = op.get_bind()
    for table in ROLE_CHECKS:
        analysts = bind.execute(sa.text(f"SELECT COUNT(*) FROM {table} WHERE role = 'analyst'"))
        if analysts.scalar_one():
            raise RuntimeError(
                f"{table} has analyst rows: change their role or delete them before downgrading"
            )
    if bind.dialect.name == "sqlite":
        op.execute(f"DROP TABLE {FT}")  # its triggers go with the segments table
    op.drop_table(SEGMENTS)
    _set_roles(NEW_ROLES, OLD_ROLES)
