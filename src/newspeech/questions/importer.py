"""Import parsed question files into the bank, and export a college's bank to a file.

An import is all or nothing: with any error (in the file, or an unknown college, or two items
with the same place) nothing is written, and the report lists every problem with its line. A dry
run reports the same counts without writing. Questions are matched on (college, scenario,
question number); items without numbers are placed by scenario name and question text, so
importing the same file twice changes nothing the second time. Fields a file leaves empty keep
their stored values; keywords derived from the model answer (for an item without keywords)
never replace keywords an examiner wrote. An item with neither keywords nor a model answer is
an error (on its line) unless it updates a stored question that has either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.audits.repository import AuditLogRepository
from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.errors import NotFound
from newspeech.models import Question
from newspeech.questions.interchange import (
    BankQuestion,
    ImportFormat,
    ImportIssue,
    IssueKind,
    ParsedQuestion,
    ParseResult,
    export_questions,
)
from newspeech.questions.interchange.model import NOTHING_TO_GRADE_AGAINST
from newspeech.questions.repository import QuestionRepository

# Model field -> question_banks columns it sets.
_COLUMNS: dict[str, tuple[str, ...]] = {
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


@dataclass
class ImportReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    applied: bool = False
    issues: list[ImportIssue] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(issue.kind is IssueKind.ERROR for issue in self.issues)

    @property
    def skipped(self) -> int:
        return sum(issue.kind is IssueKind.SKIPPED for issue in self.issues)

    @property
    def warnings(self) -> int:
        return sum(issue.kind is IssueKind.WARNING for issue in self.issues)

    def summary(self) -> str:
        verb = "would import" if not self.applied else "imported"
        if self.errors:
            verb = "rejected (nothing written)"
        return (
            f"{verb}: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.errors} errors, {self.skipped} skipped, {self.warnings} warnings"
        )


@dataclass
class _Plan:
    new_rows: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[Question, dict[str, Any]]] = field(default_factory=list)
    unchanged: int = 0


async def import_questions(
    db: AsyncSession,
    parsed: ParseResult,
    *,
    dry_run: bool = False,
    audits: AuditLogRepository | None = None,
    user_id: int | None = None,
) -> ImportReport:
    """Write ``parsed`` into the bank (flushes; the caller commits). See the module docstring."""
    report = ImportReport(dry_run=dry_run, issues=list(parsed.issues))
    plan = _Plan()
    by_college: dict[str, list[ParsedQuestion]] = {}
    for item in parsed.questions:
        by_college.setdefault(item.question.college_type, []).append(item)
    questions = QuestionRepository(db)
    for college, items in by_college.items():
        if await CollegeTypeRepository(db).get(college) is None:
            report.issues += [
                ImportIssue(i.line, IssueKind.ERROR, f"unknown college type {college!r}")
                for i in items
            ]
            continue
        existing = await questions.for_college(college)
        _plan_college(items, existing, plan, report)
    report.new, report.updated, report.unchanged = (
        len(plan.new_rows),
        len(plan.updates),
        plan.unchanged,
    )
    if report.errors or dry_run:
        return report
    for question, changes in plan.updates:
        for column, value in changes.items():
            setattr(question, column, value)
    await db.flush()
    await questions.bulk_insert(plan.new_rows)
    report.applied = True
    if audits is not None:
        await audits.log(
            "questions.import",
            user_id=user_id,
            resource_type="question_banks",
            details={"new": report.new, "updated": report.updated, "colleges": sorted(by_college)},
        )
    return report


def _plan_college(
    items: list[ParsedQuestion], existing: list[Question], plan: _Plan, report: ImportReport
) -> None:
    scenario_ids = {q.scenario_name: q.scenario_id for q in existing}
    stored = {(q.scenario_id, q.question_number): q for q in existing}
    by_text = {(q.scenario_id, q.question_text): q.question_number for q in existing}
    taken = set(stored)
    placed: dict[tuple[int, int], int] = {}
    for item in items:
        question = item.question
        scenario_id = question.scenario_id or scenario_ids.get(question.scenario_name)
        if scenario_id is None:
            scenario_id = max((s for s, _n in taken), default=0) + 1
        scenario_ids.setdefault(question.scenario_name, scenario_id)
        number = question.question_number or by_text.get((scenario_id, question.question_text))
        if number is None:
            number = max((n for s, n in taken if s == scenario_id), default=0) + 1
        key = (scenario_id, number)
        if key in placed:
            report.issues.append(
                ImportIssue(
                    item.line,
                    IssueKind.ERROR,
                    f"scenario {scenario_id} question {number} is also on line {placed[key]}",
                )
            )
            continue
        placed[key] = item.line
        taken.add(key)
        placed_question = question.model_copy(
            update={"scenario_id": scenario_id, "question_number": number}
        )
        current = stored.get(key)
        if _nothing_to_grade_against(question, current):
            report.issues.append(ImportIssue(item.line, IssueKind.ERROR, NOTHING_TO_GRADE_AGAINST))
            continue
        if current is None:
            plan.new_rows.append(placed_question.row())
            continue
        changes = _changes(question, placed_question.row(), current)
        if changes:
            plan.updates.append((current, changes))
        else:
            plan.unchanged += 1


def _changes(question: BankQuestion, row: dict[str, Any], current: Question) -> dict[str, Any]:
    """Columns the item sets to a new value; fields it left empty keep the stored value."""
    changes: dict[str, Any] = {}
    for name, columns in _COLUMNS.items():
        value = getattr(question, name)
        if name not in question.model_fields_set or value is None or value == ():
            continue
        if name == "keywords" and _curated(current.keywords) and all(k.derived for k in value):
            continue  # keywords derived for a file without any never replace an examiner's
        for column in columns:
            if getattr(current, column) != row[column]:
                changes[column] = row[column]
    return changes


def _nothing_to_grade_against(question: BankQuestion, current: Question | None) -> bool:
    """Neither the item nor the stored question it updates has keywords or a model answer."""
    if question.keywords or question.model_answer:
        return False
    return current is None or not (current.keywords or current.model_answer)


def _curated(keywords: list[dict[str, Any]] | None) -> bool:
    """Stored keywords that an examiner wrote or checked (not all derived)."""
    return any(not k.get("derived") for k in keywords or ())


async def export_college(db: AsyncSession, college_type: str, fmt: ImportFormat) -> bytes:
    """The college's whole bank as a GIFT, Moodle XML or CSV file."""
    if await CollegeTypeRepository(db).get(college_type) is None:
        raise NotFound(f"college type {college_type!r} does not exist")
    stored = await QuestionRepository(db).for_college(college_type)
    return export_questions([BankQuestion.from_row(q) for q in stored], fmt)
