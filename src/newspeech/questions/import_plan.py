"""Planning an import: pure functions over plain data, so they run in a worker process.

``parse_file`` parses a file in the worker and keeps the parsed questions there, handing back
only the file's colleges and issues (25,000 parsed questions cost more to send between processes
than to parse); ``plan_import`` then places each question against snapshots of the stored ones
and sorts it into new, changed or unchanged, in one pass with dictionary lookups (O(n)). If the
worker was replaced in between, ``plan_import`` parses the file again: slower, never wrong.
"""

from __future__ import annotations

import json
import pickle
import secrets
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from newspeech.kit.collector import collection_paused
from newspeech.kit.ids import MAX_INT32
from newspeech.questions.interchange import (
    BankQuestion,
    ImportFormat,
    ImportIssue,
    IssueKind,
    ParsedQuestion,
    ParseResult,
    parse_questions,
)
from newspeech.questions.interchange.model import NOTHING_TO_GRADE_AGAINST

# Model field -> question_banks columns it sets.
COLUMNS: dict[str, tuple[str, ...]] = {
    "scenario_name": ("scenario_name",),
    "scenario_description": ("scenario_description",),
    "question_text": ("question_text",),
    "category": ("category",),
    "difficulty": ("difficulty_level",),
    "keywords": ("keywords", "expected_keywords"),
    "model_answer": ("model_answer",),
    "guidelines": ("answer_guidelines",),
    "max_score": ("max_score",),
}
# What a snapshot of a stored question holds, in this order.
SNAPSHOT_COLUMNS = (
    "id",
    "scenario_id",
    "question_number",
    *dict.fromkeys(column for columns in COLUMNS.values() for column in columns),
)
JSON_COLUMNS = ("keywords", "expected_keywords")
# Rows per batch read and sent to the worker. Each batch is one step of the event loop in the
# server, so it stays small: 200 rows are a few milliseconds, and the loop serves other requests
# in between.
BATCH = 200
# Rows per batch written (and pickled on the way back from the worker). A write step costs more a
# row than a read (SQLAlchemy builds each row's parameters on the loop: JSON, timestamps, ~60 µs
# a row with the unpickling), and a request waits behind one such step at each of its own steps.
WRITE_BATCH = 50
T = TypeVar("T")


@dataclass(frozen=True)
class ParsedFile:
    """A file parsed in a worker: its colleges and issues; the questions stay in the worker."""

    token: str
    colleges: frozenset[str]
    issues: tuple[ImportIssue, ...]
    data: bytes
    fmt: ImportFormat
    college: str | None


@dataclass
class Plan:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    new_rows: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (id, changes)
    issues: list[ImportIssue] = field(default_factory=list)
    # Rows and updates pickled in batches for the trip back from a worker process: one
    # unpickling of 25,000 rows holds the GIL (and so the event loop) for a second or more.
    packed_rows: list[bytes] = field(default_factory=list)
    packed_updates: list[bytes] = field(default_factory=list)

    def pack(self, size: int = WRITE_BATCH) -> None:
        self.packed_rows = _packed(self.new_rows, size)
        self.packed_updates = _packed(self.updates, size)
        self.new_rows, self.updates = [], []

    def row_batches(self, size: int = WRITE_BATCH) -> Iterator[list[dict[str, Any]]]:
        return _batches(self.new_rows, self.packed_rows, size)

    def update_batches(self, size: int = WRITE_BATCH) -> Iterator[list[tuple[int, dict[str, Any]]]]:
        return _batches(self.updates, self.packed_updates, size)


def _packed(items: Sequence[Any], size: int) -> list[bytes]:
    return [pickle.dumps(list(items[i : i + size]), protocol=5) for i in range(0, len(items), size)]


def _batches(items: list[T], packed: list[bytes], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
    for chunk in packed:
        yield pickle.loads(chunk)  # our own worker's pickle


# Parsed files waiting for their plan, in this worker process (a few imports at once at most).
_WAITING: OrderedDict[str, ParseResult] = OrderedDict()
_MAX_WAITING = 4


def parse_file(data: bytes, fmt: ImportFormat, college: str | None) -> ParsedFile:
    with collection_paused():
        parsed = parse_questions(data, fmt, college=college)
    token = secrets.token_hex(16)
    _WAITING[token] = parsed
    while len(_WAITING) > _MAX_WAITING:
        _WAITING.popitem(last=False)
    colleges = frozenset(item.question.college_type for item in parsed.questions)
    return ParsedFile(token, colleges, tuple(parsed.issues), data, fmt, college)


def plan_import(
    source: ParseResult | ParsedFile,
    stored: Mapping[str, Sequence[bytes]],
    *,
    rows: bool = True,
) -> Plan:
    """The plan for every known college in ``stored`` (pickled batches of rows in
    ``SNAPSHOT_COLUMNS`` order); items of other colleges are errors. ``rows=False`` (a dry run)
    leaves out the rows to write."""
    with collection_paused():
        return _plan(source, stored, rows=rows)


def _plan(
    source: ParseResult | ParsedFile, stored: Mapping[str, Sequence[bytes]], *, rows: bool
) -> Plan:
    if isinstance(source, ParsedFile):
        parsed = _WAITING.pop(source.token, None) or parse_questions(
            source.data, source.fmt, college=source.college
        )
    else:
        parsed = source
    by_college: dict[str, list[ParsedQuestion]] = {}
    for item in parsed.questions:
        by_college.setdefault(item.question.college_type, []).append(item)
    plan = Plan()
    for college, items in by_college.items():
        if college not in stored:
            plan.issues += [
                ImportIssue(i.line, IssueKind.ERROR, f"unknown college type {college!r}")
                for i in items
            ]
            continue
        existing = [_snapshot(row) for chunk in stored[college] for row in pickle.loads(chunk)]
        _plan_college(items, existing, plan, rows=rows)
    if isinstance(source, ParsedFile):
        plan.pack()  # going back to the server process
    return plan


def _snapshot(row: tuple[Any, ...]) -> dict[str, Any]:
    """A stored question by column name. Its JSON columns stay the text they travel as until
    something needs their value (:func:`_json`): re-importing a stored bank compares them to
    the file's as text first (:func:`_changes`), and decoding all of them was half the plan."""
    return dict(zip(SNAPSHOT_COLUMNS, row, strict=True))


def _json(current: dict[str, Any], column: str) -> Any:
    """A JSON column of a snapshot, decoded (once)."""
    value = current[column]
    if isinstance(value, str):
        value = current[column] = json.loads(value)
    return value


def _same(column: str, stored: Any, value: Any, current: dict[str, Any]) -> bool:
    """The stored value of ``column`` equals ``value``. A JSON column's text written from an
    equal value (``json.dumps``, SQLAlchemy's serialiser on every backend) is equal without
    decoding it; text that differs (spacing, key order) is decoded and compared."""
    if column in JSON_COLUMNS and isinstance(stored, str):
        if stored == json.dumps(value):
            return True
        stored = _json(current, column)
    return bool(stored == value)


def _plan_college(
    items: list[ParsedQuestion], existing: list[dict[str, Any]], plan: Plan, *, rows: bool
) -> None:
    """Place each item (new scenario and question numbers continue after the highest taken)
    and sort it into new, changed or unchanged."""
    scenario_ids = {q["scenario_name"]: q["scenario_id"] for q in existing}
    stored = {(q["scenario_id"], q["question_number"]): q for q in existing}
    by_text = {(q["scenario_id"], q["question_text"]): q["question_number"] for q in existing}
    last_scenario = max((q["scenario_id"] for q in existing), default=0)
    last_number: dict[int, int] = {}
    for q in existing:
        scenario = q["scenario_id"]
        last_number[scenario] = max(last_number.get(scenario, 0), q["question_number"])
    placed: dict[tuple[int, int], int] = {}
    for item in items:
        question = item.question
        scenario_id = question.scenario_id or scenario_ids.get(question.scenario_name)
        if scenario_id is None:
            scenario_id = last_scenario + 1
        scenario_ids.setdefault(question.scenario_name, scenario_id)
        number = question.question_number or by_text.get((scenario_id, question.question_text))
        if number is None:
            number = last_number.get(scenario_id, 0) + 1
        key = (scenario_id, number)
        problem = _placement_problem(key, placed)
        if problem is not None:
            plan.issues.append(ImportIssue(item.line, IssueKind.ERROR, problem))
            continue
        placed[key] = item.line
        last_scenario = max(last_scenario, scenario_id)
        last_number[scenario_id] = max(last_number.get(scenario_id, 0), number)
        current = stored.get(key)
        if _nothing_to_grade_against(question, current):
            plan.issues.append(ImportIssue(item.line, IssueKind.ERROR, NOTHING_TO_GRADE_AGAINST))
            continue
        if current is None:
            plan.new += 1
            if rows:
                plan.new_rows.append(question.row_at(scenario_id, number))
            continue
        changes = _changes(question, question.row_at(scenario_id, number), current)
        if changes:
            plan.updated += 1
            plan.updates.append((current["id"], changes))
        else:
            plan.unchanged += 1


def _placement_problem(key: tuple[int, int], placed: Mapping[tuple[int, int], int]) -> str | None:
    scenario_id, number = key
    if max(key) > MAX_INT32:  # placed after a scenario or question numbered at the limit
        return f"no number left after scenario {scenario_id} question {number - 1}; number it"
    if key in placed:
        return f"scenario {scenario_id} question {number} is also on line {placed[key]}"
    return None


def _changes(
    question: BankQuestion, row: dict[str, Any], current: dict[str, Any]
) -> dict[str, Any]:
    """Columns the item sets to a new value; fields it left empty keep the stored value."""
    changes: dict[str, Any] = {}
    given = question.model_fields_set
    for name, columns in COLUMNS.items():
        if name not in given:
            continue
        value = getattr(question, name)
        if value is None or value == ():
            continue
        if (
            name == "keywords"
            and all(k.derived for k in value)
            and _curated(_json(current, "keywords"))
        ):
            continue  # keywords derived for a file without any never replace an examiner's
        for column in columns:
            new = row[column]
            if current[column] == new or _same(column, current[column], new, current):
                continue
            changes[column] = new
    return changes


def _nothing_to_grade_against(question: BankQuestion, current: dict[str, Any] | None) -> bool:
    """Neither the item nor the stored question it updates has keywords or a model answer."""
    if question.keywords or question.model_answer:
        return False
    return current is None or not (_json(current, "keywords") or current["model_answer"])


def _curated(keywords: list[dict[str, Any]] | None) -> bool:
    """Stored keywords that an examiner wrote or checked (not all derived)."""
    return any(not k.get("derived") for k in keywords or ())
