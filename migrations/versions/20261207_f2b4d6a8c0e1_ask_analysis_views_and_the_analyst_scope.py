"""ask: views over report runs, job stages, model outputs and the metadata dictionaries; the
analyst's scope (issue 18)

Recording analysis grew after the first views (report runs, LLM calls, the analyst role), so:

- ``reports`` gains the recording's scenario, building type, zone and city (columns added at the
  end), so "audits of spa buildings in Lyon that mention ventilation" is one view.
- New views: ``report_runs`` (each run of a report's chain and what it wrote), ``job_stages``
  (every stage of the analysis jobs, with the prompt a stage ran), ``report_outputs`` (every
  language-model call with its output, tokens and latency: no request parameters, hashes or
  error text) and ``dictionaries`` (places, cities, zones, building types, employees, clients,
  scenarios, report types). Same places as before: schema ``ask`` on PostgreSQL, ``ask_<name>``
  elsewhere; SELECT granted to role ``newspeech_ask`` where it exists.
- PostgreSQL row-level security (where migration b7d2e4f6a8c1 applied it: PostgreSQL 15+, the
  role present): recording analysis is now readable by the role when the transaction setting
  ``newspeech.ask_analysis`` is ``on`` (analysts and admins) instead of ``newspeech.ask_all``
  (admins), and the tables the new views read get the same policies, with SELECT on exactly the
  columns the views read.

Downgrading drops the new views, restores ``reports`` and the admin-only policies, and removes
the new grants and policies.

Revision ID: f2b4d6a8c0e1
Revises: d4e8a1c3f5b7
Create Date: 2026-12-07 09:45:00+00:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f2b4d6a8c0e1"
down_revision: str | None = "d4e8a1c3f5b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")

ROLE = "newspeech_ask"

OLD_REPORTS = """
SELECT r.id AS report_id, r.transcription_id AS transcription_id, rt.name AS report_type,
       em.name AS employee, cl.name AS client, pl.name AS place,
       r.report_date AS report_date, r.status AS status, r.body AS body,
       r.created_at AS created_at
FROM analysis_reports r
JOIN analysis_report_types rt ON rt.id = r.report_type_id
LEFT JOIN analysis_employees em ON em.id = r.employee_id
LEFT JOIN analysis_clients cl ON cl.id = r.client_id
LEFT JOIN analysis_places pl ON pl.id = r.place_id"""

REPORTS = """
SELECT r.id AS report_id, r.transcription_id AS transcription_id, rt.name AS report_type,
       em.name AS employee, cl.name AS client, pl.name AS place,
       r.report_date AS report_date, r.status AS status, r.body AS body,
       r.created_at AS created_at, sc.name AS scenario, bt.name AS building_type,
       zo.name AS zone, ci.name AS city
FROM analysis_reports r
JOIN analysis_report_types rt ON rt.id = r.report_type_id
JOIN analysis_transcriptions t ON t.id = r.transcription_id
JOIN analysis_scenarios sc ON sc.id = t.scenario_id
LEFT JOIN analysis_employees em ON em.id = r.employee_id
LEFT JOIN analysis_clients cl ON cl.id = r.client_id
LEFT JOIN analysis_places pl ON pl.id = r.place_id
LEFT JOIN analysis_building_types bt ON bt.id = t.building_type_id
LEFT JOIN analysis_zones zo ON zo.id = t.zone_id
LEFT JOIN analysis_cities ci ON ci.id = t.city_id"""

DICTIONARIES = {
    "place": "analysis_places",
    "city": "analysis_cities",
    "zone": "analysis_zones",
    "building_type": "analysis_building_types",
    "employee": "analysis_employees",
    "client": "analysis_clients",
    "scenario": "analysis_scenarios",
    "report_type": "analysis_report_types",
}

NEW_VIEWS: dict[str, str] = {
    "report_runs": """
SELECT u.id AS run_id, u.report_id AS report_id, u.number AS run_number, u.status AS status,
       u.model AS model, u.markdown AS markdown, u.pdf_bytes AS pdf_bytes,
       u.created_at AS started_at, u.finished_at AS finished_at
FROM analysis_report_runs u""",
    "job_stages": """
SELECT g.id AS stage_id, g.job_id AS job_id, j.transcription_id AS transcription_id,
       g.run_id AS run_id, u.report_id AS report_id, g.kind AS kind, g.status AS status,
       g.attempts AS attempts, p.title AS prompt_title, v.version AS prompt_version,
       g.started_at AS started_at, g.finished_at AS finished_at
FROM analysis_job_stages g
JOIN analysis_jobs j ON j.id = g.job_id
LEFT JOIN analysis_report_runs u ON u.id = g.run_id
LEFT JOIN analysis_prompt_versions v ON v.id = g.prompt_version_id
LEFT JOIN analysis_prompts p ON p.id = v.prompt_id""",
    "report_outputs": """
SELECT c.id AS call_id, c.stage_id AS stage_id, c.run_id AS run_id, u.report_id AS report_id,
       c.purpose AS purpose, p.title AS prompt_title, v.version AS prompt_version,
       c.part AS part, c.parts AS parts,
       COALESCE(c.model_answered, c.model_requested) AS model,
       c.prompt_tokens AS prompt_tokens, c.completion_tokens AS completion_tokens,
       c.total_tokens AS total_tokens, c.latency_seconds AS latency_seconds,
       c.raw_output AS output, c.error IS NOT NULL AS failed, c.created_at AS created_at
FROM analysis_llm_calls c
LEFT JOIN analysis_report_runs u ON u.id = c.run_id
LEFT JOIN analysis_prompt_versions v ON v.id = c.prompt_version_id
LEFT JOIN analysis_prompts p ON p.id = v.prompt_id""",
    "dictionaries": "\nUNION ALL\n".join(
        f"SELECT '{kind}' AS dictionary, d.name AS name, d.created_at AS created_at FROM {table} d"
        for kind, table in DICTIONARIES.items()
    ),
}

# PostgreSQL row-level security: the columns the new views read, and the tables' policies.
_NAMES = "id, name, created_at"
COLUMNS = {
    "analysis_report_runs": "id, report_id, number, status, model, markdown, pdf_bytes, "
    "created_at, finished_at",
    "analysis_job_stages": "id, job_id, run_id, prompt_version_id, kind, status, attempts, "
    "started_at, finished_at",
    "analysis_jobs": "id, transcription_id",
    "analysis_llm_calls": "id, stage_id, run_id, prompt_version_id, purpose, part, parts, "
    "model_answered, model_requested, prompt_tokens, completion_tokens, total_tokens, "
    "latency_seconds, raw_output, error, created_at",
    "analysis_prompt_versions": "id, prompt_id, version",
    "analysis_prompts": "id, title",
    **dict.fromkeys(DICTIONARIES.values(), _NAMES),
}
_ANALYSIS = "current_setting('newspeech.ask_analysis', true) = 'on'"
_ALL = "current_setting('newspeech.ask_all', true) = 'on'"
SCOPED_BEFORE = ("analysis_transcriptions", "analysis_reports")
"""Tables b7d2e4f6a8c1 already put under row-level security (readable with ``ask_all``)."""
NEW_POLICIES = tuple(sorted(set(COLUMNS) - set(SCOPED_BEFORE)))


def _physical(dialect: str, name: str) -> str:
    return f"ask.{name}" if dialect == "postgresql" else f"ask_{name}"


def _row_security() -> bool:
    """Whether b7d2e4f6a8c1 put the views under row-level security (its own conditions)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    version = int(bind.execute(sa.text("SHOW server_version_num")).scalar() or 0)
    exists = bind.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": ROLE})
    return version >= 150000 and exists.first() is not None


def _grant(dialect: str, names: Sequence[str]) -> None:
    bind = op.get_bind()
    if dialect == "postgresql":
        if bind.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": ROLE}).first():
            op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA ask TO {ROLE}")
        return
    if dialect not in ("mysql", "mariadb"):
        return
    try:
        database = bind.execute(sa.text("SELECT DATABASE()")).scalar()
        for name in names:
            bind.execute(sa.text(f"GRANT SELECT ON `{database}`.`ask_{name}` TO {ROLE}"))
    except sa.exc.DBAPIError as exc:
        logger.warning(
            "ask: could not grant role %s the new views (%s); see docs/ask.md", ROLE, exc
        )


def _replace_reports(dialect: str, body: str) -> None:
    name = _physical(dialect, "reports")
    if dialect in ("mysql", "mariadb"):
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {body}")  # keeps the role's grant
    else:
        op.execute(f"DROP VIEW {name}")
        op.execute(f"CREATE VIEW {name} AS {body}")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _replace_reports(dialect, REPORTS)
    for name, body in NEW_VIEWS.items():
        op.execute(f"CREATE VIEW {_physical(dialect, name)} AS {body}")
    _grant(dialect, ["reports", *NEW_VIEWS])
    if not _row_security():
        return
    for view in ("reports", *NEW_VIEWS):
        op.execute(f"ALTER VIEW ask.{view} SET (security_invoker = true)")
    for table, columns in COLUMNS.items():
        op.execute(f"GRANT SELECT ({columns}) ON {table} TO {ROLE}")
    for table in SCOPED_BEFORE:
        op.execute(f"ALTER POLICY ask_scope ON {table} USING ({_ANALYSIS})")
    for table in NEW_POLICIES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY app_all ON {table} TO PUBLIC "
            f"USING (current_user <> '{ROLE}') WITH CHECK (current_user <> '{ROLE}')"
        )
        op.execute(f"CREATE POLICY ask_scope ON {table} FOR SELECT TO {ROLE} USING ({_ANALYSIS})")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    row_security = _row_security()
    if row_security:
        for table in NEW_POLICIES:
            op.execute(f"DROP POLICY IF EXISTS ask_scope ON {table}")
            op.execute(f"DROP POLICY IF EXISTS app_all ON {table}")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        for table in SCOPED_BEFORE:
            op.execute(f"ALTER POLICY ask_scope ON {table} USING ({_ALL})")
    for name in reversed(list(NEW_VIEWS)):
        if dialect in ("mysql", "mariadb"):
            bind = op.get_bind()
            database = bind.execute(sa.text("SELECT DATABASE()")).scalar()
            try:
                bind.execute(sa.text(f"REVOKE SELECT ON `{database}`.`ask_{name}` FROM {ROLE}"))
            except sa.exc.DBAPIError:
                logger.info("ask: nothing to revoke on ask_%s", name)
        op.execute(f"DROP VIEW IF EXISTS {_physical(dialect, name)}")
    _replace_reports(dialect, OLD_REPORTS)
    _grant(dialect, ["reports"])
    if row_security:
        op.execute("ALTER VIEW ask.reports SET (security_invoker = true)")
        for table, columns in COLUMNS.items():
            # The dictionaries keep b7d2e4f6a8c1's (id, name): only created_at goes.
            kept = columns if table not in DICTIONARIES.values() else "created_at"
            op.execute(f"REVOKE SELECT ({kept}) ON {table} FROM {ROLE}")
