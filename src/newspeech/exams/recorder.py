"""Writes one sitting as it happens: each method is one short transaction with its audit row.

Nothing is held open between calls, so a crash or a dropped connection loses nothing already
committed, and any process can pick the sitting up again from the database.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.audits.repository import AuditLogRepository
from newspeech.db.engine import after_commit, unit_of_work
from newspeech.errors import InvalidState, NotFound
from newspeech.exams.lease import Lease
from newspeech.exams.repository import (
    AnswerInput,
    AnswerRepository,
    AskedQuestion,
    EvaluationInput,
    EvaluationRepository,
    ExamSessionRepository,
)
from newspeech.grading import Grade
from newspeech.models import Answer, ExamSession, Result, SessionStatus
from newspeech.results.mail import ResultMail
from newspeech.results.mailer import ResultMailer, result_mail
from newspeech.results.repository import ResultRepository
from newspeech.results.rules import QuestionScore, ResultPolicy, ResultSummary
from newspeech.results.service import StatisticsCache, calculate_result, recompute_results
from newspeech.review.record import AnswerMark, answer_mark
from newspeech.review.rules import review_reasons

logger = logging.getLogger(__name__)

BeforeCommit = Callable[[Answer], Awaitable[None]]
"""Run inside an answer's transaction once its row has an id, before it commits (the answer's
recording goes to the spool there: ``newspeech.answers.audio.service.AnswerTake``)."""


@dataclass(eq=False)
class WriteKey:
    """The idempotency key of one essential write of the live exam, the same for its first try
    and every replay (``newspeech.exams.outage``). The first audit row each try writes carries
    it (``audit_logs.write_key``, unique): a try that finds it committed already raises
    :class:`AlreadyWritten` and its transaction rolls back, so a commit whose reply was lost is
    never stored twice, audit rows included."""

    value: str = field(default_factory=lambda: uuid.uuid4().hex)
    carried_by: AsyncSession | None = None
    """The transaction whose audit row carries it (each try is a new one)."""


class AlreadyWritten(Exception):
    """The keyed write committed before (only its reply was lost): nothing more to store."""


_WRITE_KEY: ContextVar[WriteKey | None] = ContextVar("newspeech_exam_write_key", default=None)


@contextmanager
def keyed(key: WriteKey) -> Iterator[WriteKey]:
    """The recorder's writes inside carry ``key`` (their transaction's first audit row)."""
    token = _WRITE_KEY.set(key)
    try:
        yield key
    finally:
        _WRITE_KEY.reset(token)


@dataclass(frozen=True)
class HeardSpan:
    """What was heard for one answer, possibly over two turns (a too-short start and the rest)."""

    text: str
    confidence: float
    audio_seconds: float
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    corrected: str | None = None
    """``text`` with the question's misheard terms read back in (newspeech.voice.terms), when
    that changed anything: what is graded. ``text`` stays as it was heard."""


async def rehear(db: AsyncSession, answer_id: int, heard: HeardSpan) -> Answer:
    """The whole of an answer the candidate went on with replaces what was stored of it; its
    evaluation goes (it is graded again)."""
    answer = await AnswerRepository(db).rehear(
        answer_id,
        transcribed_text=heard.text,
        answer_text=heard.corrected,
        audio_duration_seconds=round(heard.audio_seconds, 3),
        confidence_score=heard.confidence,
        started_at=heard.started_at,
        ended_at=heard.ended_at,
    )
    await EvaluationRepository(db).delete_for_answer(answer_id)
    return answer


def answer_input(question: AskedQuestion, number: int, heard: HeardSpan) -> AnswerInput:
    return AnswerInput(
        question=question,
        question_number=number,
        answer_text=heard.corrected,
        transcribed_text=heard.text,
        audio_duration_seconds=round(heard.audio_seconds, 3),
        confidence_score=heard.confidence,
        started_at=heard.started_at,
        ended_at=heard.ended_at,
    )


class ExamRecorder:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        exam_session_id: int,
        *,
        user_id: int,
        audit_enabled: bool = True,
        lease: Lease | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self.exam_session_id = exam_session_id
        self.user_id = user_id
        self.audit_enabled = audit_enabled
        self.lease = lease
        """The loop's hold on the sitting: every write checks it first (none: unchecked)."""

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """One write transaction of the sitting: it stores nothing (``SittingTakenOver``)
        once another loop has taken the sitting over (``newspeech.exams.lease``)."""
        async with unit_of_work(self._sessionmaker) as db:
            if self.lease is not None:
                await self.lease.check_in(db)
            yield db

    async def audit_in(
        self,
        db: AsyncSession,
        action: str,
        details: Mapping[str, Any] | None = None,
        *,
        resource: tuple[str, int] | None = None,
        status: str = "success",
    ) -> None:
        """An audit row inside the caller's transaction; the first of a keyed write's carries
        its key (:class:`WriteKey`), or raises :class:`AlreadyWritten` if it is stored."""
        audits = AuditLogRepository(db, enabled=self.audit_enabled)
        key = _WRITE_KEY.get()
        write_key = None
        if key is not None and self.audit_enabled and key.carried_by is not db:
            if await self.written(db, key):
                raise AlreadyWritten(f"write {key.value} of sitting {self.exam_session_id}")
            key.carried_by, write_key = db, key.value
        await audits.log(
            action,
            user_id=self.user_id,
            session_id=self.exam_session_id,
            resource_type=resource[0] if resource else None,
            resource_id=resource[1] if resource else None,
            status=status,
            details=dict(details) if details is not None else None,
            write_key=write_key,
        )

    async def written(self, db: AsyncSession, key: WriteKey) -> bool:
        """A try of the write keyed ``key`` committed already (never, without audit rows)."""
        return self.audit_enabled and await AuditLogRepository(db).has_write_key(key.value)

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self._sessionmaker

    async def session_in(self, db: AsyncSession) -> ExamSession:
        exam_session = await ExamSessionRepository(db).get(self.exam_session_id)
        if exam_session is None:
            raise NotFound(f"exam session {self.exam_session_id} no longer exists")
        return exam_session

    async def audit(self, action: str, details: Mapping[str, Any] | None = None) -> None:
        """An audit row on its own (requests, interruptions, disconnects)."""
        if not self.audit_enabled:
            return
        async with self.writing() as db:
            await self.audit_in(db, action, details)

    async def started(self, at: dt.datetime) -> None:
        """The candidate confirmed who they are. Writing it twice changes nothing (a write
        kept through a database outage may be replayed after its commit was lost)."""
        async with self.writing() as db:
            sittings = ExamSessionRepository(db)
            if (await self.session_in(db)).status is SessionStatus.IN_PROGRESS:
                return
            await sittings.start(self.exam_session_id, at=at)
            await self.audit_in(db, "exam.started", {"identity_confirmed": True})

    async def answer(
        self,
        question: AskedQuestion,
        number: int,
        heard: HeardSpan,
        *,
        before_commit: BeforeCommit | None = None,
    ) -> Answer:
        async with self.writing() as db:
            answer = await AnswerRepository(db).store(
                await self.session_in(db), answer_input(question, number, heard)
            )
            await self.audit_answer_stored(db, answer, heard)
            if before_commit is not None:
                await before_commit(answer)
        return answer

    async def audit_answer_stored(
        self, db: AsyncSession, answer: Answer, heard: HeardSpan, **more: Any
    ) -> None:
        await self.audit_in(
            db,
            "exam.answer_stored",
            {"question_number": answer.question_number, "words": len(heard.text.split())}
            | ({"terms_corrected": True} if heard.corrected is not None else {})
            | more,
            resource=("answer", answer.id),
        )

    async def amend(
        self, answer_id: int, heard: HeardSpan, *, before_commit: BeforeCommit | None = None
    ) -> Answer:
        """The candidate went on after the end of their answer was declared: the stored
        answer takes the whole of it, and its evaluation goes (it is graded again)."""
        async with self.writing() as db:
            answers = AnswerRepository(db)
            before = await answers.get(answer_id)
            if before is None:
                raise NotFound(f"answer {answer_id} does not exist")
            words_before = len((before.transcribed_text or "").split())
            answer = await rehear(db, answer_id, heard)
            await self.audit_in(
                db,
                "exam.answer_extended",
                {
                    "question_number": answer.question_number,
                    "words_before": words_before,
                    "words": len(heard.text.split()),
                },
                resource=("answer", answer.id),
            )
            if before_commit is not None:
                await before_commit(answer)
        return answer

    async def no_answer(
        self, question: AskedQuestion, number: int, reason: str, at: dt.datetime
    ) -> Answer:
        """A row for a question passed without an answer (``is_complete`` false, no
        transcript, no evaluation), so a resumed sitting does not ask it again."""
        async with self.writing() as db:
            answer = await AnswerRepository(db).store(
                await self.session_in(db),
                AnswerInput(
                    question=question, question_number=number, is_complete=False, ended_at=at
                ),
            )
            await self.audit_in(
                db,
                "exam.question_passed",
                {"question_number": number, "reason": reason},
                resource=("answer", answer.id),
            )
        return answer

    async def evaluation(
        self, answer: Answer, grade: Grade, *, latency_ms: float, processing_ms: float
    ) -> None:
        async with self.writing() as db:
            await self.evaluation_in(
                db, answer, grade, latency_ms=latency_ms, processing_ms=processing_ms
            )

    async def evaluation_in(
        self,
        db: AsyncSession,
        answer: Answer,
        grade: Grade,
        *,
        latency_ms: float,
        processing_ms: float,
    ) -> None:
        """The evaluation and its audit row inside the caller's transaction."""
        reasons = review_reasons(grade.score, grade.max_score, grade.review_reasons)
        evaluation = await EvaluationRepository(db).store(
            answer,
            EvaluationInput(
                score_obtained=grade.score,
                max_score=grade.max_score,
                feedback_type=grade.feedback_type,
                evaluator_type=grade.evaluator,
                feedback=grade.written_feedback,
                matched_keywords=list(grade.matched),
                missing_keywords=list(grade.missing),
                latency_ms=round(latency_ms, 1),
                processing_time_ms=round(processing_ms, 3),
                review_reasons=reasons,
            ),
        )
        await self.audit_in(
            db,
            "exam.answer_evaluated",
            {
                "question_number": answer.question_number,
                "score": grade.score,
                "feedback_type": grade.feedback_type.value,
                "review_reasons": reasons,
            },
            resource=("evaluation", evaluation.id),
        )

    async def grading_failed(self, answer: Answer, error: BaseException) -> None:
        async with self.writing() as db:
            await self.grading_failed_in(db, answer, repr(error))

    async def grading_failed_in(self, db: AsyncSession, answer: Answer, error: str) -> None:
        await self.audit_in(
            db,
            "exam.grading_failed",
            {"question_number": answer.question_number, "error": error[:500]},
            resource=("answer", answer.id),
            status="failure",
        )

    async def turn_latency(
        self, answer_id: int | None, latency: dict[str, float], response_ms: float | None
    ) -> None:
        """Store a turn's timings. Not essential: with the database away they are skipped (a
        warning in the log), never a reason to stop the exam."""
        try:
            await self._store_turn_latency(answer_id, latency, response_ms)
        except (SQLAlchemyError, OSError):
            logger.warning(
                "sitting %s: the turn's latency was not stored (database unavailable)",
                self.exam_session_id,
                exc_info=True,
            )

    async def _store_turn_latency(
        self, answer_id: int | None, latency: dict[str, float], response_ms: float | None
    ) -> None:
        async with self.writing() as db:
            if answer_id is not None:
                await AnswerRepository(db).set_turn_latency(answer_id, latency)
                if response_ms is not None:
                    await EvaluationRepository(db).set_latency(answer_id, response_ms)
            if response_ms is not None:
                await ExamSessionRepository(db).record_turn_latency(
                    self.exam_session_id, response_ms
                )

    async def unevaluated(self) -> list[Answer]:
        """Answers stored but not graded (grading failed, or the process stopped in between)."""
        async with unit_of_work(self._sessionmaker) as db:
            answers = await AnswerRepository(db).unevaluated(self.exam_session_id)
        return [a for a in answers if a.is_complete and a.transcribed_text is not None]

    async def finish(
        self,
        *,
        completed: bool,
        reason: str,
        at: dt.datetime,
        policy: ResultPolicy | None,
        cache: StatisticsCache | None = None,
        mailer: ResultMailer | None = None,
    ) -> tuple[Result | None, ExamSession]:
        """Complete or terminate the sitting; store its result when ``policy`` is given, and
        have ``mailer`` send it to the student once it has committed (only then: a replay
        that finds the result stored already rolls back, so one result is mailed once)."""
        async with self.writing() as db:
            repo = ExamSessionRepository(db)
            finish = repo.complete if completed else repo.terminate
            exam_session = await finish(self.exam_session_id, at=at)
            result = None
            if policy is not None:
                result = await calculate_result(db, exam_session, policy, cache=cache)
                if mailer is not None:
                    mail = await result_mail(db, exam_session, result)
                    after_commit(db, partial(_schedule, mailer, mail))
            await self.audit_in(
                db,
                "exam.completed" if completed else "exam.terminated",
                {
                    "reason": reason,
                    "duration_seconds": exam_session.duration_seconds,
                    "total_score": None if result is None else result.total_score,
                },
            )
            detailed = await repo.get_detailed(self.exam_session_id)
            if detailed is None:
                raise InvalidState(f"exam session {self.exam_session_id} vanished while finishing")
        return result, detailed

    async def refinish(
        self,
        *,
        policy: ResultPolicy,
        cache: StatisticsCache | None = None,
        mailer: ResultMailer | None = None,
    ) -> tuple[Result, ExamSession]:
        """The completed sitting's last answer went on and was graded again: re-sum its
        stored result (as an examiner's override does). The student was just told the old
        result, by voice and perhaps by e-mail: if the total, grade or pass changed, ``mailer``
        sends the corrected one."""
        async with self.writing() as db:
            [change] = await recompute_results(
                db, [self.exam_session_id], policy=policy, cache=cache
            )
            await self.audit_in(
                db,
                "exam.result_recalculated",
                {"reason": "last_answer_extended", "total_score": change.new_total},
            )
            result = await ResultRepository(db).by_session(self.exam_session_id)
            detailed = await ExamSessionRepository(db).get_detailed(self.exam_session_id)
            if result is None or detailed is None:
                raise InvalidState(f"exam session {self.exam_session_id} has no result to re-sum")
            if mailer is not None and change.changed:
                mail = await result_mail(db, detailed, result, corrected=True)
                after_commit(db, partial(_schedule, mailer, mail))
        return result, detailed


async def _schedule(mailer: ResultMailer, mail: ResultMail) -> None:
    mailer.schedule(mail)


def summary_of(result: Result) -> ResultSummary:
    """The stored result as the rules' summary (what the examiner reads out)."""
    questions = (result.result_json or {}).get("questions", [])
    return ResultSummary(
        total_score=result.total_score,
        max_score=result.max_score,
        percentage=result.percentage_correct,
        grade=result.grade or "F",
        passed=result.pass_status,
        questions=tuple(
            QuestionScore(int(q["question_number"]), int(q["score"]), int(q["max_score"]))
            for q in questions
        ),
    )


def mark_event(mark: AnswerMark) -> dict[str, Any]:
    """An answer's mark as the candidate's report shows it (``newspeech.review.record``)."""
    return {
        "source": mark.source,
        "headline": mark.headline,
        "review": mark.review.value,
        "lines": [{"kind": line.kind, "text": line.text} for line in mark.lines()],
    }


def result_event(result: Result, exam_session: ExamSession) -> dict[str, Any]:
    """The ``result`` event: totals, then each question with what was said and its score."""
    answers = []
    for answer in exam_session.answers:
        evaluation = answer.evaluation
        mark = None if evaluation is None else answer_mark(evaluation)
        answers.append(
            {
                "number": answer.question_number,
                "question": answer.question_text,
                "transcript": answer.transcribed_text,
                "answer_text": answer.answer_text,
                "answered": answer.is_complete,
                "score": None if mark is None else mark.score,
                "max_score": None if mark is None else mark.max_score,
                "feedback": None if evaluation is None else evaluation.feedback,
                "mark": None if mark is None else mark_event(mark),
            }
        )
    return {
        "type": "result",
        "session_code": exam_session.session_code,
        "status": exam_session.status.value,
        "total_score": result.total_score,
        "max_score": result.max_score,
        "percentage": result.percentage_correct,
        "grade": result.grade,
        "passed": result.pass_status,
        "voice_detected_count": exam_session.voice_detected_count,
        "avg_latency_ms": exam_session.avg_latency_ms,
        "max_latency_ms": exam_session.max_latency_ms,
        "answers": answers,
    }


def is_resumable(status: SessionStatus) -> bool:
    return status in (SessionStatus.PENDING, SessionStatus.IN_PROGRESS)
