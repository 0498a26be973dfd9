"""Each guard on its own, in every backend's dialect (no database needed)."""

from __future__ import annotations

import pytest

from newspeech.ask.guards import (
    ANALYSIS_ONLY,
    EVERY_ROW,
    MAX_LIMIT,
    RowFilter,
    checked_sql,
    force_limit,
    parse_one,
    render,
    require_catalogue,
    require_read_only,
    require_small,
    scope_views,
)
from newspeech.errors import (
    QueryFunctionNotAllowed,
    QueryNotOneStatement,
    QueryNotReadOnly,
    QueryOutOfScope,
    QueryTooComplex,
    QueryUnknownSource,
    QueryUnparsable,
)

DIALECTS = ("sqlite", "postgresql", "mysql")
ADMIN = EVERY_ROW
MEDICAL = RowFilter(frozenset({"medical"}))


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def test_parse_one_accepts_a_select_with_a_trailing_semicolon(dialect: str) -> None:
    assert parse_one("SELECT college FROM results;", dialect) is not None


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT 1; SELECT 2", QueryNotOneStatement),
        ("", QueryNotOneStatement),
        ("DELETE FROM results", QueryNotReadOnly),
        ("SELEC college FROM results", QueryUnparsable),
        ("SELECT " + "1 + " * 3000 + "1", QueryTooComplex),
    ],
)
def test_parse_one_refuses(sql: str, error: type[Exception], dialect: str) -> None:
    with pytest.raises(error):
        parse_one(sql, dialect)


def test_read_only_accepts_aggregates_windows_and_ctes(dialect: str) -> None:
    tree = parse_one(
        "WITH m AS (SELECT college, AVG(score) AS mean FROM answers GROUP BY college) "
        "SELECT college, mean, RANK() OVER (ORDER BY mean) AS r FROM m "
        "WHERE mean BETWEEN 1 AND 10 AND college IN ('medical', 'law') ORDER BY r LIMIT 5",
        dialect,
    )
    require_read_only(tree)


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("WITH t AS (DELETE FROM results RETURNING *) SELECT * FROM t", QueryNotReadOnly),
        ("SELECT * FROM results FOR UPDATE", QueryNotReadOnly),
        ("SELECT pg_sleep(5)", QueryFunctionNotAllowed),
        ("SELECT college FROM results LIMIT (SELECT 5)", QueryNotReadOnly),
        (
            "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT n FROM t",
            QueryNotReadOnly,
        ),
    ],
)
def test_read_only_refuses(sql: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        require_read_only(parse_one(sql, "postgresql"))


def test_catalogue_accepts_views_ctes_and_aliases() -> None:
    tree = parse_one(
        "WITH t AS (SELECT a.college AS c FROM answers AS a) SELECT t.c, x.n FROM t "
        "JOIN (SELECT college, COUNT(*) AS n FROM results GROUP BY college) AS x "
        "ON x.college = t.c",
        "sqlite",
    )
    require_catalogue(tree, MEDICAL)


def test_catalogue_accepts_an_analysts_view_columns_through_aliases_and_subqueries() -> None:
    tree = parse_one(
        "SELECT r.place, o.n FROM reports r JOIN (SELECT report_id, COUNT(*) AS n "
        "FROM report_outputs GROUP BY report_id) o ON o.report_id = r.report_id "
        "WHERE r.city IN (SELECT name FROM dictionaries WHERE dictionary = 'city')",
        "postgresql",
    )
    require_catalogue(tree, ANALYSIS_ONLY)


@pytest.mark.parametrize(
    ("sql", "rows", "error"),
    [
        ("SELECT * FROM users", ADMIN, QueryUnknownSource),
        ("SELECT * FROM ask.answers", ADMIN, QueryUnknownSource),
        ("SELECT secret FROM answers", ADMIN, QueryUnknownSource),
        ("SELECT zz.score FROM answers", ADMIN, QueryUnknownSource),
        ("SELECT * FROM reports", MEDICAL, QueryOutOfScope),
        ("WITH answers AS (SELECT 1 AS x) SELECT x FROM answers", ADMIN, QueryNotReadOnly),
        ("SELECT * FROM results", ANALYSIS_ONLY, QueryOutOfScope),
        ("SELECT * FROM dictionaries", MEDICAL, QueryOutOfScope),
        # a column of another view than the one read, or than the one its qualifier names
        ("SELECT output FROM job_stages", ADMIN, QueryUnknownSource),
        ("SELECT text FROM answers", ADMIN, QueryUnknownSource),
        (
            "SELECT s.score FROM exam_sessions s JOIN answers a ON a.session_id = s.session_id",
            ADMIN,
            QueryUnknownSource,
        ),
    ],
)
def test_catalogue_refuses(sql: str, rows: RowFilter, error: type[Exception]) -> None:
    with pytest.raises(error):
        require_catalogue(parse_one(sql, "postgresql"), rows)


def test_small_refuses_a_cross_join_of_many_views() -> None:
    sql = "SELECT COUNT(*) FROM " + ", ".join(f"answers AS a{n}" for n in range(7))
    with pytest.raises(QueryTooComplex):
        require_small(parse_one(sql, "sqlite"))


@pytest.mark.parametrize(("sql", "limit"), [("SELECT 1", MAX_LIMIT), ("SELECT 1 LIMIT 5", 5)])
def test_force_limit_caps_rows(sql: str, limit: int, dialect: str) -> None:
    tree = force_limit(parse_one(sql + " LIMIT 100000" if "LIMIT" not in sql else sql, dialect))
    if "LIMIT" not in sql:
        assert render(tree, dialect).endswith(f"LIMIT {MAX_LIMIT}")
    else:
        assert render(tree, dialect).endswith(f"LIMIT {limit}")


def test_scope_views_filters_every_read_of_a_college_view(dialect: str) -> None:
    tree = parse_one(
        "SELECT a.college FROM answers AS a WHERE a.session_id IN (SELECT session_id FROM results)",
        dialect,
    )
    sql = render(scope_views(tree, MEDICAL, dialect), dialect)
    assert sql.count("college IN ('medical')") == 2


def test_scope_views_lets_an_examiner_without_colleges_see_nothing() -> None:
    tree = parse_one("SELECT college FROM results", "sqlite")
    sql = render(scope_views(tree, RowFilter(frozenset()), "sqlite"), "sqlite")
    assert "WHERE FALSE" in sql.upper() or "WHERE 0" in sql


def test_checked_sql_is_generated_from_the_tree_without_comments(dialect: str) -> None:
    sql = checked_sql("SELECT college /* hi */ FROM results -- bye", dialect, ADMIN)
    assert "hi" not in sql
    assert "bye" not in sql
    assert sql.endswith(f"LIMIT {MAX_LIMIT}")
