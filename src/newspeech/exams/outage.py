"""Degrade, don't drop: a sitting's essential writes kept in memory while the database is away.

When a write of the live exam finds the database unreachable, the sitting goes on: the write is
held here, in order, and the examiner says there is a short technical pause. The held writes are
replayed when the database answers again (at the sitting's next step, before it concludes, or
when the connection ends), each in one transaction that may run twice without storing anything
twice: an answer is keyed by its sitting and question number, an evaluation replaces the
answer's one. Only the per-turn latency figures are not kept (``ExamRecorder.turn_latency``).

The buffer is bounded by the answers it holds: when it is full, the next answer waits for the
database (the candidate has already heard why).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from newspeech.db.outage import database_unavailable
from newspeech.exams.lease import SittingTakenOver
from newspeech.exams.recorder import ExamRecorder, HeardSpan, answer_input, rehear
from newspeech.exams.repository import (
    AnswerInput,
    AnswerRepository,
    AskedQuestion,
    EvaluationRepository,
)
from newspeech.grading import Grade
from newspeech.models import Answer

logger = logging.getLogger(__name__)

PAUSE_TEXT = (
    "Please bear with me: we have a short technical pause on our side. "
    "Your answers are kept safe, so let's carry on."
)
"""What the examiner says when the first write of an outage is held."""

_WRITES_PER_ANSWER = 16
"""Held writes allowed per held answer (audit rows of requests, interruptions …)."""


@dataclass(frozen=True)
class Graded:
    grade: Grade
    latency_ms: float
    processing_ms: float


class Held(Protocol):
    async def write(self, recorder: ExamRecorder) -> None:
        """Store this write in one transaction; running it twice stores it once."""
        ...


@dataclass(eq=False)
class HeldAnswer:
    """An answer (``heard``) or a question passed without one (``heard`` is None), with its
    grade once known and its recording, stored when the database is back."""

    question: AskedQuestion
    number: int
    heard: HeardSpan | None
    pcm: bytes = b""
    graded: Graded | None = None
    grading_error: str | None = None
    stored_id: int | None = None
    """The answer's id once written."""

    def detached(self, exam_session_id: int) -> Answer:
        """The answer as a row not (yet) in the database: what grading reads."""
        heard = self.heard
        return Answer(
            session_id=exam_session_id,
            question_bank_id=self.question.id,
            question_number=self.number,
            question_text=self.question.question_text,
            transcribed_text=None if heard is None else heard.text,
            answer_text=None if heard is None else (heard.corrected or heard.text),
            confidence_score=None if heard is None else heard.confidence,
            is_complete=heard is not None,
        )

    async def write(self, recorder: ExamRecorder) -> None:
        async with recorder.writing() as db:
            answers = AnswerRepository(db)
            existing = await answers.for_question(recorder.exam_session_id, self.number)
            heard = self.heard
            if heard is None:
                answer = existing or await self._store_passed(recorder, answers)
            elif existing is None:
                session = await recorder.session_in(db)
                stored = answer_input(self.question, self.number, heard)
                answer = await answers.store(session, stored)
                await recorder.audit_answer_stored(db, answer, heard, kept_in_outage=True)
            else:  # stored before (a replay, or the answer went on): the whole replaces it
                answer = await rehear(db, existing.id, heard)
                await recorder.audit_answer_stored(db, answer, heard, kept_in_outage=True)
            if heard is not None and self.graded is not None:
                await recorder.evaluation_in(
                    db,
                    answer,
                    self.graded.grade,
                    latency_ms=self.graded.latency_ms,
                    processing_ms=self.graded.processing_ms,
                )
            elif heard is not None and self.grading_error is not None:
                await recorder.grading_failed_in(db, answer, self.grading_error)
        self.stored_id = answer.id

    async def _store_passed(self, recorder: ExamRecorder, answers: AnswerRepository) -> Answer:
        session = await recorder.session_in(answers.db)
        answer = await answers.store(
            session,
            AnswerInput(question=self.question, question_number=self.number, is_complete=False),
        )
        await recorder.audit_in(
            answers.db,
            "exam.question_passed",
            {"question_number": self.number, "kept_in_outage": True},
            resource=("answer", answer.id),
        )
        return answer


@dataclass(eq=False)
class HeldEvaluation:
    """The grade of an answer stored before the database went away."""

    answer: Answer
    graded: Graded

    async def write(self, recorder: ExamRecorder) -> None:
        async with recorder.writing() as db:
            await EvaluationRepository(db).delete_for_answer(self.answer.id)
            await recorder.evaluation_in(
                db,
                self.answer,
                self.graded.grade,
                latency_ms=self.graded.latency_ms,
                processing_ms=self.graded.processing_ms,
            )


@dataclass(eq=False)
class HeldCall:
    """Any other essential write (the sitting's start, audit rows), as the recorder call."""

    call: Callable[[], Awaitable[None]]

    async def write(self, recorder: ExamRecorder) -> None:
        await self.call()


class DatabaseAway(Exception):
    """The database stayed away for longer than a sitting may wait; held writes remain."""


class HeldWrites:
    """One sitting's held writes, oldest first."""

    def __init__(
        self,
        recorder: ExamRecorder,
        *,
        max_answers: int,
        retry_seconds: float,
        wait_seconds: float,
        keep_audio: Callable[[int, bytes], None] | None = None,
    ) -> None:
        self._recorder = recorder
        self._held: collections.deque[Held] = collections.deque()
        self._max_answers = max_answers
        self._retry_seconds = retry_seconds
        self._wait_seconds = wait_seconds
        self._keep_audio = keep_audio
        self._tried_at = float("-inf")
        self._lock = asyncio.Lock()
        self.kept_total = 0
        """Writes held since the sitting opened (what the events report)."""

    @property
    def holding(self) -> bool:
        return bool(self._held)

    @property
    def answers(self) -> int:
        return sum(1 for held in self._held if isinstance(held, HeldAnswer))

    @property
    def full(self) -> bool:
        return (
            self.answers >= self._max_answers
            or len(self._held) >= _WRITES_PER_ANSWER * self._max_answers
        )

    async def hold(self, held: Held) -> None:
        """Keep ``held`` behind the others; with the buffer full, wait for the database first
        (:class:`DatabaseAway` if it does not come back in time)."""
        if self.full:
            await self.drain()
        self._held.append(held)
        self.kept_total += 1

    async def write_or_hold(self, call: Callable[[], Awaitable[None]]) -> bool:
        """Run an essential write now, or hold it (behind any held already); True if held."""
        if not self.holding:
            try:
                await call()
                return False
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                logger.warning(
                    "sitting %s: the database is away; the sitting's writes are kept in memory",
                    self._recorder.exam_session_id,
                )
        await self.hold(HeldCall(call))
        return True

    async def flush(self, *, force: bool = False) -> int:
        """Write what is held, oldest first; the number written. Stops (keeping the rest) at
        the first write that finds the database still away, at most once every
        ``retry_seconds`` unless ``force``."""
        now = time.monotonic()
        if not self._held or (not force and now - self._tried_at < self._retry_seconds):
            return 0
        self._tried_at = now
        written = 0
        async with self._lock:
            while self._held:
                held = self._held[0]
                try:
                    await held.write(self._recorder)
                except SittingTakenOver:
                    raise  # the sitting runs elsewhere now: what this loop held is not its to write
                except Exception as exc:
                    if database_unavailable(exc):
                        return written
                    # Not the outage: a write that can never succeed must not hold the rest.
                    logger.exception(
                        "sitting %s: a held write failed and was dropped",
                        self._recorder.exam_session_id,
                    )
                self._held.popleft()
                written += 1
                if isinstance(held, HeldAnswer) and held.stored_id is not None:
                    self._keep(held.stored_id, held.pcm)
        if written:
            logger.info(
                "sitting %s: the database is back; %d held writes stored",
                self._recorder.exam_session_id,
                written,
            )
        return written

    def _keep(self, answer_id: int, pcm: bytes) -> None:
        if pcm and self._keep_audio is not None:
            self._keep_audio(answer_id, pcm)

    async def drain(self) -> int:
        """Write everything held, waiting for the database up to ``wait_seconds``;
        :class:`DatabaseAway` if it stays away."""
        written = 0
        deadline = time.monotonic() + self._wait_seconds
        while True:
            written += await self.flush(force=True)
            if not self._held:
                return written
            if time.monotonic() >= deadline:
                logger.error(
                    "sitting %s: the database stayed away for %.0f s; %d writes (%d answers) "
                    "held in memory are not stored",
                    self._recorder.exam_session_id,
                    self._wait_seconds,
                    len(self._held),
                    self.answers,
                )
                raise DatabaseAway(f"{len(self._held)} writes still held")
            await asyncio.sleep(self._retry_seconds)  # a retry's back-off, not a hand-over
