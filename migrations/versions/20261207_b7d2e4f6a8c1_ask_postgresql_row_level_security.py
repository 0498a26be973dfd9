"""ask: PostgreSQL row-level security under the published views (issue 18)

PostgreSQL only, and only where role ``newspeech_ask`` exists (migration 3a5c7e9b1d24) and the
server is 15 or newer (``security_invoker`` views); otherwise a warning and nothing changes.

- The ``ask`` views become ``security_invoker``: they read the base tables as the role that
  asks, so row-level security applies to it.
- ``newspeech_ask`` gets SELECT on exactly the base-table columns the views read (never users,
  tokens, audit rows, exam forms or grader internals).
- Row-level security on the tables the views read. For ``newspeech_ask``: rows of the colleges
  in the transaction setting ``newspeech.ask_colleges`` (comma-separated), or every row when
  ``newspeech.ask_all`` is ``on`` (admins); answers and evaluations follow their sitting;
  recording analysis only with ``ask_all``. The runner sets both with ``set_config(...,
  true)`` (transaction-local) before it assumes the role. Every other role keeps its access
  through an ``app_all`` policy (table owners and superusers bypass row-level security anyway).

Downgrading removes the policies, disables row-level security, revokes the column grants and
makes the views definer-rights again.

Revision ID: b7d2e4f6a8c1
Revises: 3a5c7e9b1d24
Create Date: 2026-12-07 02:50:00+00:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d2e4f6a8c1"
down_revision: str | None = "3a5c7e9b1d24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")

ROLE = "newspeech_ask"
VIEWS = (
    "colleges",
    "exam_sessions",
    "answers",
    "results",
    "item_statistics",
    "transcriptions",
    "reports",
)
_NAMES = "id, name"
COLUMNS = {
    "college_types": "code, name, description",
    "sessions": "id, college_type, user_id, status, attempt_number, start_time, end_time, "
    "duration_seconds, total_score, total_questions, questions_answered, created_at",
    "answers": "id, session_id, question_bank_id, question_number, question_text, answer_text, "
    "transcribed_text, audio_duration_seconds, created_at",
    "evaluations": "id, answer_id, session_id, score_obtained, max_score, percentage_correct, "
    "feedback_type, evaluator_type, needs_review",
    "results": "id, session_id, user_id, college_type, total_score, max_score, "
    "percentage_correct, grade, pass_status, generated_at",
    "question_banks": "id, college_type, scenario_id, scenario_name, question_number, "
    "question_text, category, difficulty_level, max_score",
    "analysis_transcriptions": "id, scenario_id, building_type_id, employee_id, client_id, "
    "place_id, zone_id, city_id, recorded_on, status, language, duration_seconds, text, "
    "created_at",
    "analysis_reports": "id, transcription_id, report_type_id, employee_id, client_id, "
    "place_id, report_date, status, body, created_at",
    "analysis_scenarios": _NAMES,
    "analysis_report_types": _NAMES,
    "analysis_building_types": _NAMES,
    "analysis_employees": _NAMES,
    "analysis_clients": _NAMES,
    "analysis_places": _NAMES,
    "analysis_zones": _NAMES,
    "analysis_cities": _NAMES,
}
_ALL = "current_setting('newspeech.ask_all', true) = 'on'"
_COLLEGES = "string_to_array(current_setting('newspeech.ask_colleges', true), ',')"
_SITTING = "EXISTS (SELECT 1 FROM sessions s WHERE s.id = {table}.session_id)"
POLICIES = {
    "college_types": f"{_ALL} OR code = ANY ({_COLLEGES})",
    "sessions": f"{_ALL} OR college_type = ANY ({_COLLEGES})",
    "results": f"{_ALL} OR college_type = ANY ({_COLLEGES})",
    "question_banks": f"{_ALL} OR college_type = ANY ({_COLLEGES})",
    "answers": _SITTING.format(table="answers"),
    "evaluations": _SITTING.format(table="evaluations"),
    "analysis_transcriptions": _ALL,
    "analysis_reports": _ALL,
}


def _applies() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    version = int(bind.execute(sa.text("SHOW server_version_num")).scalar() or 0)
    exists = bind.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": ROLE})
    if version < 150000 or exists.first() is None:
        logger.warning(
            "ask: no row-level security (needs PostgreSQL 15 and role %s); see docs/ask.md", ROLE
        )
        return False
    return True


def upgrade() -> None:
    if not _applies():
        return
    for view in VIEWS:
        op.execute(f"ALTER VIEW ask.{view} SET (security_invoker = true)")
    for table, columns in COLUMNS.items():
        op.execute(f"GRANT SELECT ({columns}) ON {table} TO {ROLE}")
    for table, condition in POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY app_all ON {table} TO PUBLIC "
            f"USING (current_user <> '{ROLE}') WITH CHECK (current_user <> '{ROLE}')"
        )
        op.execute(f"CREATE POLICY ask_scope ON {table} FOR SELECT TO {ROLE} USING ({condition})")


def downgrade() -> None:
    if not _applies():
        return
    for table in POLICIES:
        op.execute(f"DROP POLICY IF EXISTS ask_scope ON {table}")
        op.execute(f"DROP POLICY IF EXISTS app_all ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for table, columns in COLUMNS.items():
        op.execute(f"REVOKE SELECT ({columns}) ON {table} FROM {ROLE}")
    for view in VIEWS:
        op.execute(f"ALTER VIEW ask.{view} SET (security_invoker = false)")
