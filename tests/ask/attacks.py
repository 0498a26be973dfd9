"""The attack suite's cases: SQL a hostile user or a hostile (or fooled) model might send.

``REFUSED``: every guard layer must refuse these, with the stable code given, except the
``neutral`` ones, whose trick some dialects read as a comment or a string: those may also be
accepted, as long as the SQL that runs is one statement reading only the published views.
``SCOPED``:
queries the guards accept for an examiner of ``medical`` that try to reach another college's
rows; the row filter must leave them nothing (each returns one number that must be 0, or rows
that must not name ``law``).
"""

from __future__ import annotations

from dataclasses import dataclass

NOT_ONE = "query_not_one_statement"
NOT_READ = "query_not_read_only"
UNKNOWN = "query_unknown_source"
FUNCTION = "query_function_not_allowed"
COMPLEX = "query_too_complex"
UNPARSABLE = "query_unparsable"
SCOPE = "query_out_of_scope"


@dataclass(frozen=True)
class Attack:
    name: str
    sql: str
    codes: frozenset[str]
    neutral: bool = False


def _a(name: str, sql: str, *codes: str) -> Attack:
    return Attack(name, sql, frozenset(codes))


def _neutral(name: str, sql: str, *codes: str) -> Attack:
    return Attack(name, sql, frozenset(codes), neutral=True)


REFUSED: tuple[Attack, ...] = (
    # DDL and DML
    _a("drop_table", "DROP TABLE users", NOT_READ, UNPARSABLE),
    _a("delete", "DELETE FROM answers", NOT_READ),
    _a("update", "UPDATE results SET passed = TRUE", NOT_READ),
    _a("insert", "INSERT INTO colleges (college, name) VALUES ('x', 'x')", NOT_READ),
    _a("truncate", "TRUNCATE TABLE results", NOT_READ, UNPARSABLE),
    _a("create_table_as", "CREATE TABLE leak AS SELECT * FROM answers", NOT_READ),
    _a("alter", "ALTER TABLE users ADD COLUMN x INT", NOT_READ, UNPARSABLE),
    _a("grant", "GRANT ALL ON users TO PUBLIC", NOT_READ, UNPARSABLE),
    _a("create_function", "CREATE FUNCTION f() RETURNS int AS 'select 1'", NOT_READ, UNPARSABLE),
    _a("select_into", "SELECT * INTO leak FROM answers", NOT_READ),
    _a("set_role", "SET ROLE postgres", NOT_READ, UNPARSABLE),
    _a("reset_role", "RESET ROLE", NOT_READ, UNPARSABLE),
    _a("begin", "BEGIN", NOT_READ, UNPARSABLE),
    _a("pragma", "PRAGMA writable_schema = 1", NOT_READ, UNPARSABLE),
    _a("vacuum_into", "VACUUM INTO '/tmp/leak.db'", NOT_READ, UNPARSABLE),
    _a("lock", "SELECT * FROM results FOR UPDATE", NOT_READ),
    # stacked statements and comment tricks
    _a("stacked_drop", "SELECT 1; DROP TABLE users", NOT_ONE),
    _a("stacked_delete", "SELECT college FROM results; DELETE FROM results", NOT_ONE),
    _a(
        "stacked_after_comment",
        "SELECT college FROM results /* x */; UPDATE users SET role='admin'",
        NOT_ONE,
    ),
    _a("comment_hides_nothing", "SELECT * FROM users -- FROM answers", UNKNOWN),
    _a("block_comment_table", "SELECT * FROM /* answers */ users", UNKNOWN),
    _neutral(
        "mysql_versioned_comment",
        "SELECT college FROM results /*!50000 UNION SELECT email FROM users */",
        UNKNOWN,
        NOT_READ,
        UNPARSABLE,
    ),
    _neutral("nested_comment", "SELECT 1 /* /* */ ; DROP TABLE users; -- */", NOT_ONE, UNPARSABLE),
    # writes inside CTEs and subqueries
    _a(
        "cte_delete",
        "WITH d AS (DELETE FROM answers RETURNING *) SELECT * FROM d",
        NOT_READ,
        UNPARSABLE,
    ),
    _a(
        "cte_update",
        "WITH u AS (UPDATE results SET passed = TRUE RETURNING *) SELECT * FROM u",
        NOT_READ,
        UNPARSABLE,
    ),
    _a(
        "cte_insert",
        "WITH i AS (INSERT INTO colleges VALUES ('x','x','x') RETURNING *) SELECT * FROM i",
        NOT_READ,
        UNPARSABLE,
    ),
    _a(
        "recursive_cte",
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT COUNT(*) FROM t",
        NOT_READ,
    ),
    # UNION into users, tokens, audits
    _a(
        "union_users",
        "SELECT college, name FROM colleges UNION SELECT email, hashed_password FROM users",
        UNKNOWN,
    ),
    _a(
        "union_refresh_tokens",
        "SELECT college FROM results UNION ALL SELECT token_hash FROM refresh_tokens",
        UNKNOWN,
    ),
    _a(
        "union_auth_sessions",
        "SELECT college FROM results UNION SELECT CAST(id AS TEXT) FROM auth_sessions",
        UNKNOWN,
    ),
    _a(
        "union_audit_logs",
        "SELECT college FROM results UNION SELECT details FROM audit_logs",
        UNKNOWN,
    ),
    _a("subquery_users", "SELECT (SELECT email FROM users LIMIT 1) AS e FROM results", UNKNOWN),
    _a(
        "exists_users",
        "SELECT college FROM results WHERE EXISTS (SELECT 1 FROM users WHERE role = 'admin')",
        UNKNOWN,
    ),
    _a(
        "join_users", "SELECT u.email FROM results r JOIN users u ON u.id = r.candidate_id", UNKNOWN
    ),
    _a("base_table_evaluations", "SELECT * FROM evaluations", UNKNOWN),
    _a("base_table_answers_schema", "SELECT * FROM public.answers", UNKNOWN),
    _a("physical_view_name", "SELECT * FROM ask_answers", UNKNOWN),
    _a("physical_schema_view", "SELECT * FROM ask.answers", UNKNOWN),
    _a("unknown_column", "SELECT hashed_password FROM answers", UNKNOWN),
    # system catalogues
    _a("pg_catalog", "SELECT * FROM pg_catalog.pg_tables", UNKNOWN),
    _a("pg_shadow", "SELECT passwd FROM pg_shadow", UNKNOWN),
    _a("pg_roles", "SELECT rolname FROM pg_roles", UNKNOWN),
    _a("information_schema", "SELECT table_name FROM information_schema.tables", UNKNOWN),
    _a("sqlite_master", "SELECT sql FROM sqlite_master", UNKNOWN),
    _a("sqlite_schema", "SELECT name FROM sqlite_schema", UNKNOWN),
    _a("mysql_user", "SELECT user, password FROM mysql.user", UNKNOWN),
    _a("performance_schema", "SELECT * FROM performance_schema.threads", UNKNOWN),
    # file, network and server functions
    _a("pg_read_file", "SELECT pg_read_file('/etc/passwd')", FUNCTION),
    _a("pg_ls_dir", "SELECT pg_ls_dir('.')", FUNCTION),
    _a("lo_import", "SELECT lo_import('/etc/passwd')", FUNCTION),
    _a("copy_to", "COPY answers TO '/tmp/leak.csv'", NOT_READ, UNPARSABLE),
    _a("copy_program", "COPY results FROM PROGRAM 'id'", NOT_READ, UNPARSABLE),
    _a("load_file", "SELECT LOAD_FILE('/etc/passwd')", FUNCTION),
    _a("into_outfile", "SELECT * FROM answers INTO OUTFILE '/tmp/leak'", NOT_READ, UNPARSABLE),
    _a(
        "into_dumpfile",
        "SELECT answer_text FROM answers INTO DUMPFILE '/tmp/leak'",
        NOT_READ,
        UNPARSABLE,
    ),
    _a(
        "dblink",
        "SELECT * FROM dblink('host=evil', 'select 1') AS t(x int)",
        FUNCTION,
        UNKNOWN,
        UNPARSABLE,
    ),
    _a("attach", "ATTACH DATABASE '/tmp/evil.db' AS evil", NOT_READ, UNPARSABLE),
    _a("load_extension", "SELECT load_extension('/tmp/evil.so')", FUNCTION),
    _a("readfile", "SELECT readfile('/etc/passwd')", FUNCTION),
    _a("current_setting", "SELECT current_setting('data_directory')", FUNCTION),
    _a("set_config", "SELECT set_config('role', 'postgres', true)", FUNCTION),
    _a("version", "SELECT version()", FUNCTION, NOT_READ),
    _a("current_user", "SELECT current_user", FUNCTION, NOT_READ, UNKNOWN),
    _a("session_variable", "SELECT @@datadir", NOT_READ, UNKNOWN, FUNCTION),
    _a("user_variable", "SELECT @x := 1", NOT_READ, UNPARSABLE),
    _a("table_function", "SELECT * FROM generate_series(1, 100000000)", FUNCTION, UNKNOWN),
    _a("nextval", "SELECT nextval('users_id_seq')", FUNCTION),
    # sleeps and heavy queries
    _a("pg_sleep", "SELECT pg_sleep(30)", FUNCTION),
    _a("sleep", "SELECT SLEEP(30)", FUNCTION),
    _a("benchmark", "SELECT BENCHMARK(100000000, MD5('x'))", FUNCTION),
    _a("randomblob", "SELECT randomblob(1000000000)", FUNCTION),
    _a(
        "heavy_cross_join",
        "SELECT COUNT(*) FROM answers a, answers b, answers c, answers d, answers e, answers f, "
        "answers g",
        COMPLEX,
    ),
    _a(
        "limit_subquery",
        "SELECT college FROM results LIMIT (SELECT COUNT(*) FROM answers)",
        NOT_READ,
        UNPARSABLE,
    ),
    _a("huge_text", "SELECT '" + "x" * 9000 + "' AS t", COMPLEX),
    _a("deep_nesting", "SELECT " + "(" * 1000 + "1" + ")" * 1000, COMPLEX),
    _a("deep_subqueries", "SELECT " + "(SELECT " * 300 + "1" + ")" * 300, COMPLEX),
    # unicode and quoting tricks
    _a("homoglyph_table", "SELECT * FROM \u1d1csers", UNKNOWN, UNPARSABLE),
    _a("quoted_users", 'SELECT * FROM "users"', UNKNOWN),
    _a("backtick_users", "SELECT * FROM `users`", UNKNOWN, UNPARSABLE),
    _a("quoted_schema_dot", 'SELECT * FROM "public"."users"', UNKNOWN),
    _a("quoted_name_with_dot", 'SELECT * FROM "ask.answers"', UNKNOWN),
    _a(
        "fullwidth_semicolon",
        "SELECT 1\uff1b DROP TABLE users",
        UNPARSABLE,
        NOT_ONE,
        UNKNOWN,
        NOT_READ,
    ),
    _a("null_byte", "SELECT college FROM results\x00; DROP TABLE users", UNPARSABLE, NOT_ONE),
    _neutral(
        "string_escape", "SELECT 'x\\'; DROP TABLE users; --' AS t", NOT_ONE, UNPARSABLE, UNKNOWN
    ),
    _a("dollar_quote", "SELECT $$ $$; DROP TABLE users; SELECT $$ $$", NOT_ONE, UNPARSABLE),
    # recording analysis for an examiner (analysts and admins only)
    _a("transcriptions_for_examiner", "SELECT text FROM transcriptions", SCOPE),
    _a(
        "reports_in_subquery",
        "SELECT college FROM results WHERE EXISTS (SELECT 1 FROM reports)",
        SCOPE,
    ),
    _a("report_runs_for_examiner", "SELECT markdown FROM report_runs", SCOPE),
    _a("job_stages_for_examiner", "SELECT kind FROM job_stages", SCOPE),
    _a(
        "report_outputs_in_union",
        "SELECT college FROM results UNION SELECT output FROM report_outputs",
        SCOPE,
    ),
    _a(
        "dictionaries_in_cte",
        "WITH d AS (SELECT name FROM dictionaries) SELECT COUNT(*) AS n FROM d",
        SCOPE,
    ),
    # the analysis tables' internals behind the views
    _a("llm_calls_table", "SELECT parameters, input_sha256 FROM analysis_llm_calls", UNKNOWN),
    _a("report_runs_table", "SELECT pdf_key FROM analysis_report_runs", UNKNOWN),
    _a("prompt_versions_table", "SELECT text FROM analysis_prompt_versions", UNKNOWN),
    _a("transcript_search_index", "SELECT * FROM ft_analysis_transcript_segments", UNKNOWN),
    # the SQL planted in stored transcripts, report bodies and model outputs (analysis_world.py)
    _a(
        "planted_in_transcripts",
        "SELECT hashed_password FROM users; DROP TABLE analysis_reports",
        NOT_ONE,
    ),
)

ANALYST_REFUSED: tuple[Attack, ...] = (
    # exam data for an analyst, however it is reached
    _a("analyst_answers", "SELECT answer_text FROM answers", SCOPE),
    _a("analyst_results_count", "SELECT COUNT(*) AS n FROM results", SCOPE),
    _a("analyst_colleges", "SELECT college FROM colleges", SCOPE),
    _a("analyst_item_statistics", "SELECT question_text FROM item_statistics", SCOPE),
    _a(
        "analyst_union_exam",
        "SELECT place FROM reports UNION SELECT question_text FROM answers",
        SCOPE,
    ),
    _a(
        "analyst_cte_exam",
        "WITH s AS (SELECT candidate_id FROM exam_sessions) SELECT COUNT(*) AS n FROM s",
        SCOPE,
    ),
    _a(
        "analyst_exists_exam",
        "SELECT place FROM reports WHERE EXISTS (SELECT 1 FROM results WHERE passed)",
        SCOPE,
    ),
    _a(
        "analyst_scalar_exam",
        "SELECT (SELECT MAX(score) FROM answers) AS s FROM dictionaries",
        SCOPE,
    ),
    _a(
        "analyst_join_exam",
        "SELECT r.place FROM reports r JOIN exam_sessions s ON s.session_id = r.report_id",
        SCOPE,
    ),
    # columns the views do not publish
    _a("analyst_call_error", "SELECT error FROM report_outputs", UNKNOWN),
    _a("analyst_call_parameters", "SELECT parameters FROM report_outputs", UNKNOWN),
    _a("analyst_recording_key", "SELECT recording_key FROM transcriptions", UNKNOWN),
    _a("analyst_pdf_key", "SELECT pdf_key FROM report_runs", UNKNOWN),
    _a("analyst_stage_output", "SELECT output FROM job_stages", UNKNOWN),
    _a("analyst_uploaded_by", "SELECT uploaded_by FROM transcriptions", UNKNOWN),
    # writes and reads around the views
    _a("analyst_delete_reports", "DELETE FROM reports", NOT_READ),
    _a("analyst_update_body", "UPDATE reports SET body = 'x'", NOT_READ),
    _a(
        "analyst_cte_update",
        "WITH u AS (UPDATE reports SET body = '' RETURNING *) SELECT * FROM u",
        NOT_READ,
        UNPARSABLE,
    ),
    _a("analyst_users", "SELECT email FROM users", UNKNOWN),
    _a(
        "analyst_fts_match",
        "SELECT text FROM transcriptions WHERE text MATCH 'x'",
        NOT_READ,
        UNPARSABLE,
    ),
    _a("analyst_sleep", "SELECT pg_sleep(10) FROM reports", FUNCTION),
)


def for_analysts(attacks: tuple[Attack, ...]) -> tuple[Attack, ...]:
    """The examiner's refused cases as an analyst sends them: the analysis-only ones dropped
    (analysts may read those views), and an exam view in any other may be refused first."""
    return tuple(
        Attack(a.name, a.sql, a.codes | {SCOPE}, a.neutral) for a in attacks if a.codes != {SCOPE}
    )


SCOPED: tuple[Attack, ...] = (
    _a("where_other_college", "SELECT COUNT(*) AS n FROM answers WHERE college = 'law'"),
    _a(
        "or_true",
        "SELECT COUNT(*) AS n FROM results WHERE college = 'law' OR 1 = 1 AND college <> 'medical'",
    ),
    _a(
        "cte_other_college",
        "WITH x AS (SELECT * FROM results) SELECT COUNT(*) AS n FROM x WHERE college = 'law'",
    ),
    _a(
        "union_other_college",
        "SELECT college FROM results WHERE college = 'medical' "
        "UNION SELECT college FROM exam_sessions WHERE college <> 'medical'",
    ),
    _a("scalar_subquery", "SELECT (SELECT COUNT(*) FROM exam_sessions WHERE college = 'law') AS n"),
    _a("item_statistics_other", "SELECT COUNT(*) AS n FROM item_statistics WHERE college = 'law'"),
    _a("colleges_other", "SELECT college FROM colleges"),
    _a(
        "alias_shadow", "SELECT COUNT(*) AS n FROM answers AS results WHERE results.college = 'law'"
    ),
)
