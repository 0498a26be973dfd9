"""Degrade, don't drop: a sitting's essential writes kept in memory while the database is away.

When a write of the live exam finds the database unreachable, the sitting goes on: the write is
held here, in order, and the examiner says there is a short technical pause. The held writes are
replayed when the database answers again (at the sitting's next step, before it concludes, or
when the connection ends), each in one transaction that may run twice without storing anything
twice: each write carries one idempotency key from its first try on (``WriteKey``, stored on its
first audit row), so a try whose commit succeeded but whose reply was lost is found and not
stored again, audit rows included; without audit rows, an answer is keyed by its sitting and
question number and an evaluation replaces the answer's one. Only the per-turn latency figures
are not kept (``ExamRecorder.turn_latency``).

The buffer is bounded by the answers it holds: when it is full, the next answer waits for the
database (the candidate has already heard why).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from newspeech.answers.audio.service import AnswerTake
from newspeech.db.outage import database_unavailable
from newspeech.exams.lease import SittingTakenOver
from newspeech.exams.recorder import (
    AlreadyWritten,
    ExamRecorder,
    HeardSpan,
    WriteKey,
    answer_input,
    keyed,
    rehear,
)
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
    key: WriteKey
    """The write's idempotency key, the same as its first try's."""

    async def write(self, recorder: ExamRecorder) -> None:
        """Store this write in one transaction; running it twice stores it once (under
        :func:`keyed`, a try after a commit whose reply was lost raises ``AlreadyWritten``)."""
        ...


@dataclass(eq=False)
class HeldAnswer:
    """An answer (``heard``) or a question passed without one (``heard`` is None), with its
    grade once known and its recording, stored when the database is back (the recording
    spooled inside the answer's transaction, then stored in the background)."""

    question: AskedQuestion
    number: int
    heard: HeardSpan | None
    take: AnswerTake | None = None
    key: WriteKey = field(default_factory=WriteKey)
    """The answer's write: the live try's key, so a replay after its lost reply is found."""
    grade_key: WriteKey = field(default_factory=WriteKey)
    """Its grade's (written with the answer when it is held, on its own key)."""
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
        try:
            self.stored_id = await self._write(recorder)
        except AlreadyWritten:  # the last try committed all of it: only its reply was lost
            async with recorder.writing() as db:
                stored = await AnswerRepository(db).for_question(
                    recorder.exam_session_id, self.number
                )
            if stored is None:
                raise
            self.stored_id = stored.id
        if self.take is not None:
            await self.take.committed()

    async def _write(self, recorder: ExamRecorder) -> int:
        """The answer (under ``key``, the same as the live try's) and its grade (under
        ``grade_key``) in one transaction; a part a try committed before is not written again."""
        async with recorder.writing() as db:
            answers = AnswerRepository(db)
            existing = await answers.for_question(recorder.exam_session_id, self.number)
            heard = self.heard
            if heard is None:
                return (existing or await self._store_passed(recorder, answers)).id
            grading = self.graded is not None or self.grading_error is not None
            answered = existing is not None and await recorder.written(db, self.key)
            if answered and (not grading or await recorder.written(db, self.grade_key)):
                raise AlreadyWritten(f"answer {self.number} of sitting {recorder.exam_session_id}")
            with keyed(self.key):
                if existing is None:
                    session = await recorder.session_in(db)
                    stored = answer_input(self.question, self.number, heard)
                    answer = await answers.store(session, stored)
                    await recorder.audit_answer_stored(db, answer, heard, kept_in_outage=True)
                elif answered:  # by the live try, whose reply was lost; its grade was not
                    answer = existing
                else:  # stored before (the answer went on): the whole replaces it
                    answer = await rehear(db, existing.id, heard)
                    await recorder.audit_answer_stored(db, answer, heard, kept_in_outage=True)
            with keyed(self.grade_key):
                if self.graded is not None:
                    await recorder.evaluation_in(
                        db,
                        answer,
                        self.graded.grade,
                        latency_ms=self.graded.latency_ms,
                        processing_ms=self.graded.processing_ms,
                    )
                elif self.grading_error is not None:
                    await recorder.grading_failed_in(db, answer, self.grading_error)
            if self.take is not None:
                await self.take.before_commit(answer)
        return answer.id

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
    key: WriteKey = field(default_factory=WriteKey)

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
    key: WriteKey = field(default_factory=WriteKey)

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
    ) -> None:
        self._recorder = recorder
        self._held: collections.deque[Held] = collections.deque()
        self._max_answers = max_answers
        self._retry_seconds = retry_seconds
        self._wait_seconds = wait_seconds
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
        key = WriteKey()
        if not self.holding:
            try:
                with keyed(key):
                    await call()
                return False
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                logger.warning(
                    "sitting %s: the database is away; the sitting's writes are kept in memory",
                    self._recorder.exam_session_id,
                )
        await self.hold(HeldCall(call, key))
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
                    with keyed(held.key):
                        await held.write(self._recorder)
                except AlreadyWritten:
                    pass  # its commit's reply was lost: it is stored, once
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
        if written:
            logger.info(
                "sitting %s: the database is back; %d held writes stored",
                self._recorder.exam_session_id,
                written,
            )
        return written

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
