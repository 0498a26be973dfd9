"""Curated questions: parameterised SQL over the catalogue views that works without an LLM.

Each is written per dialect where the dialects differ (weeks), and goes through exactly the
same guards as a model's SQL: parameters become string literals in the syntax tree
(:func:`bind`), never text pasted into SQL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from newspeech.ask.guards import RowFilter, parse_one
from newspeech.errors import NotFound, ValidationFailed

_TEXT = re.compile(r"^(?:[^\W_]|[ .,'-]){1,100}$")
"""Letters (any script), digits, spaces and . , ' - : no LIKE wildcards, no SQL syntax
(values become string literals in the tree anyway)."""

_CODE = re.compile(r"^[A-Za-z0-9_-]{1,50}$")

_WEEK = {
    "postgresql": "TO_CHAR({column}, 'IYYY-IW')",
    "mysql": "DATE_FORMAT({column}, '%x-%v')",
    "sqlite": "STRFTIME('%Y-%W', {column})",
}


@dataclass(frozen=True)
class Parameter:
    """One input of a curated question: a ``college`` code, a ``date`` (YYYY-MM-DD), a
    ``choice`` among ``choices``, ``text`` (a word or a name), or ``contains`` (text bound as
    a LIKE pattern ``%text%``: the text itself may hold no wildcard)."""

    name: str
    kind: str = "text"
    label: str = ""
    choices: tuple[str, ...] = ()

    def value(self, raw: str) -> str:
        """The checked value to bind, or a clear error."""
        if self.kind == "date":
            try:
                return dt.date.fromisoformat(raw).isoformat()
            except ValueError:
                raise ValidationFailed(f"{self.name} must be a date (YYYY-MM-DD)") from None
        if self.kind == "choice":
            if raw not in self.choices:
                raise ValidationFailed(f"{self.name} must be one of: {', '.join(self.choices)}")
            return raw
        if self.kind == "college":
            if not _CODE.match(raw):
                raise ValidationFailed(f"{self.name} must be a college code (letters, digits, _ -)")
            return raw
        if not _TEXT.match(raw):
            raise ValidationFailed(
                f"{self.name} must be up to 100 letters, digits, spaces or . , ' -"
            )
        return f"%{raw}%" if self.kind == "contains" else raw


_COLLEGE = Parameter("college", "college", "College")
_SINCE = Parameter("since", "date", "Since")
DICTIONARY_NAMES = (
    "place",
    "city",
    "zone",
    "building_type",
    "employee",
    "client",
    "scenario",
    "report_type",
)


@dataclass(frozen=True)
class CuratedQuestion:
    key: str
    title: str
    sql: str
    """The query, with ``:name`` placeholders; ``{week}`` is the dialect's ISO week of
    ``week_column``."""
    inputs: tuple[Parameter, ...] = ()
    chart: str = "table"
    week_column: str = "generated_at"
    examples: Mapping[str, str] = field(default_factory=dict)

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(parameter.name for parameter in self.inputs)

    def sql_for(self, dialect: str) -> str:
        week = _WEEK["mysql" if dialect == "mariadb" else dialect]
        return self.sql.replace("{week}", week.format(column=self.week_column))

    def views(self) -> frozenset[str]:
        """The catalogue views the question reads."""
        tree = parse_one(self.sql_for("sqlite"), "sqlite")
        return frozenset(table.name.lower() for table in tree.find_all(exp.Table))

    def for_rows(self, rows: RowFilter) -> bool:
        """Whether a caller with this row filter may ask it."""
        return all(rows.may_read(view) for view in self.views())


CURATED: tuple[CuratedQuestion, ...] = (
    CuratedQuestion(
        "lowest_mean_mark_per_question",
        "Questions with the lowest mean mark in a college",
        "SELECT question_id, question_text, AVG(score) AS mean_score, COUNT(score) AS marked "
        "FROM answers WHERE college = :college AND score IS NOT NULL "
        "GROUP BY question_id, question_text ORDER BY mean_score ASC, question_id ASC LIMIT 10",
        (_COLLEGE,),
        "bar",
    ),
    CuratedQuestion(
        "lowest_mean_mark_since",
        "Questions with the lowest mean mark in a college since a date (this term)",
        "SELECT question_id, question_text, AVG(score) AS mean_score, COUNT(score) AS marked "
        "FROM answers WHERE college = :college AND score IS NOT NULL AND answered_at >= :since "
        "GROUP BY question_id, question_text ORDER BY mean_score ASC, question_id ASC LIMIT 10",
        (_COLLEGE, _SINCE),
        "bar",
    ),
    CuratedQuestion(
        "pass_rate_by_week",
        "Pass rate by week in a college",
        "SELECT {week} AS week, COUNT(*) AS results, "
        "ROUND(100.0 * SUM(CASE WHEN passed THEN 1 ELSE 0 END) / COUNT(*), 1) AS pass_rate "
        "FROM results WHERE college = :college GROUP BY {week} ORDER BY week",
        (_COLLEGE,),
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
        (_COLLEGE,),
        "bar",
    ),
    CuratedQuestion(
        "answers_awaiting_review",
        "Answers waiting for review in a college",
        "SELECT answer_id, session_id, question_text, score, max_score FROM answers "
        "WHERE college = :college AND needs_review = TRUE ORDER BY answer_id",
        (_COLLEGE,),
    ),
    CuratedQuestion(
        "reports_mentioning",
        "Reports (audits) of a building type in a city that mention a word",
        "SELECT report_id, report_type, place, zone, report_date FROM reports "
        "WHERE LOWER(building_type) = LOWER(:building_type) AND LOWER(city) = LOWER(:city) "
        "AND LOWER(body) LIKE LOWER(:word) "
        "ORDER BY report_date DESC, report_id",
        (
            Parameter("building_type", "text", "Building type"),
            Parameter("city", "text", "City"),
            Parameter("word", "contains", "Mentions"),
        ),
    ),
    CuratedQuestion(
        "reports_by_place",
        "Reports per place",
        "SELECT place, COUNT(*) AS reports FROM reports GROUP BY place ORDER BY reports DESC, "
        "place",
        (),
        "bar",
    ),
    CuratedQuestion(
        "reports_by_building_type",
        "Reports per building type",
        "SELECT building_type, COUNT(*) AS reports FROM reports GROUP BY building_type "
        "ORDER BY reports DESC, building_type",
        (),
        "bar",
    ),
    CuratedQuestion(
        "recordings_by_week",
        "Recordings per week (by the day recorded)",
        "SELECT {week} AS week, COUNT(*) AS recordings FROM transcriptions "
        "WHERE recorded_on IS NOT NULL GROUP BY {week} ORDER BY week",
        (),
        "line",
        week_column="recorded_on",
    ),
    CuratedQuestion(
        "model_use_by_prompt",
        "Language-model calls per prompt: tokens and mean latency",
        "SELECT prompt_title, COUNT(*) AS calls, SUM(total_tokens) AS tokens, "
        "AVG(latency_seconds) AS mean_latency_seconds FROM report_outputs "
        "GROUP BY prompt_title ORDER BY prompt_title",
        (),
        "bar",
    ),
    CuratedQuestion(
        "dictionary_entries",
        "Entries of a metadata dictionary (places, cities ...)",
        "SELECT name, created_at FROM dictionaries WHERE dictionary = :dictionary ORDER BY name",
        (Parameter("dictionary", "choice", "Dictionary", DICTIONARY_NAMES),),
    ),
)

BY_KEY = {question.key: question for question in CURATED}


def find(key: str) -> CuratedQuestion:
    try:
        return BY_KEY[key]
    except KeyError:
        raise NotFound(f"no curated question {key!r}; see GET /api/v1/ask/catalogue") from None


def bind(question: CuratedQuestion, values: Mapping[str, str], dialect: str) -> exp.Expr:
    """The curated query's tree with each ``:name`` replaced by its checked value as a
    literal."""
    if missing := [name for name in question.parameters if not values.get(name)]:
        raise ValidationFailed(f"{question.key} needs: {', '.join(missing)}")
    checked = {p.name: p.value(values[p.name]) for p in question.inputs}
    tree = parse_one(question.sql_for(dialect), dialect)
    for placeholder in list(tree.find_all(exp.Placeholder)):
        placeholder.replace(exp.Literal.string(checked[placeholder.name]))
    return tree
