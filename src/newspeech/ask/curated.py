"""Curated questions: parameterised SQL over the catalogue views that works without an LLM.

Each is written per dialect where the dialects differ (weeks), and goes through exactly the
same guards as a model's SQL: parameters become string literals in the syntax tree
(:func:`bind`), never text pasted into SQL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from newspeech.ask.guards import parse_one
from newspeech.errors import NotFound, ValidationFailed

_PARAMETER = re.compile(r"^[A-Za-z0-9 _.,'-]{1,100}$")

_WEEK = {
    "postgresql": "TO_CHAR(generated_at, 'IYYY-IW')",
    "mysql": "DATE_FORMAT(generated_at, '%x-%v')",
    "sqlite": "STRFTIME('%Y-%W', generated_at)",
}


@dataclass(frozen=True)
class CuratedQuestion:
    key: str
    title: str
    sql: str
    """The query, with ``:name`` placeholders; ``{week}`` is the dialect's ISO week."""
    parameters: tuple[str, ...] = ()
    chart: str = "table"
    examples: Mapping[str, str] = field(default_factory=dict)

    def sql_for(self, dialect: str) -> str:
        return self.sql.replace("{week}", _WEEK["mysql" if dialect == "mariadb" else dialect])


CURATED: tuple[CuratedQuestion, ...] = (
    CuratedQuestion(
        "lowest_mean_mark_per_question",
        "Questions with the lowest mean mark in a college",
        "SELECT question_id, question_text, AVG(score) AS mean_score, COUNT(score) AS marked "
        "FROM answers WHERE college = :college AND score IS NOT NULL "
        "GROUP BY question_id, question_text ORDER BY mean_score ASC, question_id ASC LIMIT 10",
        ("college",),
        "bar",
    ),
    CuratedQuestion(
        "pass_rate_by_week",
        "Pass rate by week in a college",
        "SELECT {week} AS week, COUNT(*) AS results, "
        "ROUND(100.0 * SUM(CASE WHEN passed THEN 1 ELSE 0 END) / COUNT(*), 1) AS pass_rate "
        "FROM results WHERE college = :college GROUP BY {week} ORDER BY week",
        ("college",),
        "line",
    ),
    CuratedQuestion(
        "pass_rate_by_college",
        "Pass rate per college",
        "SELECT college, COUNT(*) AS results, "
        "ROUND(100.0 * SUM(CASE WHEN passed THEN 1 ELSE 0 END) / COUNT(*), 1) AS pass_rate "
        "FROM results GROUP BY college ORDER BY college",
        (),
        "bar",
    ),
    CuratedQuestion(
        "sittings_by_status",
        "Sittings by status in a college",
        "SELECT status, COUNT(*) AS sittings FROM exam_sessions WHERE college = :college "
        "GROUP BY status ORDER BY status",
        ("college",),
        "bar",
    ),
    CuratedQuestion(
        "answers_awaiting_review",
        "Answers waiting for review in a college",
        "SELECT answer_id, session_id, question_text, score, max_score FROM answers "
        "WHERE college = :college AND needs_review = TRUE ORDER BY answer_id",
        ("college",),
    ),
    CuratedQuestion(
        "reports_by_place",
        "Reports per place (admins)",
        "SELECT place, COUNT(*) AS reports FROM reports GROUP BY place ORDER BY reports DESC, "
        "place",
        (),
        "bar",
    ),
)

BY_KEY = {question.key: question for question in CURATED}


def find(key: str) -> CuratedQuestion:
    try:
        return BY_KEY[key]
    except KeyError:
        raise NotFound(f"no curated question {key!r}; see GET /api/v1/ask/catalogue") from None


def bind(question: CuratedQuestion, values: Mapping[str, str], dialect: str) -> exp.Expr:
    """The curated query's tree with each ``:name`` replaced by its value as a literal."""
    if missing := [name for name in question.parameters if not values.get(name)]:
        raise ValidationFailed(f"{question.key} needs: {', '.join(missing)}")
    for name in question.parameters:
        if not _PARAMETER.match(values[name]):
            raise ValidationFailed(f"{name} must be up to 100 letters, digits or punctuation")
    tree = parse_one(question.sql_for(dialect), dialect)
    for placeholder in list(tree.find_all(exp.Placeholder)):
        placeholder.replace(exp.Literal.string(values[placeholder.name]))
    return tree
