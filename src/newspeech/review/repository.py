"""Queries of the review queue: pending evaluations by question, and one question's answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from newspeech.auth.scope import Scope
from newspeech.models import Answer, Evaluation, ExamSession, Question, User


@dataclass(frozen=True)
class QueuedQuestion:
    question_id: int
    college_type: str
    scenario_id: int
    question_number: int
    question_text: str
    max_score: int
    pending: int


@dataclass(frozen=True)
class ReviewItem:
    answer: Answer
    evaluation: Evaluation
    exam_session: ExamSession
    student: User


def _pending() -> Any:
    return Evaluation.needs_review.is_(True) & Evaluation.reviewed_at.is_(None)


def _in_scope(scope: Scope) -> list[ColumnElement[bool]]:
    clause = scope.where(ExamSession.college_type, ExamSession.user_id)
    return [] if clause is None else [clause]


class ReviewRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def queue(self, scope: Scope) -> list[QueuedQuestion]:
        """Questions with pending evaluations in the caller's colleges, most pending first."""
        pending = func.count(Evaluation.id).label("pending")
        query = (
            select(
                Question.id,
                Question.college_type,
                Question.scenario_id,
                Question.question_number,
                Question.question_text,
                Question.max_score,
                pending,
            )
            .join(Answer, Answer.question_bank_id == Question.id)
            .join(Evaluation, Evaluation.answer_id == Answer.id)
            .join(ExamSession, ExamSession.id == Answer.session_id)
            .where(_pending())
            .group_by(
                Question.id,
                Question.college_type,
                Question.scenario_id,
                Question.question_number,
                Question.question_text,
                Question.max_score,
            )
            .order_by(
                pending.desc(),
                Question.college_type,
                Question.scenario_id,
                Question.question_number,
            )
        )
        rows = await self.db.execute(query.where(*_in_scope(scope)))
        return [QueuedQuestion(*row) for row in rows]

    async def items(
        self, question_id: int, scope: Scope, *, include_reviewed: bool
    ) -> list[ReviewItem]:
        """The question's answers in the queue (and, with ``include_reviewed``, the ones
        already reviewed), in answer id order."""
        waiting = Evaluation.needs_review.is_(True)
        wanted = (
            or_(waiting, Evaluation.reviewed_at.is_not(None)) if include_reviewed else _pending()
        )
        query = (
            select(Answer, Evaluation, ExamSession, User)
            .join(Evaluation, Evaluation.answer_id == Answer.id)
            .join(ExamSession, ExamSession.id == Answer.session_id)
            .join(User, User.id == ExamSession.user_id)
            .where(Answer.question_bank_id == question_id, wanted)
            .order_by(Answer.id)
        )
        rows = await self.db.execute(query.where(*_in_scope(scope)))
        return [ReviewItem(*row) for row in rows]

    async def answer(self, answer_id: int) -> Answer | None:
        """The answer with its evaluation and sitting (for scope checks and overrides)."""
        query = (
            select(Answer)
            .where(Answer.id == answer_id)
            .options(joinedload(Answer.evaluation), joinedload(Answer.exam_session))
        )
        return (await self.db.scalars(query)).unique().one_or_none()

    async def graded_answers(self, question_id: int) -> list[tuple[Answer, Evaluation, str]]:
        """Every evaluated answer to the question, with its sitting's code, in id order."""
        query = (
            select(Answer, Evaluation, ExamSession.session_code)
            .join(Evaluation, Evaluation.answer_id == Answer.id)
            .join(ExamSession, ExamSession.id == Answer.session_id)
            .where(Answer.question_bank_id == question_id)
            .order_by(Answer.id)
        )
        return [(a, e, code) for a, e, code in (await self.db.execute(query))]
