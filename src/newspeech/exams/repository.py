"""Queries for exam sittings, their answers and the answers' evaluations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from newspeech.db.base import utcnow
from newspeech.db.errors import integrity_as_conflict
from newspeech.errors import NotFound
from newspeech.exams.states import ensure_accepts_answers, ensure_transition
from newspeech.kit.ids import new_session_code
from newspeech.models import (
    Answer,
    Evaluation,
    EvaluatorType,
    ExamSession,
    FeedbackType,
    SessionStatus,
)

ACTIVE_STATUSES = (SessionStatus.PENDING, SessionStatus.IN_PROGRESS)


class ExamSessionRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def create(
        self,
        *,
        user_id: int,
        college_type: str,
        total_questions: int = 12,
        exam_form: dict[str, Any] | None = None,
        attempt_number: int | None = None,
        config_snapshot: dict[str, Any] | None = None,
    ) -> ExamSession:
        """A pending sitting as the candidate's ``attempt_number`` at the college (default: the
        one after their last). Two creations of the same attempt: one raises ``Conflict``."""
        if attempt_number is None:
            last = await self.db.scalar(
                select(func.max(ExamSession.attempt_number)).where(
                    ExamSession.user_id == user_id, ExamSession.college_type == college_type
                )
            )
            attempt_number = (last or 0) + 1
        exam_session = ExamSession(
            user_id=user_id,
            college_type=college_type,
            session_code=new_session_code(),
            status=SessionStatus.PENDING,
            total_questions=total_questions,
            attempt_number=attempt_number,
            exam_form=exam_form,
            config_snapshot=config_snapshot,
        )
        self.db.add(exam_session)
        async with integrity_as_conflict("cannot create exam session"):
            await self.db.flush()
        return exam_session

    async def get(self, exam_session_id: int) -> ExamSession | None:
        return await self.db.get(ExamSession, exam_session_id)

    async def get_detailed(self, exam_session_id: int) -> ExamSession | None:
        """The sitting with its user, result, and answers → evaluation, in two queries."""
        query = (
            select(ExamSession)
            .where(ExamSession.id == exam_session_id)
            .options(
                joinedload(ExamSession.user),
                joinedload(ExamSession.result),
                selectinload(ExamSession.answers).joinedload(Answer.evaluation),
            )
            .execution_options(populate_existing=True)
        )
        return (await self.db.scalars(query)).unique().one_or_none()

    async def get_by_code(self, session_code: str) -> ExamSession | None:
        query = select(ExamSession).where(ExamSession.session_code == session_code)
        return (await self.db.scalars(query)).one_or_none()

    async def list_active(self, *, college_type: str | None = None) -> list[ExamSession]:
        query = (
            select(ExamSession)
            .where(ExamSession.status.in_(ACTIVE_STATUSES))
            .order_by(ExamSession.created_at, ExamSession.id)
        )
        if college_type is not None:
            query = query.where(ExamSession.college_type == college_type)
        return list(await self.db.scalars(query))

    async def unfinished_for(self, user_id: int, college_type: str) -> ExamSession | None:
        """The candidate's latest pending or in-progress sitting of the college, if any."""
        query = (
            select(ExamSession)
            .where(
                ExamSession.user_id == user_id,
                ExamSession.college_type == college_type,
                ExamSession.status.in_(ACTIVE_STATUSES),
            )
            .order_by(ExamSession.created_at.desc(), ExamSession.id.desc())
            .limit(1)
        )
        return (await self.db.scalars(query)).first()

    async def count_for(self, user_id: int, college_type: str) -> int:
        """How many sittings of the college the candidate has (every status)."""
        query = select(func.count(ExamSession.id)).where(
            ExamSession.user_id == user_id, ExamSession.college_type == college_type
        )
        return int(await self.db.scalar(query) or 0)

    async def form_of(self, exam_session_id: int) -> dict[str, Any] | None:
        """The sitting's stored exam form (``None``: created before forms were stored)."""
        query = select(ExamSession.exam_form).where(ExamSession.id == exam_session_id)
        form: dict[str, Any] | None = await self.db.scalar(query)
        return form

    async def unfinished_forms(self, college_type: str) -> list[tuple[str, dict[str, Any] | None]]:
        """``(session_code, exam_form)`` of the college's pending and in-progress sittings."""
        query = (
            select(ExamSession.session_code, ExamSession.exam_form)
            .where(
                ExamSession.college_type == college_type,
                ExamSession.status.in_(ACTIVE_STATUSES),
            )
            .order_by(ExamSession.id)
        )
        return [(row[0], row[1]) for row in await self.db.execute(query)]

    async def set_form(self, exam_session_id: int, exam_form: dict[str, Any]) -> None:
        """Store the form of a sitting created before forms were stored."""
        await self._update(exam_session_id, {"exam_form": exam_form})

    async def config_of(self, exam_session_id: int) -> dict[str, Any] | None:
        """The configuration the sitting started with (``None``: created before it was
        stored)."""
        query = select(ExamSession.config_snapshot).where(ExamSession.id == exam_session_id)
        snapshot: dict[str, Any] | None = await self.db.scalar(query)
        return snapshot

    async def set_config(self, exam_session_id: int, snapshot: dict[str, Any]) -> None:
        """Store the configuration of a sitting created before it was stored."""
        await self._update(exam_session_id, {"config_snapshot": snapshot})

    async def recent_for_user(self, user_id: int, *, limit: int = 10) -> list[ExamSession]:
        query = (
            select(ExamSession)
            .where(ExamSession.user_id == user_id)
            .order_by(ExamSession.created_at.desc(), ExamSession.id.desc())
            .limit(limit)
        )
        return list(await self.db.scalars(query))

    async def require(self, exam_session_id: int) -> ExamSession:
        exam_session = await self.get(exam_session_id)
        if exam_session is None:
            raise NotFound(f"exam session {exam_session_id} does not exist")
        return exam_session

    async def start(self, exam_session_id: int, *, at: dt.datetime | None = None) -> ExamSession:
        exam_session = await self.require(exam_session_id)
        ensure_transition(exam_session.session_code, exam_session.status, SessionStatus.IN_PROGRESS)
        exam_session.status = SessionStatus.IN_PROGRESS
        exam_session.start_time = at or utcnow()
        await self.db.flush()
        return exam_session

    async def complete(self, exam_session_id: int, *, at: dt.datetime | None = None) -> ExamSession:
        return await self._finish(exam_session_id, SessionStatus.COMPLETED, at)

    async def terminate(
        self, exam_session_id: int, *, at: dt.datetime | None = None
    ) -> ExamSession:
        return await self._finish(exam_session_id, SessionStatus.TERMINATED, at)

    async def _finish(
        self, exam_session_id: int, target: SessionStatus, at: dt.datetime | None
    ) -> ExamSession:
        exam_session = await self.require(exam_session_id)
        ensure_transition(exam_session.session_code, exam_session.status, target)
        end = at or utcnow()
        exam_session.status = target
        exam_session.end_time = end
        if exam_session.start_time is not None:
            elapsed = (end - exam_session.start_time).total_seconds()
            exam_session.duration_seconds = max(0, round(elapsed))
        await self.db.flush()
        return exam_session

    async def update_metrics(
        self,
        exam_session_id: int,
        *,
        voice_detected_count: int | None = None,
        avg_latency_ms: float | None = None,
        max_latency_ms: float | None = None,
    ) -> None:
        values: dict[str, Any] = {}
        if voice_detected_count is not None:
            values["voice_detected_count"] = voice_detected_count
        if avg_latency_ms is not None:
            values["avg_latency_ms"] = avg_latency_ms
        if max_latency_ms is not None:
            values["max_latency_ms"] = max_latency_ms
        if values:
            await self._update(exam_session_id, values)

    async def record_turn_latency(self, exam_session_id: int, latency_ms: float) -> None:
        """Count one detected utterance and fold its latency into the running mean and max.

        Done in SQL so concurrent writers never lose an update.
        """
        count = ExamSession.voice_detected_count
        await self._update(
            exam_session_id,
            {
                "avg_latency_ms": (ExamSession.avg_latency_ms * count + latency_ms) / (count + 1),
                "max_latency_ms": case(
                    (ExamSession.max_latency_ms < latency_ms, latency_ms),
                    else_=ExamSession.max_latency_ms,
                ),
                "voice_detected_count": count + 1,  # last: the two above read the old count
            },
        )

    async def _update(self, exam_session_id: int, values: dict[str, Any]) -> None:
        # MySQL evaluates SET assignments left to right, each seeing the ones before it; keep
        # the caller's order so expressions read the old values on every backend.
        pairs = [(getattr(ExamSession, key), value) for key, value in values.items()]
        pairs.append((ExamSession.updated_at, utcnow()))
        result = await self.db.execute(
            update(ExamSession).where(ExamSession.id == exam_session_id).ordered_values(*pairs),
            execution_options={"synchronize_session": False},
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"exam session {exam_session_id} does not exist")


class AskedQuestion(Protocol):
    """What an answer keeps of its question: a bank row, or a sitting's form question."""

    @property
    def id(self) -> int: ...

    @property
    def question_text(self) -> str: ...


@dataclass
class AnswerInput:
    """What the exam loop knows about one answer when it stores it.

    ``question_number`` is the question's position in the sitting (1..12), not in its scenario.
    """

    question: AskedQuestion
    question_number: int
    answer_text: str | None = None
    transcribed_text: str | None = None
    answer_audio_path: str | None = None
    audio_duration_seconds: float = 0.0
    confidence_score: float = 0.0
    is_complete: bool = True
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = field(default_factory=utcnow)


class AnswerRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def store(self, exam_session: ExamSession, answer: AnswerInput) -> Answer:
        return (await self.store_many(exam_session, [answer]))[0]

    async def store_many(
        self, exam_session: ExamSession, answers: Sequence[AnswerInput]
    ) -> list[Answer]:
        """Store answers of one in-progress sitting; all are flushed together or none."""
        ensure_accepts_answers(exam_session.session_code, exam_session.status)
        now = utcnow()
        values = [
            {
                "session_id": exam_session.id,
                "question_bank_id": item.question.id,
                "question_number": item.question_number,
                "question_text": item.question.question_text,
                "answer_text": item.answer_text
                if item.answer_text is not None
                else item.transcribed_text,
                "transcribed_text": item.transcribed_text,
                "answer_audio_path": item.answer_audio_path,
                "audio_duration_seconds": item.audio_duration_seconds,
                "confidence_score": item.confidence_score,
                "is_complete": item.is_complete,
                "started_at": item.started_at,
                "ended_at": item.ended_at,
                "created_at": now,
            }
            for item in answers
        ]
        # An ORM-enabled INSERT ... RETURNING is one statement and skips the unit-of-work
        # flush, which costs more CPU than the round trip on the hot path of every exam turn.
        async with integrity_as_conflict(f"cannot store answers for {exam_session.session_code}"):
            rows = list(await self.db.scalars(insert(Answer).returning(Answer), values))
        await self.db.execute(
            update(ExamSession)
            .where(ExamSession.id == exam_session.id)
            .values(
                # Rows stored for a skipped or unanswered question are not answers.
                questions_answered=ExamSession.questions_answered
                + sum(1 for item in answers if item.is_complete),
                updated_at=now,
            ),
            execution_options={"synchronize_session": False},
        )
        return rows

    async def get(self, answer_id: int) -> Answer | None:
        return await self.db.get(Answer, answer_id)

    async def for_session(self, exam_session_id: int) -> list[Answer]:
        query = (
            select(Answer)
            .where(Answer.session_id == exam_session_id)
            .order_by(Answer.question_number, Answer.id)
        )
        return list(await self.db.scalars(query))

    async def for_question(self, exam_session_id: int, question_number: int) -> Answer | None:
        """The sitting's stored answer to question ``question_number``, if any."""
        query = select(Answer).where(
            Answer.session_id == exam_session_id, Answer.question_number == question_number
        )
        return (await self.db.scalars(query.order_by(Answer.id).limit(1))).first()

    async def rehear(
        self,
        answer_id: int,
        *,
        transcribed_text: str,
        answer_text: str | None = None,
        audio_duration_seconds: float,
        confidence_score: float,
        started_at: dt.datetime | None,
        ended_at: dt.datetime | None,
    ) -> Answer:
        """Put the whole of an answer the candidate went on with in place of its first part. A
        recording stored for another transcript (the first part's) no longer names the answer's
        take: its path is cleared until the whole answer's recording is stored under it."""
        said = await self.db.scalar(select(Answer.transcribed_text).where(Answer.id == answer_id))
        recording = {} if said == transcribed_text else {"answer_audio_path": None}
        await self.db.execute(
            update(Answer)
            .where(Answer.id == answer_id)
            .values(
                **recording,
                answer_text=transcribed_text if answer_text is None else answer_text,
                transcribed_text=transcribed_text,
                audio_duration_seconds=audio_duration_seconds,
                confidence_score=confidence_score,
                started_at=started_at,
                ended_at=ended_at,
                turn_latency=None,
            ),
            execution_options={"synchronize_session": False},
        )
        answer = await self.db.get(Answer, answer_id, populate_existing=True)
        if answer is None:
            raise NotFound(f"answer {answer_id} does not exist")
        return answer

    async def set_turn_latency(self, answer_id: int, latency: dict[str, Any]) -> None:
        """Store the per-turn latency the session loop measured for this answer."""
        await self.db.execute(
            update(Answer).where(Answer.id == answer_id).values(turn_latency=latency),
            execution_options={"synchronize_session": False},
        )

    async def unevaluated(self, exam_session_id: int) -> list[Answer]:
        """Answers of a sitting that have no evaluation yet."""
        query = (
            select(Answer)
            .outerjoin(Evaluation, Evaluation.answer_id == Answer.id)
            .where(Answer.session_id == exam_session_id, Evaluation.id.is_(None))
            .order_by(Answer.question_number, Answer.id)
        )
        return list(await self.db.scalars(query))


@dataclass
class EvaluationInput:
    score_obtained: int
    feedback_type: FeedbackType
    max_score: int = 10
    evaluator_type: EvaluatorType = EvaluatorType.KEYWORD_MATCH
    feedback: str | None = None
    matched_keywords: list[Any] = field(default_factory=list)
    missing_keywords: list[Any] = field(default_factory=list)
    latency_ms: float = 0.0
    processing_time_ms: float = 0.0
    # Non-empty: the evaluation waits in the examiners' review queue (newspeech.review.rules).
    review_reasons: list[str] = field(default_factory=list)


class EvaluationRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def store(self, answer: Answer, evaluation: EvaluationInput) -> Evaluation:
        if not 0 <= evaluation.score_obtained <= evaluation.max_score:
            raise ValueError(
                f"score {evaluation.score_obtained} is outside 0..{evaluation.max_score}"
            )
        now = utcnow()
        values = {
            "answer_id": answer.id,
            "session_id": answer.session_id,
            "evaluator_type": evaluation.evaluator_type,
            "score_obtained": evaluation.score_obtained,
            "max_score": evaluation.max_score,
            "percentage_correct": 100.0 * evaluation.score_obtained / evaluation.max_score
            if evaluation.max_score
            else 0.0,
            "feedback": evaluation.feedback,
            "feedback_type": evaluation.feedback_type,
            "matched_keywords": evaluation.matched_keywords,
            "missing_keywords": evaluation.missing_keywords,
            "latency_ms": evaluation.latency_ms,
            "processing_time_ms": evaluation.processing_time_ms,
            "needs_review": bool(evaluation.review_reasons),
            "review_reasons": list(evaluation.review_reasons) or None,
            "created_at": now,
            "updated_at": now,
        }
        async with integrity_as_conflict(f"cannot store evaluation of answer {answer.id}"):
            return (await self.db.scalars(insert(Evaluation).returning(Evaluation), [values])).one()

    async def delete_for_answer(self, answer_id: int) -> None:
        """Drop an answer's evaluation (the answer is about to be graded again)."""
        await self.db.execute(
            delete(Evaluation).where(Evaluation.answer_id == answer_id),
            execution_options={"synchronize_session": False},
        )

    async def set_latency(self, answer_id: int, latency_ms: float) -> None:
        """The response latency of the answer's turn, once its reply's first audio was sent."""
        await self.db.execute(
            update(Evaluation)
            .where(Evaluation.answer_id == answer_id)
            .values(latency_ms=latency_ms, updated_at=utcnow()),
            execution_options={"synchronize_session": False},
        )

    async def for_session(self, exam_session_id: int) -> list[Evaluation]:
        query = (
            select(Evaluation)
            .where(Evaluation.session_id == exam_session_id)
            .order_by(Evaluation.id)
        )
        return list(await self.db.scalars(query))

    async def session_score(self, exam_session_id: int) -> int:
        query = select(func.coalesce(func.sum(Evaluation.score_obtained), 0)).where(
            Evaluation.session_id == exam_session_id
        )
        return int((await self.db.execute(query)).scalar_one())

    async def scores_by_question(self, exam_session_id: int) -> list[tuple[int, int, int]]:
        """``(question_number, score_obtained, max_score)`` per evaluated answer, in order."""
        query = (
            select(Answer.question_number, Evaluation.score_obtained, Evaluation.max_score)
            .join(Answer, Answer.id == Evaluation.answer_id)
            .where(Evaluation.session_id == exam_session_id)
            .order_by(Answer.question_number, Answer.id)
        )
        return [(row[0], row[1], row[2]) for row in await self.db.execute(query)]
