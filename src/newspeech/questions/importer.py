"""Import parsed question files into the bank, and export a college's bank to a file.

An import is all or nothing: with any error (in the file, or an unknown college, or two items
with the same place) nothing is written, and the report lists every problem with its line. A dry
run reports the same counts without writing. Questions are matched on (college, scenario,
question number); items without numbers are placed by scenario name and question text, so
importing the same file twice changes nothing the second time. Fields a file leaves empty keep
their stored values; keywords derived from the model answer (for an item without keywords)
never replace keywords an examiner wrote. An item with neither keywords nor a model answer is
an error (on its line) unless it updates a stored question that has either. Planning (and
exporting) runs in a worker thread, in one pass over the rows, so a large file never holds up
the event loop.
"""

from __future__ import annotations

import asyncio
import pickle
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.audits.repository import AuditLogRepository
from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.db.base import utcnow
from newspeech.errors import InvalidState, NotFound
from newspeech.models import Question
from newspeech.questions.import_plan import (
    BATCH,
    SNAPSHOT_COLUMNS,
    ParsedFile,
    Plan,
    plan_import,
)
from newspeech.questions.interchange import (
    BankQuestion,
    ImportFormat,
    ImportIssue,
    IssueKind,
    ParseResult,
    export_questions,
)
from newspeech.questions.interchange.model import describe_validation
from newspeech.questions.repository import QuestionRepository


@dataclass
class ImportReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    applied: bool = False
    issues: list[ImportIssue] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    """How long each stage took: ``read`` (the stored questions), ``plan``, ``write``."""

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


Runner = Callable[..., Awaitable[Any]]
"""Runs ``fn(*args, **kwargs)`` off the event loop: ``asyncio.to_thread`` or a process pool."""


async def import_questions(
    db: AsyncSession,
    parsed: ParseResult | ParsedFile,
    *,
    dry_run: bool = False,
    audits: AuditLogRepository | None = None,
    user_id: int | None = None,
    run: Runner = asyncio.to_thread,
) -> ImportReport:
    """Write ``parsed`` into the bank (flushes; the caller commits). See the module docstring.
    Planning runs through ``run``: a worker thread by default, a worker process from the API."""
    report = ImportReport(dry_run=dry_run, issues=list(parsed.issues))
    colleges = (
        parsed.colleges
        if isinstance(parsed, ParsedFile)
        else {item.question.college_type for item in parsed.questions}
    )
    questions = QuestionRepository(db)
    started = time.perf_counter()
    stored: dict[str, list[bytes]] = {}
    for college in sorted(colleges):
        if await CollegeTypeRepository(db).get(college) is not None:
            # One query per college, streamed, pickled batch by batch here between reads rather
            # than in one piece on the way to the worker (one pickling call holds the GIL, and
            # so the event loop, throughout).
            stored[college] = [
                pickle.dumps(rows, protocol=5)
                async for rows in questions.snapshots(college, SNAPSHOT_COLUMNS, batch=BATCH)
            ]
    report.seconds["read"] = time.perf_counter() - started
    started = time.perf_counter()
    plan: Plan = await run(plan_import, parsed, stored, rows=not dry_run)
    report.seconds["plan"] = time.perf_counter() - started
    report.issues += plan.issues
    report.new, report.updated, report.unchanged = plan.new, plan.updated, plan.unchanged
    if report.errors or dry_run:
        return report
    started = time.perf_counter()
    now = utcnow()
    # In batches: between them the event loop serves other requests.
    for updates in plan.update_batches():
        await questions.update_many(
            [{"id": id_, "updated_at": now, **changes} for id_, changes in updates]
        )
    for rows in plan.row_batches():
        await questions.bulk_insert(rows)
    report.seconds["write"] = time.perf_counter() - started
    report.applied = True
    if audits is not None:
        await audits.log(
            "questions.import",
            user_id=user_id,
            resource_type="question_banks",
            details={"new": report.new, "updated": report.updated, "colleges": sorted(colleges)},
        )
    return report


async def export_college(db: AsyncSession, college_type: str, fmt: ImportFormat) -> bytes:
    """The college's whole bank as a GIFT, Moodle XML or CSV file."""
    if await CollegeTypeRepository(db).get(college_type) is None:
        raise NotFound(f"college type {college_type!r} does not exist")
    stored = await QuestionRepository(db).for_college(college_type)
    return await asyncio.to_thread(_export, stored, fmt)


def _export(stored: list[Question], fmt: ImportFormat) -> bytes:
    questions = []
    for question in stored:
        try:
            questions.append(BankQuestion.from_row(question))
        except ValidationError as exc:  # stored before the API validated keywords like this
            raise InvalidState(
                f"question {question.id} cannot be exported until it is corrected: "
                f"{describe_validation(exc)}"
            ) from exc
    return export_questions(questions, fmt)
