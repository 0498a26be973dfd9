"""Regrading a question's stored answers after its keywords, synonyms or model answer change.

Every evaluated answer to the question is graded again with the app's grader against the
question as it is now (the grader runs in the inference pool, off the event loop). A dry run
lists the score changes and their effect on results and writes nothing; applying stores the
new evaluations, re-sums the affected results and writes audit rows, all in the caller's one
transaction. Manual overrides are never touched.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.audits.service import Auditor
from newspeech.grading import AsyncGrader, Grade, GradingQuestion
from newspeech.models import Answer, Evaluation, EvaluatorType, FeedbackType, Question
from newspeech.results.service import ResultChange, StatisticsCache, recompute_results
from newspeech.review.repository import ReviewRepository
from newspeech.review.rules import FLAG_REASON_PREFIX, review_reasons
from newspeech.review.service import grade_snapshot

# Answers graded at once: enough to keep the inference pool busy, few enough that an LLM
# server is not flooded.
CONCURRENCY = 8


@dataclass(frozen=True)
class ScoreChange:
    answer_id: int
    session_id: int
    session_code: str
    old_score: int
    new_score: int
    old_feedback_type: FeedbackType
    new_feedback_type: FeedbackType


@dataclass
class RegradeReport:
    question_id: int
    applied: bool
    graded: int = 0
    skipped_manual: int = 0
    changes: list[ScoreChange] = field(default_factory=list)
    results: list[ResultChange] = field(default_factory=list)


def grading_question(question: Question) -> GradingQuestion:
    return GradingQuestion.from_mapping(
        {
            "question_text": question.question_text,
            "keywords": question.keywords,
            "expected_keywords": question.expected_keywords,
            "model_answer": question.model_answer,
            "answer_guidelines": question.answer_guidelines,
            "max_score": question.max_score,
        }
    )


async def _grade_all(
    grader: AsyncGrader, question: GradingQuestion, answers: list[Answer]
) -> list[Grade]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(answer: Answer) -> Grade:
        async with gate:
            return await grader.grade_async(
                question,
                answer.graded_text,
                asr_confidence=answer.confidence_score,
            )

    return list(await asyncio.gather(*(one(answer) for answer in answers)))


def _store(evaluation: Evaluation, grade: Grade) -> None:
    flags = [r for r in evaluation.review_reasons or [] if str(r).startswith(FLAG_REASON_PREFIX)]
    reasons = review_reasons(grade.score, grade.max_score, grade.review_reasons) + flags
    evaluation.score_obtained = grade.score
    evaluation.max_score = grade.max_score
    evaluation.percentage_correct = grade.percentage
    evaluation.feedback_type = grade.feedback_type
    evaluation.evaluator_type = grade.evaluator
    evaluation.feedback = grade.written_feedback
    evaluation.matched_keywords = list(grade.matched)
    evaluation.missing_keywords = list(grade.missing)
    evaluation.review_reasons = reasons or None
    evaluation.needs_review = bool(reasons) or evaluation.needs_review


async def regrade_question(
    db: AsyncSession,
    question: Question,
    grader: AsyncGrader,
    *,
    apply: bool,
    auditor: Auditor | None = None,
    actor_id: int | None = None,
    cache: StatisticsCache | None = None,
) -> RegradeReport:
    """Grade every stored answer to ``question`` again; see the module docstring."""
    report = RegradeReport(question.id, applied=apply)
    rows = await ReviewRepository(db).graded_answers(question.id)
    machine = [(a, e, code) for a, e, code in rows if e.evaluator_type is not EvaluatorType.MANUAL]
    report.skipped_manual = len(rows) - len(machine)
    grades = await _grade_all(grader, grading_question(question), [a for a, _e, _c in machine])
    report.graded = len(grades)
    changed: list[tuple[Answer, Evaluation, Grade, ScoreChange]] = []
    for (answer, evaluation, code), grade in zip(machine, grades, strict=True):
        if (grade.score, grade.feedback_type) == (
            evaluation.score_obtained,
            evaluation.feedback_type,
        ):
            continue
        change = ScoreChange(
            answer.id,
            answer.session_id,
            code,
            evaluation.score_obtained,
            grade.score,
            evaluation.feedback_type,
            grade.feedback_type,
        )
        report.changes.append(change)
        changed.append((answer, evaluation, grade, change))
    sessions = {change.session_id for change in report.changes}
    if not apply:
        scores = {change.answer_id: change.new_score for change in report.changes}
        results = await recompute_results(db, sessions, scores=scores, apply=False)
        report.results = [r for r in results if r.changed]
        return report
    befores = {}
    for _answer, evaluation, grade, _change in changed:
        befores[evaluation.id] = grade_snapshot(evaluation)
        _store(evaluation, grade)
    await db.flush()
    report.results = [r for r in await recompute_results(db, sessions, cache=cache) if r.changed]
    if auditor is not None:
        await _audit(auditor, actor_id, question, report, changed, befores)
    return report


async def _audit(
    auditor: Auditor,
    actor_id: int | None,
    question: Question,
    report: RegradeReport,
    changed: list[tuple[Answer, Evaluation, Grade, ScoreChange]],
    befores: dict[int, dict[str, object]],
) -> None:
    results = {r.session_id: r for r in report.results}
    for answer, evaluation, _grade, _change in changed:
        result = results.get(answer.session_id)
        await auditor.record(
            "evaluation.regrade",
            actor_id=actor_id,
            resource_type="evaluation",
            resource_id=evaluation.id,
            exam_session_id=answer.session_id,
            details={
                "answer_id": answer.id,
                "question_id": question.id,
                "before": befores[evaluation.id],
                "after": grade_snapshot(evaluation),
                "result": None if result is None else result.audit(),
            },
            flush=False,  # one flush below inserts them all
        )
    await auditor.record(
        "question.regrade",
        actor_id=actor_id,
        resource_type="question",
        resource_id=question.id,
        details={
            "college_type": question.college_type,
            "graded": report.graded,
            "changed": len(report.changes),
            "results_changed": len(report.results),
            "skipped_manual": report.skipped_manual,
        },
    )
