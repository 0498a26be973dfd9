"""ask: the published read-only views that plain-language questions run on (issue 18)

Seven views over exams and recording analysis, with no password hashes, tokens, audit rows or
raw JSON internals: ``colleges``, ``exam_sessions``, ``answers`` (with their marks),
``results``, ``item_statistics`` (per question), ``transcriptions`` and ``reports`` (metadata
named, not keyed). ``newspeech.ask.catalogue`` documents every column; a test checks the two
agree on every backend.

Where they live and who may read them:

- PostgreSQL: schema ``ask``; role ``newspeech_ask`` (NOLOGIN) gets USAGE on the schema and
  SELECT on the views, nothing else. Questions run ``SET LOCAL ROLE newspeech_ask``. Roles are
  cluster-wide: the role is created only if missing and only if the migrating user may
  (superuser or CREATEROLE); otherwise a warning is logged and questions run in a read-only
  transaction as the application's user (docs/ask.md says how to create the role by hand).
- MariaDB: views ``ask_<name>`` in the application's database; role ``newspeech_ask`` with
  SELECT on them, created if the migrating user may (CREATE USER or the GRANT OPTION). MariaDB's
  SET ROLE adds privileges rather than dropping them, so the role serves a separate read-only
  login an operator grants it to (docs/ask.md).
- SQLite: views ``ask_<name>``; the read-only connection's authorizer admits only them.

Downgrading drops the views and the schema; the role stays (other databases on the same server
may use it) and is revoked from this database.

Revision ID: 3a5c7e9b1d24
Revises: 8fc9bdd1b0e2
Create Date: 2026-12-07 02:35:00+00:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3a5c7e9b1d24"
down_revision: str | None = "8fc9bdd1b0e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")

ROLE = "newspeech_ask"

VIEWS: dict[str, str] = {
    "colleges": """
SELECT c.code AS college, c.name AS name, c.description AS description
FROM college_types c""",
    "exam_sessions": """
SELECT s.id AS session_id, s.college_type AS college, s.user_id AS candidate_id,
       s.status AS status, s.attempt_number AS attempt_number, s.start_time AS started_at,
       s.end_time AS ended_at, s.duration_seconds AS duration_seconds,
       s.total_score AS total_score, s.total_questions AS total_questions,
       s.questions_answered AS questions_answered, s.created_at AS created_at
FROM sessions s""",
    "answers": """
SELECT a.id AS answer_id, a.session_id AS session_id, s.college_type AS college,
       s.user_id AS candidate_id, a.question_bank_id AS question_id,
       a.question_number AS question_number, a.question_text AS question_text,
       COALESCE(a.answer_text, a.transcribed_text) AS answer_text,
       a.audio_duration_seconds AS audio_duration_seconds, e.score_obtained AS score,
       e.max_score AS max_score, e.percentage_correct AS percentage_correct,
       e.feedback_type AS feedback_type, e.evaluator_type AS evaluator_type,
       e.needs_review AS needs_review, a.created_at AS answered_at
FROM answers a
JOIN sessions s ON s.id = a.session_id
LEFT JOIN evaluations e ON e.answer_id = a.id""",
    "results": """
SELECT r.id AS result_id, r.session_id AS session_id, r.user_id AS candidate_id,
       r.college_type AS college, r.total_score AS total_score, r.max_score AS max_score,
       r.percentage_correct AS percentage_correct, r.grade AS grade,
       r.pass_status AS passed, r.generated_at AS generated_at
FROM results r""",
    "item_statistics": """
SELECT q.id AS question_id, q.college_type AS college, q.scenario_id AS scenario_id,
       q.scenario_name AS scenario_name, q.question_number AS question_number,
       q.question_text AS question_text, q.category AS category,
       q.difficulty_level AS difficulty, q.max_score AS max_score,
       COUNT(e.id) AS answers_marked, AVG(e.score_obtained) AS mean_score,
       MIN(e.score_obtained) AS lowest_score, MAX(e.score_obtained) AS highest_score
FROM question_banks q
LEFT JOIN answers a ON a.question_bank_id = q.id
LEFT JOIN evaluations e ON e.answer_id = a.id
GROUP BY q.id, q.college_type, q.scenario_id, q.scenario_name, q.question_number,
         q.question_text, q.category, q.difficulty_level, q.max_score""",
    "transcriptions": """
SELECT t.id AS transcription_id, sc.name AS scenario, bt.name AS building_type,
       em.name AS employee, cl.name AS client, pl.name AS place, zo.name AS zone,
       ci.name AS city, t.recorded_on AS recorded_on, t.status AS status,
       t.language AS language, t.duration_seconds AS duration_seconds, t.text AS text,
       t.created_at AS created_at
FROM analysis_transcriptions t
JOIN analysis_scenarios sc ON sc.id = t.scenario_id
LEFT JOIN analysis_building_types bt ON bt.id = t.building_type_id
LEFT JOIN analysis_employees em ON em.id = t.employee_id
LEFT JOIN analysis_clients cl ON cl.id = t.client_id
LEFT JOIN analysis_places pl ON pl.id = t.place_id
LEFT JOIN analysis_zones zo ON zo.id = t.zone_id
LEFT JOIN analysis_cities ci ON ci.id = t.city_id""",
    "reports": """
SELECT r.id AS report_id, r.transcription_id AS transcription_id, rt.name AS report_type,
       em.name AS employee, cl.name AS client, pl.name AS place,
       r.report_date AS report_date, r.status AS status, r.body AS body,
       r.created_at AS created_at
FROM analysis_reports r
JOIN analysis_report_types rt ON rt.id = r.report_type_id
LEFT JOIN analysis_employees em ON em.id = r.employee_id
LEFT JOIN analysis_clients cl ON cl.id = r.client_id
LEFT JOIN analysis_places pl ON pl.id = r.place_id""",
}


def _physical(dialect: str, name: str) -> str:
    return f"ask.{name}" if dialect == "postgresql" else f"ask_{name}"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE SCHEMA ask")
    for name, body in VIEWS.items():
        op.execute(f"CREATE VIEW {_physical(dialect, name)} AS {body}")
    if dialect == "postgresql":
        _postgresql_role()
    elif dialect in ("mysql", "mariadb"):
        _mariadb_role()


def _postgresql_role() -> None:
    bind = op.get_bind()
    exists = bind.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": ROLE})
    if exists.first() is None:
        may = bind.execute(
            sa.text("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
        ).scalar()
        if not may:
            logger.warning(
                "ask: role %s is missing and this user may not create roles; questions will "
                "run read-only as the application's user (see docs/ask.md)",
                ROLE,
            )
            return
        op.execute(f"CREATE ROLE {ROLE} NOLOGIN NOSUPERUSER NOINHERIT")
    op.execute(f"GRANT USAGE ON SCHEMA ask TO {ROLE}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA ask TO {ROLE}")


def _mariadb_role() -> None:
    bind = op.get_bind()
    try:
        bind.execute(sa.text(f"CREATE ROLE IF NOT EXISTS {ROLE}"))
        database = bind.execute(sa.text("SELECT DATABASE()")).scalar()
        for name in VIEWS:
            bind.execute(sa.text(f"GRANT SELECT ON `{database}`.`ask_{name}` TO {ROLE}"))
    except sa.exc.DBAPIError as exc:
        # Without CREATE USER / GRANT OPTION the views still serve the read-only transaction.
        logger.warning("ask: could not create or grant role %s (%s); see docs/ask.md", ROLE, exc)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect in ("mysql", "mariadb"):
        bind = op.get_bind()
        database = bind.execute(sa.text("SELECT DATABASE()")).scalar()
        for name in VIEWS:
            try:
                bind.execute(sa.text(f"REVOKE SELECT ON `{database}`.`ask_{name}` FROM {ROLE}"))
            except sa.exc.DBAPIError:
                logger.info("ask: nothing to revoke on ask_%s", name)
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP VIEW IF EXISTS {_physical(dialect, name)}")
    if dialect == "postgresql":
        op.execute("DROP SCHEMA IF EXISTS ask CASCADE")
