"""The guards between a question's SQL and the database, each a small function on its own.

In order (:func:`checked_sql` runs them all): parse with sqlglot in the backend's dialect
(:func:`parse_one`); a read-only query built only from an allow-list of syntax and functions
(:func:`require_read_only`); only catalogue views and columns the caller may read
(:func:`require_catalogue`); bounded size (:func:`require_small`); a forced LIMIT
(:func:`force_limit`); the caller's row filter and the views' physical names written into the
tree (:func:`scope_views`); and the SQL that runs is generated from that tree
(:func:`render`), never the text that came in. Comments are dropped on the way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from newspeech.ask.catalogue import VIEWS, Visibility, physical_name
from newspeech.errors import (
    QueryFunctionNotAllowed,
    QueryNotOneStatement,
    QueryNotReadOnly,
    QueryOutOfScope,
    QueryTooComplex,
    QueryUnknownSource,
    QueryUnparsable,
)

SQLGLOT_DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}
MAX_SQL_CHARS = 8_000
MAX_SOURCES = 6
DEFAULT_LIMIT = 200
MAX_LIMIT = 1_000

_QUERY_NODES: tuple[type[exp.Expr], ...] = (
    exp.Select, exp.Union, exp.Intersect, exp.Except, exp.With, exp.CTE, exp.Subquery,
    exp.From, exp.Join, exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered, exp.Limit,
    exp.Offset, exp.Column, exp.Identifier, exp.Table, exp.TableAlias, exp.Alias, exp.Star,
    exp.Literal, exp.Null, exp.Boolean, exp.Paren, exp.Distinct, exp.Tuple, exp.DataType,
    exp.Window, exp.WindowSpec, exp.Filter, exp.Interval, exp.Exists,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.And, exp.Or, exp.Not, exp.Add,
    exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Neg, exp.Like, exp.ILike, exp.Is,
    exp.In, exp.Between, exp.DPipe, exp.Case, exp.If,
)  # fmt: skip
"""Syntax a read-only question may use. Anything else (writes, DDL, INTO, locks, variables,
PRAGMA, ATTACH, COPY, table functions ...) is refused because it is not here."""

ALLOWED_FUNCTIONS: tuple[type[exp.Func], ...] = (
    exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.Stddev, exp.StddevPop, exp.StddevSamp,
    exp.Variance, exp.Rank, exp.DenseRank, exp.RowNumber, exp.Round, exp.Floor, exp.Ceil,
    exp.Abs, exp.Coalesce, exp.Nullif, exp.Greatest, exp.Least, exp.Lower, exp.Upper,
    exp.Length, exp.Substring, exp.Trim, exp.Concat, exp.Cast, exp.TryCast, exp.Extract,
    exp.TimestampTrunc, exp.DateTrunc, exp.TimeToStr, exp.TsOrDsToTimestamp, exp.CurrentDate,
    exp.CurrentTimestamp, exp.Date, exp.DateAdd, exp.DateSub, exp.DateDiff, exp.Case, exp.If,
)  # fmt: skip
"""Pure functions a question may call: aggregates, arithmetic, text, dates. No sleeps, files,
network, sequences, settings or anything a dialect adds under its own name."""

_FUNCTION_NAMES = ", ".join(sorted({f.sql_names()[0].lower() for f in ALLOWED_FUNCTIONS}))


@dataclass(frozen=True)
class RowFilter:
    """What the caller may read. Exam views (``college``): every row (``colleges`` None: an
    admin), or only ``colleges``' rows (an examiner), or none at all (``exams`` False: an
    analyst). Recording-analysis views (``analysis``): analysts and admins."""

    colleges: frozenset[str] | None  # None: every college's rows
    exams: bool = True
    analysis: bool = False

    @property
    def is_admin(self) -> bool:
        return self.colleges is None and self.exams and self.analysis

    def may_read(self, view: str) -> bool:
        if VIEWS[view].visibility is Visibility.ANALYSIS:
            return self.analysis
        return self.exams


EVERY_ROW = RowFilter(None, analysis=True)
"""An admin's filter: every view, every row."""
ANALYSIS_ONLY = RowFilter(frozenset(), exams=False, analysis=True)
"""An analyst's filter: the recording-analysis views, no exam data."""


def examiner_rows(colleges: Iterable[str]) -> RowFilter:
    """An examiner's filter: the exam views, their colleges' rows."""
    return RowFilter(frozenset(colleges))


def sqlglot_dialect(dialect: str) -> str:
    """sqlglot's name for a SQLAlchemy dialect name."""
    return SQLGLOT_DIALECTS.get(dialect, dialect)


def parse_one(sql: str, dialect: str) -> exp.Expr:
    """The one statement in ``sql``; refuses text that does not parse or holds more than one."""
    if len(sql) > MAX_SQL_CHARS:
        raise QueryTooComplex(f"the query is longer than {MAX_SQL_CHARS} characters")
    try:
        statements = [s for s in sqlglot.parse(sql, read=sqlglot_dialect(dialect)) if s]
    except SqlglotError as exc:
        raise QueryUnparsable("the query is not SQL this service can read") from exc
    except RecursionError as exc:
        raise QueryTooComplex("the query is nested too deeply") from exc
    if len(statements) != 1:
        raise QueryNotOneStatement(f"send exactly one statement, not {len(statements)}")
    statement: exp.Expr = statements[0]
    if not isinstance(statement, exp.Select | exp.SetOperation):
        raise QueryNotReadOnly("only SELECT queries may be asked")
    return statement


def require_read_only(tree: exp.Expr) -> None:
    """Only allowed syntax and functions anywhere in the tree (CTEs and subqueries included)."""
    for node in tree.walk():
        if isinstance(node, _QUERY_NODES):
            pass
        elif isinstance(node, exp.Func):
            if not isinstance(node, ALLOWED_FUNCTIONS):
                name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
                raise QueryFunctionNotAllowed(
                    f"function {name.lower()[:40]!r} is not allowed; allowed: {_FUNCTION_NAMES}"
                )
        elif isinstance(node, exp.Var):
            if not isinstance(node.parent, exp.Interval | exp.Extract | exp.Func | exp.DataType):
                raise QueryNotReadOnly("variables and bare keywords are not allowed")
        elif not isinstance(node, exp.DataTypeParam):
            raise QueryNotReadOnly(
                f"{node.key.upper()[:40]} is not allowed: ask with a single read-only SELECT"
            )
        if isinstance(node, exp.With) and node.args.get("recursive"):
            raise QueryNotReadOnly("recursive queries are not allowed")
        if isinstance(node, exp.Limit | exp.Offset):
            _require_count(node.expression)


def _require_count(value: exp.Expr | None) -> None:
    if not (isinstance(value, exp.Literal) and value.is_int):
        raise QueryNotReadOnly("LIMIT and OFFSET take a whole number")


def cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def require_catalogue(tree: exp.Expr, rows: RowFilter) -> None:
    """Every table is a catalogue view the caller may read (or a CTE of the query); every
    column belongs to a view the query reads (the view its qualifier names, when it names
    one) or is a name the query itself defines."""
    ctes = cte_names(tree)
    if clash := ctes & set(VIEWS):
        raise QueryNotReadOnly(f"a WITH name may not reuse the view name {sorted(clash)[0]!r}")
    defined = set(ctes)
    views_by_alias: dict[str, set[str]] = {}
    for table in tree.find_all(exp.Table):
        if table.args.get("db") or table.args.get("catalog") or not table.name:
            raise QueryUnknownSource(_unknown_view())
        name = table.name.lower()
        if name not in ctes:
            if name not in VIEWS:
                raise QueryUnknownSource(_unknown_view())
            if not rows.may_read(name):
                raise QueryOutOfScope(_not_yours(name))
            views_by_alias.setdefault(table.alias_or_name.lower(), set()).add(name)
        defined.add(table.alias_or_name.lower())
    read = frozenset().union(
        *(VIEWS[view].column_names for views in views_by_alias.values() for view in views)
    )
    derived = ctes | {sub.alias.lower() for sub in tree.find_all(exp.Subquery) if sub.alias}
    defined |= {alias.alias.lower() for alias in tree.find_all(exp.Alias)}
    for alias in tree.find_all(exp.TableAlias):
        defined.add(alias.name.lower())
        defined |= {column.name.lower() for column in alias.columns}
    for column in tree.find_all(exp.Column):
        if not _known_column(column, views_by_alias, read, defined, derived):
            raise QueryUnknownSource(
                f"unknown column {column.sql()[:60]!r}: use the columns of the views you read"
            )


def _known_column(
    column: exp.Column,
    views_by_alias: dict[str, set[str]],
    read: frozenset[str],
    defined: set[str],
    derived: set[str],
) -> bool:
    """A star of a known source; a column of the view its qualifier names (when the qualifier
    names only views); otherwise a column of some view read, or a name the query defines."""
    if isinstance(column.this, exp.Star):
        return not column.table or column.table.lower() in defined
    name = column.name.lower()
    qualifier = column.table.lower() if column.table else None
    if qualifier is None:
        return name in read or name in defined
    if qualifier in views_by_alias and qualifier not in derived:
        return any(name in VIEWS[view].column_names for view in views_by_alias[qualifier])
    return qualifier in defined and (name in read or name in defined)


def _not_yours(view: str) -> str:
    if VIEWS[view].visibility is Visibility.ANALYSIS:
        return f"the view {view!r} is recording analysis: for analysts and admins"
    return f"the view {view!r} is exam data: for examiners and admins"


def _unknown_view() -> str:
    return f"only the published views may be read: {', '.join(VIEWS)}"


def require_small(tree: exp.Expr) -> None:
    """A bounded number of table reads (cross joins of many views are refused)."""
    sources = sum(1 for _ in tree.find_all(exp.Table))
    if sources > MAX_SOURCES:
        raise QueryTooComplex(f"the query reads {sources} tables; at most {MAX_SOURCES}")


def force_limit(tree: exp.Expr, cap: int = MAX_LIMIT) -> exp.Expr:
    """The outer query returns at most ``cap`` rows (its own LIMIT if smaller)."""
    limit = tree.args.get("limit")
    current = int(limit.expression.this) if isinstance(limit, exp.Limit) else None
    rows = cap if current is None else min(current, cap)
    tree.set("limit", exp.Limit(expression=exp.Literal.number(rows)))
    return tree


def scope_views(tree: exp.Expr, rows: RowFilter, dialect: str) -> exp.Expr:
    """Each view read becomes its physical name, and for an examiner a subquery keeping
    only their colleges' rows: the filter holds wherever the view is read."""
    ctes = cte_names(tree)
    for table in list(tree.find_all(exp.Table)):
        name = table.name.lower()
        if name in ctes:
            continue
        alias = table.alias_or_name.lower()
        schema, physical = physical_name(dialect, name)
        source = exp.Table(
            this=exp.to_identifier(physical, quoted=True),
            db=exp.to_identifier(schema, quoted=True) if schema else None,
        )
        college = VIEWS[name].college_column
        if rows.colleges is None or college is None:
            source.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
            table.replace(source)
            continue
        filtered = exp.Select(
            expressions=[exp.Star()],
            from_=exp.From(this=source),
            where=exp.Where(this=_in_colleges(college, sorted(rows.colleges))),
        )
        table.replace(
            exp.Subquery(this=filtered, alias=exp.TableAlias(this=exp.to_identifier(alias)))
        )
    return tree


def _in_colleges(column: str, colleges: Iterable[str]) -> exp.Expr:
    values: list[exp.Expr] = [exp.Literal.string(code) for code in colleges]
    if not values:
        return exp.false()
    return exp.In(this=exp.Column(this=exp.to_identifier(column)), expressions=values)


def render(tree: exp.Expr, dialect: str) -> str:
    """The SQL that runs, generated from the checked tree (comments dropped)."""
    return tree.sql(dialect=sqlglot_dialect(dialect), comments=False)


def checked_sql(sql: str, dialect: str, rows: RowFilter, *, cap: int = MAX_LIMIT) -> str:
    """Every guard in order, from the text; the SQL to run."""
    return checked_tree(parse_one(sql, dialect), dialect, rows, cap=cap)


def checked_tree(tree: exp.Expr, dialect: str, rows: RowFilter, *, cap: int = MAX_LIMIT) -> str:
    """Every guard after parsing, in order; the SQL to run."""
    try:
        require_read_only(tree)
        require_catalogue(tree, rows)
        require_small(tree)
        force_limit(tree, cap)
        scope_views(tree, rows, dialect)
        return render(tree, dialect)
    except RecursionError as exc:
        raise QueryTooComplex("the query is nested too deeply") from exc
