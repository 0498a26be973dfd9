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
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.answers.audio.service import AnswerAudioRecorder
from newspeech.attempts.service import ensure_may_start
from newspeech.audits.repository import AuditLogRepository
from newspeech.configuration.current import current_config
from newspeech.configuration.keys import ExamConfig
from newspeech.db.base import utcnow
from newspeech.db.engine import unit_of_work
from newspeech.db.outage import database_unavailable
from newspeech.errors import AttemptLimitReached, InvalidState, NotFound, PermissionDenied
from newspeech.exams.engine import (
    Conclude,
    ExamEngine,
    GradeAnswer,
    IdentityConfirmed,
    NoAnswer,
    Record,
    RequestMade,
    Step,
)
from newspeech.exams.lease import Lease, LeasePolicy, SittingTakenOver, first_lease, take
from newspeech.exams.outage import (
    PAUSE_TEXT,
    Graded,
    HeldAnswer,
    HeldEvaluation,
    HeldWrites,
)
from newspeech.exams.plan import PlannedQuestion
from newspeech.exams.recorder import (
    ExamRecorder,
    HeardSpan,
    is_resumable,
    result_event,
    summary_of,
)
from newspeech.exams.repository import AnswerRepository, ExamSessionRepository
from newspeech.exams.setting import Setting, choose_form, config_of, form_of
from newspeech.grading import AsyncGrader, Grade, GradingQuestion
from newspeech.models import Answer, ExamSession, SessionStatus, User, UserStatus
from newspeech.results.rules import ResultSummary
from newspeech.results.service import StatisticsCache
from newspeech.voice.conversation import (
    Control,
    Conversation,
    ExaminerTurn,
    HeardAnswer,
    ListenPlan,
    TurnTimings,
    Utterance,
    UtteranceKind,
)
from newspeech.voice.terms import TermCorrector

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutagePolicy:
    """How a live sitting rides out a database outage (``newspeech.exams.outage``)."""

    wait_seconds: float = 120.0
    """The longest it waits where it must (before its result, or with its buffer full)."""
    retry_seconds: float = 2.0
    held_answers: int = 12


@dataclass(frozen=True)
class ExamDependencies:
    """What every sitting in the process shares. ``clock`` is the session loop's monotonic
    clock (the one :class:`TurnTimings` are measured on); ``wall_clock`` stamps stored rows."""

    sessionmaker: async_sessionmaker[AsyncSession]
    grader: AsyncGrader
    """Grades every sitting, unless ``grader_for`` is given."""
    grader_for: Callable[[ExamConfig], AsyncGrader] | None = None
    """The grader for a sitting's configuration (its thresholds and LLM temperature)."""
    audit_enabled: bool = True
    result_cache: StatisticsCache | None = None
    audio: AnswerAudioRecorder | None = None
    """Keeps each answer's recording (none: recordings are not kept)."""
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], dt.datetime] = utcnow
    rng: random.Random = field(default_factory=random.SystemRandom)
    """Chooses each sitting's cases when the bank holds more than ``total_questions``."""
    terms: TermCorrector | None = None
    """Reads the question's terms back into what was heard before it is graded (none: answers
    are graded as heard). The raw transcript is stored beside the corrected one."""
    on_turn_measured: Callable[[Mapping[str, float]], None] | None = None
    """Told each answered turn's latency figures in ms (the metrics' histograms)."""
    outage: OutagePolicy = field(default_factory=OutagePolicy)
    lease: LeasePolicy = field(default_factory=LeasePolicy)
    """The sitting lease (``newspeech.exams.lease``): one loop per sitting, across nodes."""


def _candidate_name(user: User) -> str:
    return user.full_name or user.username


async def _audit_refused(deps: ExamDependencies, user: User, college_type: str) -> None:
    if not deps.audit_enabled:
        return
    async with unit_of_work(deps.sessionmaker) as db:
        await AuditLogRepository(db).log(
            "exam.start_refused",
            user_id=user.id,
            status="failure",
            details={"college_type": college_type, "reason": AttemptLimitReached.code},
        )


def _ensure_resumable(exam_session: ExamSession) -> None:
    if not is_resumable(exam_session.status):
        raise InvalidState(
            f"exam session {exam_session.session_code} is {exam_session.status.value}; "
            "only a pending or in-progress sitting can be resumed"
        )


class ExamConversation:
    """One sitting, spoken. Build it with :meth:`start` or :meth:`resume`."""

    def __init__(
        self,
        deps: ExamDependencies,
        *,
        session_code: str,
        college_type: str,
        setting: Setting,
        engine: ExamEngine,
        recorder: ExamRecorder,
        ungraded: list[Answer] | None = None,
        resumed: bool = False,
    ) -> None:
        self._deps = deps
        self.resumed = resumed
        """Opened on a sitting that already existed (a resume, or a start that resumed)."""
        self.session_code = session_code
        self.college_type = college_type
        self.total_questions = len(setting.plan.questions)
        self._setting = setting
        self._grader = deps.grader_for(setting.config) if deps.grader_for else deps.grader
        self.engine = engine
        self._recorder = recorder
        self._ungraded = ungraded or []
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
            keep_audio=self._keep_audio,
        )
        self._paused = False
        """The database went away and the candidate has been told (or is about to be)."""
        self._pause_due = False
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
        """The candidate's sitting of the college: their unfinished one, resumed (``resumed``
        is set), or a new one (pending until they confirm who they are) with its exam form,
        if the attempt policy allows another (``AttemptLimitReached`` if not)."""
        if user.status is not UserStatus.ACTIVE:
            raise PermissionDenied(f"user {user.username} is {user.status.value}")
        try:
            async with unit_of_work(deps.sessionmaker) as db:
                sittings = ExamSessionRepository(db)
                unfinished = await sittings.unfinished_for(user.id, college_type)
                if unfinished is None:
                    created = await cls._create(deps, db, user, college_type)
            if unfinished is not None:
                return await cls._take_and_reopen(deps, unfinished.id, user)
        except AttemptLimitReached:
            await _audit_refused(deps, user, college_type)
            raise
        return created

    @classmethod
    async def _create(
        cls, deps: ExamDependencies, db: AsyncSession, user: User, college_type: str
    ) -> ExamConversation:
        """A new sitting of the college (and its lease), in the caller's transaction."""
        sittings = ExamSessionRepository(db)
        attempts = await ensure_may_start(db, user.id, college_type)
        config = await current_config(db)
        form = await choose_form(db, college_type, config.total_questions, deps.rng)
        setting = Setting.of(form, config)
        exam_session = await sittings.create(
            user_id=user.id,
            college_type=college_type,
            total_questions=len(setting.plan.questions),
            exam_form=form.to_json(),
            attempt_number=attempts.used + 1,
            config_snapshot=config.snapshot(),
        )
        recorder = ExamRecorder(
            deps.sessionmaker,
            exam_session.id,
            user_id=user.id,
            audit_enabled=deps.audit_enabled,
            lease=await first_lease(db, exam_session.id, deps.lease),
        )
        await recorder.audit_in(
            db,
            "exam.created",
            {
                "college_type": college_type,
                "attempt": exam_session.attempt_number,
                "attempts_allowed": attempts.allowed,
                "questions": [q.question_id for q in setting.plan.questions],
            },
        )
        engine = ExamEngine(setting.plan, setting.rules, _candidate_name(user), deps.clock)
        return cls(
            deps,
            session_code=exam_session.session_code,
            college_type=college_type,
            setting=setting,
            engine=engine,
            recorder=recorder,
        )

    @classmethod
    async def resume(
        cls, deps: ExamDependencies, session_code: str, user: User
    ) -> ExamConversation:
        """Pick up an interrupted sitting where the database says it stopped."""
        async with unit_of_work(deps.sessionmaker) as db:
            exam_session = await ExamSessionRepository(db).get_by_code(session_code)
            if exam_session is None:
                raise NotFound(f"exam session {session_code} does not exist")
            if exam_session.user_id != user.id:
                raise PermissionDenied(f"exam session {session_code} belongs to another user")
            _ensure_resumable(exam_session)
        return await cls._take_and_reopen(deps, exam_session.id, user)

    @classmethod
    async def _take_and_reopen(
        cls, deps: ExamDependencies, exam_session_id: int, user: User
    ) -> ExamConversation:
        """Take the sitting over (any loop still running it, on any node, writes nothing
        more), then read it: the take commits first, so what that loop stored before is read."""
        lease = await take(deps.sessionmaker, exam_session_id, deps.lease)
        async with unit_of_work(deps.sessionmaker) as db:
            await lease.check_in(db)  # still ours: no later opening took it meanwhile
            exam_session = await ExamSessionRepository(db).get(exam_session_id)
            if exam_session is None:
                raise NotFound(f"exam session {exam_session_id} no longer exists")
            return await cls._reopen(deps, db, exam_session, user, lease)

    @classmethod
    async def _reopen(
        cls,
        deps: ExamDependencies,
        db: AsyncSession,
        exam_session: ExamSession,
        user: User,
        lease: Lease,
    ) -> ExamConversation:
        """Resume with the sitting's own form: questions already answered or passed are not
        asked again; stored answers never graded are graded before the examiner speaks."""
        code = exam_session.session_code
        _ensure_resumable(exam_session)
        form = await form_of(db, exam_session, deps.rng)
        setting = Setting.of(form, await config_of(db, exam_session))
        answers = await AnswerRepository(db).for_session(exam_session.id)
        unevaluated = await AnswerRepository(db).unevaluated(exam_session.id)
        recorder = ExamRecorder(
            deps.sessionmaker,
            exam_session.id,
            user_id=user.id,
            audit_enabled=deps.audit_enabled,
            lease=lease,
        )
        confirmed = exam_session.status is SessionStatus.IN_PROGRESS
        start = exam_session.start_time
        elapsed = (deps.wall_clock() - start).total_seconds() if start and confirmed else 0.0
        await recorder.audit_in(
            db, "exam.resumed", {"answers": len(answers), "elapsed_seconds": round(elapsed)}
        )
        engine = ExamEngine(
            setting.plan,
            setting.rules,
            _candidate_name(user),
            deps.clock,
            confirmed=confirmed,
            done={a.question_number for a in answers},
            elapsed_seconds=max(elapsed, 0.0),
        )
        return cls(
            deps,
            session_code=code,
            college_type=exam_session.college_type,
            setting=setting,
            engine=engine,
            recorder=recorder,
            ungraded=[a for a in unevaluated if a.is_complete and a.transcribed_text is not None],
            resumed=True,
        )

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
        try:
            step = self.engine.amend(heard.transcript.text, speech)
        except InvalidState:
            if self.finished and self._last_turn is not None:
                return self._last_turn  # ended otherwise (time limit): the result stands
            # What came before was no answer (a request): hear it afresh.
            self._heard.append(heard)
            return await self._run(self.engine.hear(heard.transcript.text, speech), heard)
        if self._heard:
            self._heard.pop()  # the first part is inside the whole
        self._heard.append(heard)
        return await self._run(step, heard, replacing=replacing)

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

    # -- riding out a database outage ------------------------------------------------------

    def _keep_audio(self, answer_id: int, pcm: bytes) -> None:
        if self._deps.audio is not None:
            self._deps.audio.keep(answer_id, self.exam_session_id, self._recorder.user_id, pcm)

    async def _essential(self, call: Callable[[], Awaitable[None]]) -> None:
        """A write the sitting cannot do without: now, or held until the database is back."""
        was_holding = self._writes.holding
        if await self._writes.write_or_hold(call) and not was_holding:
            self._pausing()

    async def _hold(self, held: HeldAnswer | HeldEvaluation) -> None:
        if not self._writes.holding:
            self._pausing()
        await self._writes.hold(held)

    def _pausing(self) -> None:
        if not self._paused:
            self._paused = self._pause_due = True

    async def _catch_up(self) -> list[Mapping[str, Any]]:
        """Write what was held if the database is back; the ``technical_pause_over`` event
        once nothing is held any more."""
        if self._writes.holding:
            await self._writes.flush()
        if not self._paused or self._writes.holding:
            return []
        self._paused = self._pause_due = False
        return [{"type": "technical_pause_over", "kept": self._writes.kept_total}]

    def _pause_notice(self) -> tuple[list[Utterance], list[Mapping[str, Any]]]:
        if not self._pause_due:
            return [], []
        self._pause_due = False
        event = {"type": "technical_pause", "reason": "database_unavailable"}
        return [Utterance(PAUSE_TEXT, UtteranceKind.PROMPT, cacheable=True)], [event]

    # -- doing what the engine asks --------------------------------------------------------

    async def _run(
        self,
        step: Step,
        heard: HeardAnswer | None = None,
        *,
        replacing: int | HeldAnswer | None = None,
    ) -> ExaminerTurn:
        utterances: list[Utterance] = []
        events: list[Mapping[str, Any]] = await self._catch_up()
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
        said, told = self._pause_notice()
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
            if not self._writes.holding:
                try:
                    await self._recorder.no_answer(question, number, reason, now)
                    return
                except Exception as exc:
                    if not database_unavailable(exc):
                        raise
            await self._hold(HeldAnswer(question, number, heard=None))
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
        pcm = b"".join(part.pcm for part in parts)
        held: HeldAnswer | None = None
        answer: Answer | None = None
        if not self._writes.holding:
            try:
                if replacing is None:
                    answer = await self._recorder.answer(question, number, span)
                else:
                    answer = await self._recorder.amend(replacing, span)
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
        if answer is None:  # kept in memory; its recording is kept once it is stored
            held = HeldAnswer(question, number, span, pcm=pcm)
            await self._hold(held)
            self._last_held = held
            answer = held.detached(self.exam_session_id)
        else:
            self._measure_answer_id = self._last_answer_id = answer.id
            if parts:  # in the background: the reply never waits for encoding or upload
                self._keep_audio(answer.id, pcm)
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
        if not self._writes.holding:
            try:
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
        await self._hold(HeldEvaluation(answer, graded))

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
        await self._writes.drain()  # every answer is stored before the result is summed
        if pending.scored:
            for answer in await self._recorder.unevaluated():  # one more try for failed grades
                _grade, event = await self._grade_stored(answer, latency_ms=0.0)
                events.append(event)
        if pending.again:  # the last answer went on after the sitting was concluded
            again, concluded = await self._recorder.refinish(
                policy=self._setting.policy, cache=self._deps.result_cache
            )
            events.append(result_event(again, concluded))
            return events, summary_of(again)
        result, exam_session = await self._recorder.finish(
            completed=pending.reason.value == "completed",
            reason=pending.reason.value,
            at=self._deps.wall_clock(),
            policy=self._setting.policy if pending.scored else None,
            cache=self._deps.result_cache,
        )
        if result is None:
            return events, None
        events.append(result_event(result, exam_session))
        return events, summary_of(result)


if TYPE_CHECKING:

    def _implements_the_contract(conversation: ExamConversation) -> Conversation:
        return conversation
