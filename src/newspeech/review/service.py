"""The review queue, flags and overrides: what an examiner does with one answer.

Examiners act on the answers of their colleges, admins on all; another college's answer reads
as absent (404). Every change writes its audit row in the same transaction, and an override
re-sums the sitting's result there too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.audits.service import Auditor
from newspeech.auth.scope import Scope
from newspeech.configuration.current import current_config
from newspeech.errors import InvalidState, NotFound, ValidationFailed
from newspeech.kit.clock import WallClock
from newspeech.models import Answer, Evaluation, EvaluatorType, Question, Result, User
from newspeech.results.repository import ResultRepository
from newspeech.results.service import ResultChange, StatisticsCache, recompute_results
from newspeech.review.repository import QueuedQuestion, ReviewItem, ReviewRepository
from newspeech.review.rules import flag_reason


@dataclass(frozen=True)
class OverrideOutcome:
    evaluation: Evaluation
    result: Result | None
    change: ResultChange | None


def grade_snapshot(evaluation: Evaluation) -> dict[str, Any]:
    """The evaluation's grade as audit details and ``machine_grade`` keep it."""
    return {
        "score": evaluation.score_obtained,
        "max_score": evaluation.max_score,
        "feedback_type": evaluation.feedback_type.value,
        "evaluator_type": evaluation.evaluator_type.value,
        "feedback": evaluation.feedback,
    }


def default_seed(user_id: int) -> int:
    """The order an examiner sees when no seed is given: stable for them across pages."""
    return user_id * 2_654_435_761 % 2**32


class ReviewService:
    def __init__(
        self,
        db: AsyncSession,
        auditor: Auditor,
        scope: Scope,
        clock: WallClock,
        cache: StatisticsCache | None = None,
    ) -> None:
        self.db = db
        self.auditor = auditor
        self.scope = scope
        self.clock = clock
        self.cache = cache
        self.repository = ReviewRepository(db)

    async def queue(self) -> list[QueuedQuestion]:
        return await self.repository.queue(self.scope)

    async def question(self, question_id: int) -> Question:
        question = await self.db.get(Question, question_id)
        if question is None or not self.scope.manages_college(question.college_type):
            raise NotFound(f"question {question_id} does not exist")
        return question

    async def answers(
        self, question_id: int, *, seed: int, include_reviewed: bool = False
    ) -> list[ReviewItem]:
        """The question's queued answers in a random order that ``seed`` fixes (Moodle's
        manual grading: one question across all candidates, in no telling order)."""
        await self.question(question_id)
        items = await self.repository.items(
            question_id, self.scope, include_reviewed=include_reviewed
        )
        random.Random(seed).shuffle(items)
        return items

    async def _answer(self, answer_id: int) -> Answer:
        answer = await self.repository.answer(answer_id)
        if answer is None or not self.scope.manages_college(answer.exam_session.college_type):
            raise NotFound(f"answer {answer_id} does not exist")
        return answer

    async def _evaluation(self, answer: Answer) -> Evaluation:
        if answer.evaluation is None:
            raise InvalidState(
                f"answer {answer.id} has not been graded yet; there is no score to review "
                "(the exam grades it, or regrade its question)"
            )
        query = (
            select(Evaluation)
            .where(Evaluation.id == answer.evaluation.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.db.scalars(query)).one()

    async def flag(self, actor: User, answer_id: int, reason: str) -> Evaluation:
        """Put a graded answer in the review queue (again, if it was reviewed)."""
        reason = reason.strip()
        if not reason:
            raise ValidationFailed("say why the answer needs review")
        answer = await self._answer(answer_id)
        evaluation = await self._evaluation(answer)
        evaluation.needs_review = True
        evaluation.review_reasons = [*(evaluation.review_reasons or []), flag_reason(reason)]
        evaluation.flagged_by = actor.id
        evaluation.flagged_at = self.clock()
        evaluation.reviewed_at = None
        evaluation.reviewed_by = None
        await self.db.flush()
        await self.auditor.record(
            "answer.flag",
            actor_id=actor.id,
            resource_type="evaluation",
            resource_id=evaluation.id,
            exam_session_id=answer.session_id,
            details={"answer_id": answer.id, "reason": reason},
        )
        return evaluation

    async def override(
        self, actor: User, answer_id: int, score: int, comment: str
    ) -> OverrideOutcome:
        """Set the score by hand: the evaluation becomes manual and reviewed, the machine's
        first grade is kept in ``machine_grade``, the sitting's result is re-summed."""
        comment = comment.strip()
        if not comment:
            raise ValidationFailed("an override needs a comment saying why")
        answer = await self._answer(answer_id)
        evaluation = await self._evaluation(answer)
        if not 0 <= score <= evaluation.max_score:
            raise ValidationFailed(f"score {score} is outside 0..{evaluation.max_score}")
        before = grade_snapshot(evaluation)
        if evaluation.machine_grade is None and evaluation.evaluator_type is not (
            EvaluatorType.MANUAL
        ):
            evaluation.machine_grade = before
        # An override is decided now: its feedback band (and the re-summed result) follow the
        # values stored now, not those the sitting started with (docs/operations.md).
        thresholds = (await current_config(self.db)).thresholds
        evaluation.score_obtained = score
        evaluation.percentage_correct = 100.0 * score / evaluation.max_score
        evaluation.feedback_type = thresholds.classify(score / evaluation.max_score)
        evaluation.evaluator_type = EvaluatorType.MANUAL
        evaluation.review_comment = comment
        evaluation.reviewed_by = actor.id
        evaluation.reviewed_at = evaluation.overridden_at = self.clock()
        evaluation.overrider = actor
        await self.db.flush()
        changes = await recompute_results(self.db, [answer.session_id], cache=self.cache)
        change = changes[0] if changes else None
        await self.auditor.record(
            "answer.override",
            actor_id=actor.id,
            resource_type="evaluation",
            resource_id=evaluation.id,
            exam_session_id=answer.session_id,
            details={
                "answer_id": answer.id,
                "comment": comment,
                "before": before,
                "after": grade_snapshot(evaluation),
                "machine_grade": evaluation.machine_grade,
                "result": None if change is None else change.audit(),
            },
        )
        result = await ResultRepository(self.db).by_session(answer.session_id)
        if result is not None and result.certificate_path is not None:
            # The certificate names every changed mark: issue it again on the next download.
            result.certificate_path = None
            await self.db.flush()
        return OverrideOutcome(evaluation, result, change)
