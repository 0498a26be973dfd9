"""The exam as a :class:`~newspeech.voice.conversation.Conversation`: the pure engine, the grader
and the database, wired together.

The engine decides what happens; this class does the work it asks for (store an answer, grade it
in the inference pool, store the evaluation, finish and store the result), each write in its own
short transaction with its audit row, and turns the engine's steps into examiner turns.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from newspeech.answers.audio.service import AnswerTake
from newspeech.configuration.keys import ExamConfig
from newspeech.db.outage import database_unavailable
from newspeech.errors import InvalidState
from newspeech.exams.dependencies import ExamDependencies
from newspeech.exams.engine import (
    Conclude,
    GradeAnswer,
    IdentityConfirmed,
    NoAnswer,
    Record,
    RequestMade,
    Step,
)
from newspeech.exams.lease import Lease, SittingTakenOver
from newspeech.exams.opening import OpenedSitting, open_sitting, resume_sitting
from newspeech.exams.outage import (
    Graded,
    HeldAnswer,
    HeldEvaluation,
    HeldWrites,
)
from newspeech.exams.pause import TechnicalPause
from newspeech.exams.plan import PlannedQuestion
from newspeech.exams.recorder import (
    HeardSpan,
    WriteKey,
    keyed,
    result_event,
    summary_of,
)
from newspeech.grading import Grade, GradingQuestion
from newspeech.models import Answer, User
from newspeech.results.rules import ResultSummary
from newspeech.voice.conversation import (
    Control,
    Conversation,
    ExaminerTurn,
    HeardAnswer,
    ListenPlan,
    SayMeanwhile,
    TurnTimings,
    Utterance,
)

logger = logging.getLogger(__name__)


class ExamConversation:
    """One sitting, spoken. Build it with :meth:`start` or :meth:`resume`."""

    def __init__(self, deps: ExamDependencies, opened: OpenedSitting) -> None:
        self._deps = deps
        self.resumed = opened.resumed
        """Opened on a sitting that already existed (a resume, or a start that resumed)."""
        self.session_code = opened.session_code
        self.college_type = opened.college_type
        setting = self._setting = opened.setting
        self.total_questions = len(setting.plan.questions)
        self._grader = deps.grader_for(setting.config) if deps.grader_for else deps.grader
        self.engine = opened.engine
        self._recorder = recorder = opened.recorder
        self._ungraded = list(opened.ungraded)
        self._heard: collections.deque[HeardAnswer] = collections.deque(maxlen=4)
        self._measure_answer_id: int | None = None
        self._last_turn: ExaminerTurn | None = None
        self._last_answer_id: int | None = None
        """The answer stored by the last :meth:`answer` / :meth:`amend`: what an amend replaces."""
        self._grading_questions: dict[int, GradingQuestion] = {}
        self.end_reason: str | None = None
        self._preparing: asyncio.Task[None] | None = None
        self._writes = HeldWrites(
            recorder,
            max_answers=deps.outage.held_answers,
            retry_seconds=deps.outage.retry_seconds,
            wait_seconds=deps.outage.wait_seconds,
        )
        self._pause = TechnicalPause(self._writes)
        self._last_held: HeldAnswer | None = None
        """The last answer, while it is (or was) held: what an amend replaces."""

    @property
    def exam_session_id(self) -> int:
        return self._recorder.exam_session_id

    @property
    def lease(self) -> Lease | None:
        """The loop's hold on the sitting (renewed by the edge while the loop runs)."""
        return self._recorder.lease

    @property
    def config(self) -> ExamConfig:
        """The configuration the sitting runs on (stored when it started)."""
        return self._setting.config

    @property
    def finished(self) -> bool:
        return self.end_reason is not None

    # -- factories -------------------------------------------------------------------------

    @classmethod
    async def start(cls, deps: ExamDependencies, user: User, college_type: str) -> ExamConversation:
        """The candidate's sitting of the college (``newspeech.exams.opening.open_sitting``):
        their unfinished one, resumed (``resumed`` is set), or a new one."""
        return cls(deps, await open_sitting(deps, user, college_type))

    @classmethod
    async def resume(
        cls, deps: ExamDependencies, session_code: str, user: User
    ) -> ExamConversation:
        """Pick up an interrupted sitting where the database says it stopped."""
        return cls(deps, await resume_sitting(deps, session_code, user))

    # -- the Conversation protocol ---------------------------------------------------------

    async def _prepare_questions(self) -> None:
        """Let the grader do each question's share of the work (embedding the model answer and
        key concepts, shared by every sitting in the process) in the order they are asked, so no
        answer waits for it. Failures only cost speed: grading does the work itself."""
        prepare = getattr(self._grader, "prepare_async", None)
        if prepare is None:
            return
        for planned in self._setting.plan.questions:
            try:
                await prepare(self._grading_question(planned.question_id))
            except Exception:
                logger.warning("could not prepare question %s for grading", planned.question_id)
                return

    def _stop_preparing(self) -> None:
        if self._preparing is not None:
            self._preparing.cancel()
            self._preparing = None

    async def begin(self) -> ExaminerTurn:
        if self._preparing is None:
            self._preparing = asyncio.create_task(self._prepare_questions())
        regraded = [(await self._grade_stored(a, latency_ms=0.0))[1] for a in self._ungraded]
        self._ungraded = []
        turn = await self._run(self.engine.begin())
        return replace(turn, events=(*regraded, *turn.events))

    def listen_plan(self) -> ListenPlan:
        return self.engine.listen_plan()

    async def answer(self, heard: HeardAnswer) -> ExaminerTurn:
        self._heard.append(heard)
        self._measure_answer_id = self._last_answer_id = self._last_held = None
        speech = heard.timings.speech_ended - heard.timings.speech_started
        return await self._run(self.engine.hear(heard.transcript.text, speech), heard)

    async def amend(self, heard: HeardAnswer) -> ExaminerTurn:
        replacing: int | HeldAnswer | None = self._last_answer_id or self._last_held
        self._last_answer_id = self._last_held = self._measure_answer_id = None
        speech = heard.timings.speech_ended - heard.timings.speech_started
        # The reply this withdraws may have gone unsaid, its events unsent (the answer went on
        # while it was being made): the end of a technical pause is told again with this one.
        withdrawn = () if self._last_turn is None else self._last_turn.events
        over = tuple(e for e in withdrawn if e.get("type") == "technical_pause_over")
        try:
            step = self.engine.amend(heard.transcript.text, speech)
        except InvalidState:
            if self.finished and self._last_turn is not None:
                return self._last_turn  # ended otherwise (time limit): the result stands
            # What came before was no answer (a request): hear it afresh.
            self._heard.append(heard)
            turn = await self._run(self.engine.hear(heard.transcript.text, speech), heard)
        else:
            if self._heard:
                self._heard.pop()  # the first part is inside the whole
            self._heard.append(heard)
            turn = await self._run(step, heard, replacing=replacing)
        if over:
            turn = self._last_turn = replace(turn, events=(*over, *turn.events))
        return turn

    async def silence(self, waited_seconds: float) -> ExaminerTurn:
        self._measure_answer_id = self._last_answer_id = self._last_held = None
        return await self._run(self.engine.silence(waited_seconds))

    async def control(self, command: Control) -> ExaminerTurn:
        self._measure_answer_id = self._last_answer_id = self._last_held = None
        return await self._run(self.engine.control(command))

    async def interrupted(self, utterance: Utterance, played_seconds: float) -> None:
        self.engine.interrupted(utterance, played_seconds)
        current = self.engine.current
        details = {
            "kind": utterance.kind.value,
            "played_seconds": round(played_seconds, 3),
            "question_number": current.number if current else None,
        }
        await self._essential(lambda: self._recorder.audit("exam.utterance_interrupted", details))

    async def turn_measured(self, timings: TurnTimings) -> None:
        latency = timings.milliseconds()
        if self._deps.on_turn_measured is not None:
            self._deps.on_turn_measured(latency)
        answer_id, self._measure_answer_id = self._measure_answer_id, None
        await self._recorder.turn_latency(answer_id, latency, latency.get("response_ms"))

    async def disconnected(self) -> None:
        self._stop_preparing()
        lease = self._recorder.lease
        if lease is not None and lease.lost:
            return  # taken over: the sitting is no longer this loop's to write
        try:
            await self._disconnected()
        except SittingTakenOver:
            logger.info("exam %s: taken over as the connection ended", self.session_code)

    async def _disconnected(self) -> None:
        if not self.finished:
            current = self.engine.current
            details = {
                "phase": self.engine.phase.value,
                "question_number": current.number if current else None,
            }
            await self._essential(lambda: self._recorder.audit("exam.disconnected", details))
        if self._writes.holding:  # what the sitting kept must be stored before it is resumed
            await self._writes.drain()

    # -- riding out a database outage (newspeech.exams.pause) -------------------------------

    def speak_meanwhile(self, say: SayMeanwhile) -> None:
        self._pause.speak_meanwhile(say)

    async def _essential(self, call: Callable[[], Awaitable[None]]) -> None:
        await self._pause.essential(call)

    async def _hold(self, held: HeldAnswer | HeldEvaluation) -> None:
        await self._pause.hold(held)

    # -- doing what the engine asks --------------------------------------------------------

    async def _run(
        self,
        step: Step,
        heard: HeardAnswer | None = None,
        *,
        replacing: int | HeldAnswer | None = None,
    ) -> ExaminerTurn:
        utterances: list[Utterance] = []
        events: list[Mapping[str, Any]] = await self._pause.catch_up()
        while True:
            for record in step.records:
                await self._record(record)
            utterances.extend(step.utterances)
            events.extend(step.events)
            if isinstance(step.pending, GradeAnswer):
                spoken, event = await self._answer(step.pending, heard, replacing)
                events.append(event)
                step = self.engine.graded(spoken)
            elif isinstance(step.pending, Conclude):
                end_events, summary = await self._conclude(step.pending)
                events.extend(end_events)
                step = self.engine.concluded(summary)
            else:
                break
        if step.finished:
            self.end_reason = None if step.end_reason is None else step.end_reason.value
            self._stop_preparing()
        said, told = self._pause.notice()
        utterances[:0], events[:0] = said, told
        self._last_turn = ExaminerTurn(
            utterances=tuple(utterances),
            events=tuple(events),
            listen=step.listen and not step.finished,
            finished=step.finished,
            end_reason=self.end_reason,
        )
        return self._last_turn

    async def _record(self, record: Record) -> None:
        now = self._deps.wall_clock()
        if isinstance(record, IdentityConfirmed):
            await self._essential(lambda: self._recorder.started(now))
        elif isinstance(record, NoAnswer):
            question = self._setting.questions[record.question.question_id]
            number, reason = record.question.number, record.reason.value
            key = WriteKey()
            if not self._writes.holding:
                try:
                    with keyed(key):
                        await self._recorder.no_answer(question, number, reason, now)
                    return
                except Exception as exc:
                    if not database_unavailable(exc):
                        raise
            await self._hold(HeldAnswer(question, number, heard=None, key=key))
        elif isinstance(record, RequestMade):
            details = {
                "request": record.intent.value,
                "question_number": record.question_number,
                "spoken": record.spoken,
            }
            await self._essential(lambda: self._recorder.audit("exam.request", details))

    async def _answer(
        self,
        pending: GradeAnswer,
        heard: HeardAnswer | None,
        replacing: int | HeldAnswer | None = None,
    ) -> tuple[str | None, Mapping[str, Any]]:
        parts = list(self._heard)[-pending.parts :] if pending.parts else []
        question = self._setting.questions[pending.question.question_id]
        number = pending.question.number
        span = self._span(pending.text, parts)
        span = replace(span, corrected=self._corrected(pending.question, span.text, parts))
        if isinstance(replacing, HeldAnswer):  # still held: the whole is held in its place
            replacing = replacing.stored_id
        take = AnswerTake(
            self._deps.audio,
            self.exam_session_id,
            self._recorder.user_id,
            b"".join(part.pcm for part in parts),
        )
        held: HeldAnswer | None = None
        answer: Answer | None = None
        key = WriteKey()
        if not self._writes.holding:
            try:
                with keyed(key):
                    if replacing is None:
                        answer = await self._recorder.answer(
                            question, number, span, before_commit=take.before_commit
                        )
                    else:
                        answer = await self._recorder.amend(
                            replacing, span, before_commit=take.before_commit
                        )
            except Exception as exc:
                if not database_unavailable(exc):
                    await take.rolled_back()
                    raise
        if answer is None:  # kept in memory; its recording is spooled once it is stored
            held = HeldAnswer(question, number, span, take=take, key=key)
            await self._hold(held)
            self._last_held = held
            answer = held.detached(self.exam_session_id)
        else:
            self._measure_answer_id = self._last_answer_id = answer.id
            await take.committed()  # in the background: the reply never waits for the upload
        turn_declared = parts[-1].timings.turn_declared if parts else None
        latency = 0.0 if turn_declared is None else 1000 * (self._deps.clock() - turn_declared)
        grade, event = await self._grade_stored(answer, latency_ms=latency, held=held)
        return (None if grade is None else grade.spoken_feedback), event

    def _span(self, text: str, parts: list[HeardAnswer]) -> HeardSpan:
        if not parts:
            return HeardSpan(text, 0.0, 0.0, None, self._deps.wall_clock())
        seconds = [max(p.transcript.audio_seconds, 1e-6) for p in parts]
        confidence = sum(p.transcript.confidence * s for p, s in zip(parts, seconds, strict=True))
        return HeardSpan(
            text=text,
            confidence=round(confidence / sum(seconds), 4),
            audio_seconds=sum(p.transcript.audio_seconds for p in parts),
            started_at=self._wall_at(parts[0].timings.speech_started),
            ended_at=self._wall_at(parts[-1].timings.speech_ended),
        )

    def _corrected(
        self, planned: PlannedQuestion, text: str, parts: list[HeardAnswer]
    ) -> str | None:
        """``text`` with the question's misheard terms read back in, or None if unchanged."""
        if self._deps.terms is None or not text:
            return None
        question = self._grading_question(planned.question_id)
        fixed = self._deps.terms.correct(
            text,
            [form for keyword in question.keywords for form in keyword.forms],
            vocabulary=(question.text, question.model_answer),
            words=[word for part in parts for word in part.transcript.words],
        )
        return fixed.text if fixed.changed else None

    def _wall_at(self, monotonic: float) -> dt.datetime:
        return self._deps.wall_clock() - dt.timedelta(seconds=self._deps.clock() - monotonic)

    async def _grade_stored(
        self, answer: Answer, *, latency_ms: float, held: HeldAnswer | None = None
    ) -> tuple[Grade | None, Mapping[str, Any]]:
        """Grade a stored answer (or one ``held`` in memory) and store its evaluation. A
        grading error leaves the answer stored and ungraded (graded again at the end or on
        resume), never lost."""
        question = self._grading_question(answer.question_bank_id)
        started = time.perf_counter()
        try:
            grade = await self._grade(question, answer.graded_text, answer)
        except Exception as exc:
            if held is not None:
                held.grading_error = repr(exc)
            else:
                failed = exc  # the name ``exc`` is unbound after the except block
                await self._essential(lambda: self._recorder.grading_failed(answer, failed))
            return None, {
                "type": "error",
                "error": "grading_failed",
                "detail": f"question {answer.question_number} is saved and will be marked later",
            }
        graded = Graded(grade, latency_ms, 1000 * (time.perf_counter() - started))
        if held is not None:
            held.graded = graded
        else:
            await self._store_evaluation(answer, graded)
        return grade, {
            "type": "evaluation",
            "question_number": answer.question_number,
            "score": grade.score,
            "max_score": grade.max_score,
            "feedback_type": grade.feedback_type.value,
            "feedback": grade.written_feedback,
            "spoken_feedback": grade.spoken_feedback,
            "matched": list(grade.matched),
            "missing": list(grade.missing),
            "needs_review": grade.needs_review,
        }

    async def _store_evaluation(self, answer: Answer, graded: Graded) -> None:
        key = WriteKey()
        if not self._writes.holding:
            try:
                with keyed(key):
                    await self._recorder.evaluation(
                        answer,
                        graded.grade,
                        latency_ms=graded.latency_ms,
                        processing_ms=graded.processing_ms,
                    )
                return
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
        await self._hold(HeldEvaluation(answer, graded, key=key))

    async def _grade(self, question: GradingQuestion, text: str, answer: Answer) -> Grade:
        return await self._grader.grade_async(
            question, text, asr_confidence=answer.confidence_score
        )

    def _grading_question(self, question_id: int) -> GradingQuestion:
        cached = self._grading_questions.get(question_id)
        if cached is None:
            row = self._setting.questions[question_id]
            cached = GradingQuestion.from_mapping(
                {
                    "question_text": row.question_text,
                    "keywords": row.keywords,
                    "expected_keywords": row.expected_keywords,
                    "model_answer": row.model_answer,
                    "answer_guidelines": row.answer_guidelines,
                    "max_score": row.max_score,
                }
            )
            self._grading_questions[question_id] = cached
        return cached

    async def _conclude(
        self, pending: Conclude
    ) -> tuple[list[Mapping[str, Any]], ResultSummary | None]:
        events: list[Mapping[str, Any]] = []
        if self._writes.holding:
            self._pause.say_now()
        await self._writes.drain()  # every answer is stored before the result is summed
        events.extend(await self._pause.catch_up())  # ... and the pause, if there was one, is over
        if pending.scored:
            for answer in await self._recorder.unevaluated():  # one more try for failed grades
                _grade, event = await self._grade_stored(answer, latency_ms=0.0)
                events.append(event)
        if pending.again:  # the last answer went on after the sitting was concluded
            again, concluded = await self._recorder.refinish(
                policy=self._setting.policy,
                cache=self._deps.result_cache,
                mailer=self._deps.result_mailer,
            )
            events.append(result_event(again, concluded))
            return events, summary_of(again)
        result, exam_session = await self._recorder.finish(
            completed=pending.reason.value == "completed",
            reason=pending.reason.value,
            at=self._deps.wall_clock(),
            policy=self._setting.policy if pending.scored else None,
            cache=self._deps.result_cache,
            mailer=self._deps.result_mailer,
        )
        if result is None:
            return events, None
        events.append(result_event(result, exam_session))
        return events, summary_of(result)


if TYPE_CHECKING:

    def _implements_the_contract(conversation: ExamConversation) -> Conversation:
        return conversation
