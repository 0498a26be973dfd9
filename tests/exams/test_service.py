"""Whole sittings through the Conversation interface, on every database backend.

Answers arrive as the session loop would deliver them: ``HeardAnswer`` built from ``Transcript``
objects, timed on a fake monotonic clock. Grading is the real keyword grader in a real inference
pool; everything is checked in the database afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.configuration.repository import ConfigurationRepository
from newspeech.errors import InvalidState, NotFound, PermissionDenied
from newspeech.exams.dependencies import ExamDependencies
from newspeech.exams.repository import AnswerRepository, EvaluationRepository
from newspeech.exams.service import ExamConversation
from newspeech.grading import Grade, GradingQuestion, KeywordGrader
from newspeech.grading.factory import PooledGrader
from newspeech.models import (
    Answer,
    AuditLog,
    EvaluatorType,
    ExamSession,
    Question,
    Result,
    SessionStatus,
    User,
)
from newspeech.models.enums import EvaluatorType as Evaluator
from newspeech.questions.banks import BANKS_DIR, load_bank
from newspeech.results.rules import ResultPolicy
from newspeech.review.rules import review_reasons
from newspeech.voice.conversation import (
    Control,
    ExaminerTurn,
    HeardAnswer,
    TurnTimings,
    UtteranceKind,
)
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import Transcript
from newspeech.voice.terms import EspeakPhonetics, TermCorrector
from tests.exams.plans import FakeClock
from tests.fixtures.factories import make_user

MEDICAL = load_bank(BANKS_DIR / "medical.yaml")
MODEL_ANSWERS = [q.model_answer for s in MEDICAL.scenarios for q in s.questions]


@dataclass
class FlakyGrader:
    """The keyword grader, failing on the listed answer texts a given number of times."""

    fail_on: dict[str, int] = field(default_factory=dict)
    inner: KeywordGrader = field(default_factory=KeywordGrader)
    evaluator: EvaluatorType = Evaluator.KEYWORD_MATCH

    def grade(
        self,
        question: GradingQuestion,
        answer_transcript: str,
        *,
        asr_confidence: float | None = None,
    ) -> Grade:
        if self.fail_on.get(answer_transcript, 0) > 0:
            self.fail_on[answer_transcript] -= 1
            raise RuntimeError("grader crashed")
        return self.inner.grade(question, answer_transcript, asr_confidence=asr_confidence)


@dataclass
class Candidate:
    """Speaks into a conversation the way the session loop reports it."""

    conversation: ExamConversation
    clock: FakeClock

    def heard(self, text: str, seconds: float = 8.0, confidence: float = 0.9) -> HeardAnswer:
        self.clock.advance(seconds)
        end = self.clock.now
        self.clock.advance(0.5)
        timings = TurnTimings(end - seconds, end, end + 0.3, end + 0.45)
        transcript = Transcript(text, confidence, seconds + 0.5, 0.2)
        return HeardAnswer(transcript, bytes(int(32_000 * seconds)), timings)

    async def say(self, text: str, seconds: float = 8.0) -> ExaminerTurn:
        heard = self.heard(text, seconds)
        turn = await self.conversation.answer(heard)
        await self.conversation.turn_measured(
            TurnTimings(
                heard.timings.speech_started,
                heard.timings.speech_ended,
                heard.timings.turn_declared,
                heard.timings.transcript_ready,
                grade_ready=heard.timings.turn_declared + 0.1,
                first_audio_sent=heard.timings.turn_declared + 0.2,
            )
        )
        return turn

    async def silent(self) -> ExaminerTurn:
        self.clock.advance(8.0)
        return await self.conversation.silence(8.0)


def deps(
    sessionmaker: async_sessionmaker[AsyncSession],
    pool: InferencePool,
    clock: FakeClock,
    grader: FlakyGrader | KeywordGrader | None = None,
) -> ExamDependencies:
    return ExamDependencies(
        sessionmaker=sessionmaker,
        grader=PooledGrader(grader or KeywordGrader(), pool.run),
        clock=clock,
    )


@pytest.fixture
async def candidate(
    sessionmaker: async_sessionmaker[AsyncSession], pool: InferencePool, student: User
) -> Candidate:
    clock = FakeClock()
    conversation = await ExamConversation.start(deps(sessionmaker, pool, clock), student, "medical")
    return Candidate(conversation, clock)


def question_numbers(turn: ExaminerTurn) -> list[int]:
    return [e["number"] for e in turn.events if e["type"] == "question"]


def event(turn: ExaminerTurn, kind: str) -> dict[str, Any]:
    found = [dict(e) for e in turn.events if e["type"] == kind]
    assert len(found) == 1, turn.events
    return found[0]


async def stored(db: AsyncSession, code: str) -> ExamSession:
    await db.commit()  # end the read snapshot (MariaDB's REPEATABLE READ) to see new commits
    query = (
        select(ExamSession)
        .where(ExamSession.session_code == code)
        .execution_options(populate_existing=True)
    )
    return (await db.scalars(query)).one()


async def audit_actions(db: AsyncSession, exam_session_id: int) -> list[str]:
    query = select(AuditLog.action).where(AuditLog.session_id == exam_session_id)
    return list(await db.scalars(query.order_by(AuditLog.id)))


async def confirm(candidate: Candidate) -> ExaminerTurn:
    welcome = await candidate.conversation.begin()
    assert "Jane Doe" in welcome.utterances[0].text
    turn = await candidate.say("Yes, that's me.", seconds=1.0)
    assert question_numbers(turn) == [1]
    return turn


async def test_a_full_sitting_with_mixed_answers_stores_every_answer_and_the_result(
    candidate: Candidate, db: AsyncSession
) -> None:
    conversation = candidate.conversation
    await confirm(candidate)
    partial = "An inferior heart attack, I think."  # q1 is answered partially below
    plan: list[str | None] = [partial, *MODEL_ANSWERS[1:7], "I don't know.", "Skip.", None]
    plan += ["I don't know.", MODEL_ANSWERS[11]]
    turn = ExaminerTurn()
    for number, text in enumerate(plan, start=1):
        if text is None:
            for _ in range(3):
                turn = await candidate.silent()
        else:
            turn = await candidate.say(text, seconds=12.0)
        if number < 12:
            assert question_numbers(turn) == [number + 1], (number, turn.events)

    assert turn.finished
    assert not turn.listen
    assert turn.end_reason == "completed"
    assert [u.kind for u in turn.utterances][-2:] == [UtteranceKind.RESULT, UtteranceKind.GOODBYE]

    grader = KeywordGrader()
    questions = list(
        await db.scalars(
            select(Question).where(Question.college_type == "medical").order_by(Question.id)
        )
    )
    graded = {n: t for n, t in enumerate(plan, start=1) if t not in (None, "Skip.")}
    expected = {
        n: grader.grade(GradingQuestion.from_mapping(vars(questions[n - 1])), t).score
        for n, t in graded.items()
    }
    assert expected[1] < 10
    assert expected[8] == expected[11] == 0
    assert all(expected[n] == 10 for n in (2, 3, 4, 5, 6, 7, 12))
    total = sum(expected.values())
    first_question_text = questions[0].question_text
    policy = ResultPolicy()
    percentage = round(100 * total / 120, 2)

    exam_session = await stored(db, conversation.session_code)
    assert exam_session.status is SessionStatus.COMPLETED
    assert exam_session.total_score == total
    assert exam_session.questions_answered == 10
    result = (await db.scalars(select(Result).where(Result.session_id == exam_session.id))).one()
    assert (result.total_score, result.max_score) == (total, 120)
    assert result.percentage_correct == percentage
    assert result.grade == policy.grade_for(percentage)
    assert result.pass_status is (percentage >= 50)
    spoken = turn.utterances[-2].text
    assert f"{total} out of 120" in spoken
    assert f"grade {result.grade}" in spoken
    result_event = event(turn, "result")
    assert result_event["total_score"] == total
    assert result_event["grade"] == result.grade

    answers = await AnswerRepository(db).for_session(exam_session.id)
    assert [a.question_number for a in answers] == list(range(1, 13))
    assert [a.is_complete for a in answers] == [n not in (9, 10) for n in range(1, 13)]
    first = answers[0]
    assert first.transcribed_text == first.answer_text == partial
    assert first.question_text == first_question_text
    assert first.confidence_score == pytest.approx(0.9)
    assert first.audio_duration_seconds == pytest.approx(12.5)
    assert first.started_at is not None
    assert first.ended_at is not None
    assert first.answer_audio_path is None
    assert first.turn_latency is not None
    assert first.turn_latency["response_ms"] == 200.0
    evaluations = {
        e.answer_id: e for e in await EvaluationRepository(db).for_session(exam_session.id)
    }
    assert {
        a.question_number: evaluations[a.id].score_obtained for a in answers if a.is_complete
    } == expected
    first_eval = evaluations[first.id]
    assert first_eval.evaluator_type is EvaluatorType.KEYWORD_MATCH
    assert first_eval.latency_ms == 200.0
    assert "inferior stemi" in (first_eval.matched_keywords or [])
    assert first_eval.missing_keywords
    assert first_eval.feedback
    # Feedback follows the mark (correct >= 8, partial >= 5, else incorrect: the seed's rule).
    band = "Incorrect" if expected[1] < 5 else "Partially correct"
    assert first_eval.feedback.startswith(f"{band}: {expected[1]:g}/10")
    # The review queue: exactly the answers the grader or the mid-range rule sends there.
    for answer in answers:
        if not answer.is_complete:
            continue
        evaluation = evaluations[answer.id]
        reasons = review_reasons(
            evaluation.score_obtained,
            evaluation.max_score,
            grader.grade(
                GradingQuestion.from_mapping(vars(questions[answer.question_number - 1])),
                answer.transcribed_text or "",
                asr_confidence=answer.confidence_score,
            ).review_reasons,
        )
        assert (evaluation.review_reasons or []) == reasons
        assert evaluation.needs_review is bool(reasons)
        assert evaluation.reviewed_at is None
    # Every spoken turn was measured: the confirmation and eleven answers (one a request).
    assert exam_session.voice_detected_count == 12
    assert exam_session.avg_latency_ms == pytest.approx(200.0)
    assert exam_session.max_latency_ms == pytest.approx(200.0)

    actions = await audit_actions(db, exam_session.id)
    assert actions[:2] == ["exam.created", "exam.started"]
    assert actions.count("exam.answer_stored") == actions.count("exam.answer_evaluated") == 10
    assert actions.count("exam.question_passed") == 2
    assert actions[-1] == "exam.completed"


async def test_repeat_skip_silence_and_ending_early(candidate: Candidate, db: AsyncSession) -> None:
    conversation = candidate.conversation
    first = await confirm(candidate)
    again = await candidate.say("Sorry, could you repeat the question?", seconds=2.0)
    assert question_numbers(again) == [1]
    assert again.utterances[-1].text == first.utterances[-1].text
    clicked = await conversation.control(Control.REPEAT)
    assert question_numbers(clicked) == [1]
    answered = await candidate.say(MODEL_ANSWERS[0], seconds=15.0)
    assert event(answered, "evaluation")["score"] == 10
    assert question_numbers(answered) == [2]
    skipped = await candidate.say("Skip this one, please.", seconds=1.5)
    assert question_numbers(skipped) == [3]
    prompt = await candidate.silent()
    assert prompt.utterances[0].text.startswith("Take your time")
    assert question_numbers(await candidate.silent()) == [3]
    assert question_numbers(await candidate.silent()) == [4]
    confirm_end = await candidate.say("I want to stop the exam.", seconds=1.5)
    assert confirm_end.listen
    assert not confirm_end.finished
    ended = await candidate.say("Yes.", seconds=0.5)
    assert ended.finished
    assert ended.end_reason == "ended_by_student"

    exam_session = await stored(db, conversation.session_code)
    assert exam_session.status is SessionStatus.TERMINATED
    assert exam_session.total_score == 10
    assert exam_session.duration_seconds >= 0
    result = (await db.scalars(select(Result).where(Result.session_id == exam_session.id))).one()
    assert (result.total_score, result.grade, result.pass_status) == (10, "F", False)
    answers = await AnswerRepository(db).for_session(exam_session.id)
    assert [(a.question_number, a.is_complete) for a in answers] == [
        (1, True),
        (2, False),
        (3, False),
    ]
    actions = await audit_actions(db, exam_session.id)
    assert actions.count("exam.request") == 4  # repeat (spoken), repeat (button), skip, end
    assert actions[-1] == "exam.terminated"
    with pytest.raises(InvalidState):
        await conversation.silence(8.0)


async def test_a_clear_no_to_the_name_ends_without_starting(
    candidate: Candidate, db: AsyncSession
) -> None:
    await candidate.conversation.begin()
    turn = await candidate.say("No, that's not me.", seconds=1.0)
    assert turn.finished
    assert turn.end_reason == "identity_not_confirmed"
    assert "sign in with your own account" in turn.utterances[0].text
    exam_session = await stored(db, candidate.conversation.session_code)
    assert exam_session.status is SessionStatus.TERMINATED
    assert exam_session.start_time is None
    assert await db.scalar(select(func.count(Result.id))) == 0
    assert await db.scalar(select(func.count(Answer.id))) == 0


async def test_resume_after_a_disconnect_asks_only_what_was_not_answered(
    sessionmaker: async_sessionmaker[AsyncSession],
    pool: InferencePool,
    candidate: Candidate,
    student: User,
    db: AsyncSession,
) -> None:
    await confirm(candidate)
    for text in MODEL_ANSWERS[:4]:
        await candidate.say(text, seconds=10.0)
    interrupted = await candidate.conversation.control(Control.REPEAT)
    question = interrupted.utterances[-1]
    await candidate.conversation.interrupted(question, played_seconds=1.0)
    await candidate.conversation.disconnected()
    code = candidate.conversation.session_code

    intruder = await make_user(db, college_type="medical")
    await db.commit()
    clock = FakeClock(start=5000.0)
    with pytest.raises(PermissionDenied):
        await ExamConversation.resume(deps(sessionmaker, pool, clock), code, intruder)
    with pytest.raises(NotFound):
        await ExamConversation.resume(deps(sessionmaker, pool, clock), "VIVA-000000000000", student)

    resumed = Candidate(
        await ExamConversation.resume(deps(sessionmaker, pool, clock), code, student), clock
    )
    back = await resumed.conversation.begin()
    assert back.utterances[0].text.startswith("Welcome back, Jane Doe")
    assert event(back, "scenario")["index"] == 2
    assert question_numbers(back) == [5]
    turn = ExaminerTurn()
    for text in MODEL_ANSWERS[4:]:
        turn = await resumed.say(text, seconds=10.0)
    assert turn.finished
    assert turn.end_reason == "completed"

    exam_session = await stored(db, code)
    assert exam_session.status is SessionStatus.COMPLETED
    assert exam_session.total_score == 120
    answers = await AnswerRepository(db).for_session(exam_session.id)
    assert [a.question_number for a in answers] == list(range(1, 13))
    actions = await audit_actions(db, exam_session.id)
    assert "exam.utterance_interrupted" in actions
    assert actions.index("exam.disconnected") < actions.index("exam.resumed")
    with pytest.raises(InvalidState):
        await ExamConversation.resume(deps(sessionmaker, pool, clock), code, student)


async def test_a_grading_error_loses_nothing_and_the_answer_is_graded_later(
    sessionmaker: async_sessionmaker[AsyncSession],
    pool: InferencePool,
    student: User,
    db: AsyncSession,
) -> None:
    clock = FakeClock()
    grader = FlakyGrader(fail_on={MODEL_ANSWERS[1]: 2})
    conversation = await ExamConversation.start(
        deps(sessionmaker, pool, clock, grader), student, "medical"
    )
    candidate = Candidate(conversation, clock)
    await confirm(candidate)
    await candidate.say(MODEL_ANSWERS[0], seconds=10.0)
    failed = await candidate.say(MODEL_ANSWERS[1], seconds=10.0)
    assert event(failed, "error")["error"] == "grading_failed"
    assert failed.utterances[0].kind is UtteranceKind.FEEDBACK
    assert question_numbers(failed) == [3]

    exam_session = await stored(db, conversation.session_code)
    answers = await AnswerRepository(db).for_session(exam_session.id)
    assert [a.transcribed_text for a in answers] == MODEL_ANSWERS[:2]
    assert [a.id for a in await AnswerRepository(db).unevaluated(exam_session.id)] == [
        answers[1].id
    ]
    assert "exam.grading_failed" in await audit_actions(db, exam_session.id)

    # The process goes away; the sitting resumes elsewhere and grades what was left ungraded
    # (the first retry fails too, the one at the end succeeds).
    await conversation.disconnected()
    resumed = await ExamConversation.resume(
        deps(sessionmaker, pool, clock, grader), conversation.session_code, student
    )
    back = await resumed.begin()
    assert event(back, "error")["error"] == "grading_failed"
    assert question_numbers(back) == [3]
    end = await resumed.control(Control.END)
    assert end.finished
    assert end.end_reason == "ended_by_student"
    assert event(end, "evaluation")["question_number"] == 2
    exam_session = await stored(db, conversation.session_code)
    assert exam_session.total_score == 20
    assert await AnswerRepository(db).unevaluated(exam_session.id) == []


async def test_start_refuses_an_unknown_college(
    sessionmaker: async_sessionmaker[AsyncSession], pool: InferencePool, student: User
) -> None:
    with pytest.raises(NotFound):
        await ExamConversation.start(deps(sessionmaker, pool, FakeClock()), student, "astrology")


async def test_the_configured_session_time_limit_ends_the_sitting_with_a_result(
    sessionmaker: async_sessionmaker[AsyncSession],
    pool: InferencePool,
    student: User,
    db: AsyncSession,
) -> None:
    await ConfigurationRepository(db).set("session_time_limit_minutes", 1)
    await db.commit()
    clock = FakeClock()
    conversation = await ExamConversation.start(deps(sessionmaker, pool, clock), student, "medical")
    candidate = Candidate(conversation, clock)
    await confirm(candidate)
    assert conversation.listen_plan().max_answer_seconds == 60.0
    first = await candidate.say(MODEL_ANSWERS[0], seconds=30.0)
    assert question_numbers(first) == [2]
    last = await candidate.say(MODEL_ANSWERS[1], seconds=40.0)
    assert last.finished
    assert last.end_reason == "time_limit"
    assert event(last, "evaluation")["question_number"] == 2
    exam_session = await stored(db, conversation.session_code)
    assert exam_session.status is SessionStatus.TERMINATED
    assert exam_session.total_score == 20
    assert event(last, "result")["total_score"] == 20


async def test_with_audit_logs_off_everything_else_is_still_stored(
    sessionmaker: async_sessionmaker[AsyncSession],
    pool: InferencePool,
    student: User,
    db: AsyncSession,
) -> None:
    clock = FakeClock()
    quiet = ExamDependencies(
        sessionmaker=sessionmaker,
        grader=PooledGrader(KeywordGrader(), pool.run),
        audit_enabled=False,
        clock=clock,
    )
    conversation = await ExamConversation.start(quiet, student, "medical")
    candidate = Candidate(conversation, clock)
    await confirm(candidate)
    await candidate.say(MODEL_ANSWERS[0], seconds=10.0)
    await conversation.control(Control.END)
    exam_session = await stored(db, conversation.session_code)
    assert exam_session.total_score == 10
    assert await audit_actions(db, exam_session.id) == []


class PreparingGrader(PooledGrader):
    """The keyword grader in the pool, noting which questions it was asked to prepare."""

    def __init__(self, pool: InferencePool) -> None:
        super().__init__(KeywordGrader(), pool.run)
        self.prepared: list[str] = []

    async def prepare_async(self, question: GradingQuestion) -> None:
        self.prepared.append(question.text)
        await super().prepare_async(question)


async def test_the_grader_prepares_every_question_in_the_order_they_are_asked(
    sessionmaker: async_sessionmaker[AsyncSession], pool: InferencePool, student: User
) -> None:
    grader = PreparingGrader(pool)
    clock = FakeClock()
    conversation = await ExamConversation.start(
        ExamDependencies(sessionmaker=sessionmaker, grader=grader, clock=clock),
        student,
        "medical",
    )
    await conversation.begin()
    assert conversation._preparing is not None
    await conversation._preparing

    planned = [q.text for q in conversation._setting.plan.questions]
    assert len(planned) == 12
    assert grader.prepared == planned


async def test_an_answer_that_went_on_replaces_the_first_part_and_is_graded_once_more(
    candidate: Candidate, db: AsyncSession
) -> None:
    """The loop took "Aspirin and ticagrelor," as the answer to question 1 and the candidate
    went on over the feedback: the whole answer takes the first one's place (one row, one
    evaluation), question 2 follows it, and the trail says the answer was extended."""
    conversation = candidate.conversation
    await confirm(candidate)
    first = await candidate.say("An inferior myocardial infarction,", seconds=3.0)
    assert question_numbers(first) == [2]
    whole = candidate.heard(MODEL_ANSWERS[0], seconds=12.0)
    turn = await conversation.amend(whole)
    assert question_numbers(turn) == [2]  # asked again: the first time it was not heard
    assert event(turn, "evaluation")["question_number"] == 1
    second = await candidate.say(MODEL_ANSWERS[1], seconds=10.0)
    assert question_numbers(second) == [3]

    exam_session = await stored(db, conversation.session_code)
    answers = list(
        await db.scalars(
            select(Answer).where(Answer.session_id == exam_session.id).order_by(Answer.id)
        )
    )
    assert [(a.question_number, a.transcribed_text) for a in answers] == [
        (1, MODEL_ANSWERS[0]),
        (2, MODEL_ANSWERS[1]),
    ]
    assert answers[0].audio_duration_seconds == pytest.approx(12.5)
    evaluations = await EvaluationRepository(db).for_session(exam_session.id)
    assert sorted(e.answer_id for e in evaluations) == [answers[0].id, answers[1].id]
    assert exam_session.questions_answered == 2
    actions = await audit_actions(db, exam_session.id)
    assert actions.count("exam.answer_extended") == 1
    assert actions.count("exam.answer_stored") == 2


async def test_going_on_after_a_request_is_heard_as_a_new_turn(candidate: Candidate) -> None:
    """Nothing to amend (the last turn was "repeat the question"): the whole is just heard."""
    conversation = candidate.conversation
    await confirm(candidate)
    await candidate.say("Could you repeat the question?", seconds=2.0)
    turn = await conversation.amend(candidate.heard(MODEL_ANSWERS[0], seconds=10.0))
    assert event(turn, "evaluation")["question_number"] == 1
    assert question_numbers(turn) == [2]


async def test_the_last_answer_can_go_on_over_the_closing_words_and_the_result_is_re_summed(
    candidate: Candidate, db: AsyncSession
) -> None:
    """The 12th answer was taken at a pause, which ended the sitting and stored its result;
    the candidate went on over the feedback and result: the whole answer replaces the first
    part and the stored result is re-summed (not a second result)."""
    conversation = candidate.conversation
    await confirm(candidate)
    for text in MODEL_ANSWERS[:11]:
        await candidate.say(text, seconds=12.0)
    last = await candidate.say("I would give controlled oxygen,", seconds=4.0)
    assert last.finished
    first_total = event(last, "result")["total_score"]

    turn = await conversation.amend(candidate.heard(MODEL_ANSWERS[11], seconds=14.0))

    assert turn.finished
    assert turn.end_reason == "completed"
    assert event(turn, "evaluation")["question_number"] == 12
    assert event(turn, "result")["total_score"] > first_total
    exam_session = await stored(db, conversation.session_code)
    [result] = (await db.scalars(select(Result).where(Result.session_id == exam_session.id))).all()
    assert result.total_score == event(turn, "result")["total_score"]
    [answer] = (
        await db.scalars(
            select(Answer).where(Answer.session_id == exam_session.id, Answer.question_number == 12)
        )
    ).all()
    assert answer.transcribed_text == MODEL_ANSWERS[11]
    actions = await audit_actions(db, exam_session.id)
    assert actions.count("exam.result_recalculated") == 1
    assert actions.count("exam.completed") == 1


async def test_a_misheard_term_is_read_back_in_and_graded_beside_the_raw_transcript(
    sessionmaker: async_sessionmaker[AsyncSession],
    pool: InferencePool,
    student: User,
    db: AsyncSession,
) -> None:
    """Speech recognition wrote "ST elevation" as "SD elevation": the stored answer keeps
    what was heard, the question's term is read back in, and the corrected text is graded."""
    clock = FakeClock()
    with_terms = replace(deps(sessionmaker, pool, clock), terms=TermCorrector(EspeakPhonetics()))
    conversation = await ExamConversation.start(with_terms, student, "medical")
    candidate = Candidate(conversation, clock)
    await confirm(candidate)
    heard = "An inferior STEMI, with SD elevation in leads two, three and aVF."
    turn = await candidate.say(heard)
    assert "st elevation" in event(turn, "evaluation")["matched"]

    exam_session = await stored(db, conversation.session_code)
    [answer] = await AnswerRepository(db).for_session(exam_session.id)
    assert answer.transcribed_text == heard
    assert answer.answer_text == "An inferior STEMI, with st elevation in leads two, three and aVF."
    [evaluation] = await EvaluationRepository(db).for_session(exam_session.id)
    assert "st elevation" in (evaluation.matched_keywords or [])
