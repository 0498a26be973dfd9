"""Fault suite: a live sitting on real PostgreSQL whose database goes away mid-answer.

The sitting's connections run through :class:`~tests.fixtures.tcp_proxy.TcpProxy`; cutting it
resets every open connection and refuses new ones, as a database host going down does. The
sitting must go on (the examiner says there is a short technical pause), keep what it heard in
memory and store it once the database is back: answers lost 0, duplicated 0, every answer
graded once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from newspeech.answers.audio.service import AnswerAudioRecorder
from newspeech.answers.audio.spool import AudioSpool
from newspeech.config import Settings
from newspeech.db.engine import create_sessionmaker
from newspeech.exams.dependencies import ExamDependencies, OutagePolicy
from newspeech.exams.outage import PAUSE_TEXT, Graded, HeldAnswer
from newspeech.exams.recorder import ExamRecorder, HeardSpan
from newspeech.exams.service import ExamConversation
from newspeech.grading import GradingQuestion, KeywordGrader
from newspeech.grading.factory import PooledGrader
from newspeech.models import Answer, Evaluation, ExamSession, Question, Result, SessionStatus, User
from newspeech.storage.local import LocalAudioStore
from newspeech.voice.conversation import Control, ExaminerTurn
from newspeech.voice.pool import InferencePool
from tests.exams.plans import FakeClock
from tests.exams.test_service import (
    MODEL_ANSWERS,
    Candidate,
    audit_actions,
    confirm,
    question_numbers,
    stored,
)
from tests.fixtures.tcp_proxy import TcpProxy, proxy_to

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

SHORT_OUTAGE_SECONDS = 1.0
REALISTIC_OUTAGE_SECONDS = 20.0
RETRY_SECONDS = 0.1


@pytest.fixture
async def proxy(settings: Settings) -> AsyncIterator[TcpProxy]:
    async with proxy_to(settings.database_url) as proxy:
        yield proxy


@pytest.fixture
async def proxied(proxy: TcpProxy, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The sitting's own engine, through the proxy (the test checks through the direct one)."""
    engine = create_async_engine(
        proxy.url_for(settings.database_url), pool_pre_ping=True, connect_args={"timeout": 2}
    )
    yield engine
    await engine.dispose()


def exam_deps(
    engine: AsyncEngine, pool: InferencePool, clock: FakeClock, **more: object
) -> ExamDependencies:
    return ExamDependencies(
        sessionmaker=create_sessionmaker(engine),
        grader=PooledGrader(KeywordGrader(), pool.run),
        clock=clock,
        outage=OutagePolicy(wait_seconds=60.0, retry_seconds=RETRY_SECONDS, held_answers=12),
        **more,  # type: ignore[arg-type]
    )


def events_of(turn: ExaminerTurn, kind: str) -> list[dict[str, object]]:
    return [dict(e) for e in turn.events if e["type"] == kind]


async def counts(db: AsyncSession, exam_session: ExamSession) -> tuple[list[int], int, int]:
    """Question numbers of the stored answers (with repeats), rows with an evaluation, and
    evaluations in all."""
    answers = list(
        await db.scalars(
            select(Answer.question_number)
            .where(Answer.session_id == exam_session.id)
            .order_by(Answer.question_number)
        )
    )
    evaluated = await db.scalar(
        select(func.count(func.distinct(Evaluation.answer_id))).where(
            Evaluation.session_id == exam_session.id
        )
    )
    evaluations = await db.scalar(
        select(func.count()).select_from(Evaluation).where(Evaluation.session_id == exam_session.id)
    )
    return answers, int(evaluated or 0), int(evaluations or 0)


async def sit_through_an_outage(
    candidate: Candidate, proxy: TcpProxy, outage_seconds: float
) -> ExaminerTurn:
    """Two answers, then the database goes away for ``outage_seconds`` while the candidate
    answers question 3, goes on with question 4, lets question 5 pass in silence and asks
    for a repeat; then the rest of the sitting with the database back."""
    conversation = candidate.conversation
    await confirm(candidate)
    for number in (1, 2):
        assert question_numbers(await candidate.say(MODEL_ANSWERS[number - 1])) == [number + 1]

    await proxy.cut()
    cut_at = time.monotonic()
    paused = await candidate.say(MODEL_ANSWERS[2])
    assert events_of(paused, "technical_pause") == [
        {"type": "technical_pause", "reason": "database_unavailable"}
    ]
    assert paused.utterances[0].text == PAUSE_TEXT
    [graded] = events_of(paused, "evaluation")
    assert (graded["question_number"], graded["score"]) == (3, 10)
    assert question_numbers(paused) == [4]
    first_part = await candidate.say("Aspirin and ticagrelor,", seconds=3.0)
    assert question_numbers(first_part) == [5]
    went_on = await conversation.amend(candidate.heard(MODEL_ANSWERS[3], seconds=12.0))
    assert question_numbers(went_on) == [5]
    assert not events_of(went_on, "technical_pause")  # said once per outage
    for _ in range(3):
        passed = await candidate.silent()
    assert question_numbers(passed) == [6]
    assert question_numbers(await conversation.control(Control.REPEAT)) == [6]
    await asyncio.sleep(max(0.0, outage_seconds - (time.monotonic() - cut_at)))  # the outage
    await proxy.restore()

    back = await candidate.say(MODEL_ANSWERS[5])
    assert back.events[0]["type"] == "technical_pause_over"
    assert question_numbers(back) == [7]
    # The answer goes on, withdrawing that reply (perhaps before any of it was sent): the
    # pause's end is told again with the amended answer's reply.
    went_on_back = await conversation.amend(candidate.heard(MODEL_ANSWERS[5], seconds=12.0))
    assert went_on_back.events[0]["type"] == "technical_pause_over"
    assert question_numbers(went_on_back) == [7]
    turn = went_on_back
    for number in range(7, 13):
        turn = await candidate.say(MODEL_ANSWERS[number - 1])
    return turn


async def assert_nothing_lost_or_doubled(db: AsyncSession, code: str) -> None:
    exam_session = await stored(db, code)
    numbers, evaluated, evaluations = await counts(db, exam_session)
    assert numbers == list(range(1, 13))  # answers lost 0, duplicated 0
    assert (evaluated, evaluations) == (11, 11)  # every answer graded once; 5 was passed
    answer_4 = await db.scalar(
        select(Answer).where(Answer.session_id == exam_session.id, Answer.question_number == 4)
    )
    assert answer_4 is not None
    assert answer_4.transcribed_text == MODEL_ANSWERS[3]  # the whole, not its first part
    assert exam_session.status is SessionStatus.COMPLETED
    result = await db.scalar(select(Result).where(Result.session_id == exam_session.id))
    assert result is not None
    assert result.total_score == 110
    actions = await audit_actions(db, exam_session.id)
    assert actions.count("exam.request") == 1
    assert actions.count("exam.question_passed") == 1


@pytest.fixture
async def sitting(
    proxied: AsyncEngine, pool: InferencePool, student: User, tmp_path: Path
) -> AsyncIterator[tuple[Candidate, AnswerAudioRecorder, LocalAudioStore]]:
    store = LocalAudioStore(tmp_path / "audio")
    audio = AnswerAudioRecorder(
        store,
        create_sessionmaker(proxied),
        offload=pool.run,
        spool=AudioSpool(tmp_path / "spool"),
        retry_seconds=RETRY_SECONDS,
    )
    clock = FakeClock()
    conversation = await ExamConversation.start(
        exam_deps(proxied, pool, clock, audio=audio), student, "medical"
    )
    yield Candidate(conversation, clock), audio, store
    await audio.drain()


async def test_a_short_database_outage_mid_answer_loses_and_doubles_nothing(
    sitting: tuple[Candidate, AnswerAudioRecorder, LocalAudioStore],
    proxy: TcpProxy,
    db: AsyncSession,
) -> None:
    candidate, audio, store = sitting
    turn = await sit_through_an_outage(candidate, proxy, SHORT_OUTAGE_SECONDS)
    assert turn.finished
    assert turn.end_reason == "completed"
    await assert_nothing_lost_or_doubled(db, candidate.conversation.session_code)
    await audio.drain()
    exam_session = await stored(db, candidate.conversation.session_code)
    kept = list(
        await db.scalars(
            select(Answer.answer_audio_path).where(
                Answer.session_id == exam_session.id, Answer.is_complete
            )
        )
    )
    assert len(kept) == 11
    for key in kept:  # recordings lost 0: each answer's, held ones included, stored
        assert key is not None
        assert await store.exists(key)


async def test_a_twenty_second_outage_mid_answer_loses_and_doubles_nothing(
    proxied: AsyncEngine, pool: InferencePool, student: User, proxy: TcpProxy, db: AsyncSession
) -> None:
    clock = FakeClock()
    conversation = await ExamConversation.start(exam_deps(proxied, pool, clock), student, "medical")
    candidate = Candidate(conversation, clock)
    turn = await sit_through_an_outage(candidate, proxy, REALISTIC_OUTAGE_SECONDS)
    assert turn.finished
    await assert_nothing_lost_or_doubled(db, conversation.session_code)


async def test_the_last_answer_waits_for_the_database_before_the_result(
    proxied: AsyncEngine, pool: InferencePool, student: User, proxy: TcpProxy, db: AsyncSession
) -> None:
    """Gone as the last answer is given: the result needs every answer stored, so the sitting
    waits for the database (not for ever: ``OutagePolicy.wait_seconds``) and then ends."""
    clock = FakeClock()
    conversation = await ExamConversation.start(exam_deps(proxied, pool, clock), student, "medical")
    candidate = Candidate(conversation, clock)
    await confirm(candidate)
    for number in range(1, 12):
        await candidate.say(MODEL_ANSWERS[number - 1])
    await proxy.cut()
    asyncio.get_running_loop().call_later(
        SHORT_OUTAGE_SECONDS, lambda: asyncio.ensure_future(proxy.restore())
    )
    last = await candidate.say(MODEL_ANSWERS[11])
    assert last.finished
    assert events_of(last, "technical_pause")
    kinds = [event["type"] for event in last.events]
    assert kinds.index("technical_pause_over") < kinds.index("result")
    [result] = events_of(last, "result")
    assert result["total_score"] == 120
    exam_session = await stored(db, conversation.session_code)
    numbers, evaluated, evaluations = await counts(db, exam_session)
    assert (numbers, evaluated, evaluations) == (list(range(1, 13)), 12, 12)


async def test_the_pause_is_said_as_soon_as_the_last_answer_is_held(
    proxied: AsyncEngine, pool: InferencePool, student: User, proxy: TcpProxy, db: AsyncSession
) -> None:
    """Gone as the last answer is given: the reply waits for the database (the result needs
    every answer), so the technical pause is said at once through the loop's
    ``speak_meanwhile``, not after the database is back with the reply. The database comes
    back only once the pause has been said: said late, the sitting would wait in vain."""
    clock = FakeClock()
    conversation = await ExamConversation.start(exam_deps(proxied, pool, clock), student, "medical")
    said: list[tuple[ExaminerTurn, bool]] = []
    restoring: set[asyncio.Task[None]] = set()

    def say(turn: ExaminerTurn) -> None:
        said.append((turn, proxy.up))
        restoring.add(asyncio.create_task(proxy.restore()))

    conversation.speak_meanwhile(say)
    candidate = Candidate(conversation, clock)
    await confirm(candidate)
    for number in range(1, 12):
        await candidate.say(MODEL_ANSWERS[number - 1])
    await proxy.cut()
    last = await candidate.say(MODEL_ANSWERS[11])

    [(pause, database_up)] = said
    assert [u.text for u in pause.utterances] == [PAUSE_TEXT]
    assert events_of(pause, "technical_pause")
    assert not database_up  # said while the write was held
    assert PAUSE_TEXT not in [u.text for u in last.utterances]  # and not again with the reply
    assert not events_of(last, "technical_pause")
    assert last.finished
    [result] = events_of(last, "result")
    assert result["total_score"] == 120


async def test_a_held_answer_written_twice_is_stored_once(
    engine: AsyncEngine, pool: InferencePool, student: User, db: AsyncSession
) -> None:
    """The commit of a held write may succeed while its reply is lost with the connection; the
    write is then replayed. The replay changes nothing: one answer, one evaluation."""
    clock = FakeClock()
    conversation = await ExamConversation.start(exam_deps(engine, pool, clock), student, "medical")
    await confirm(Candidate(conversation, clock))
    question = await db.scalar(
        select(Question).where(Question.college_type == "medical").order_by(Question.id).limit(1)
    )
    assert question is not None
    recorder = ExamRecorder(
        create_sessionmaker(engine), conversation.exam_session_id, user_id=student.id
    )
    grade = KeywordGrader().grade(
        GradingQuestion.from_mapping(vars(question)),
        MODEL_ANSWERS[0],
    )
    held = HeldAnswer(question, 1, HeardSpan(MODEL_ANSWERS[0], 0.9, 8.0, None, None))
    held.graded = Graded(grade, 300.0, 2.0)
    await held.write(recorder)
    await held.write(recorder)
    exam_session = await stored(db, conversation.session_code)
    numbers, evaluated, evaluations = await counts(db, exam_session)
    assert (numbers, evaluated, evaluations) == ([1], 1, 1)
    actions = await audit_actions(db, exam_session.id)
    assert actions.count("exam.answer_stored") == 1  # audit rows once too
    assert actions.count("exam.answer_evaluated") == 1


async def test_a_commit_whose_reply_was_lost_is_replayed_without_a_second_audit_row(
    sitting: tuple[Candidate, AnswerAudioRecorder, LocalAudioStore],
    proxy: TcpProxy,
    db: AsyncSession,
) -> None:
    """Answer 3's commit reaches PostgreSQL but its reply is lost with the connection (the
    proxy resets it as the reply comes back): the sitting holds the answer as in an outage and
    replays it at the next step. The replay finds its idempotency key and stores nothing twice:
    one answer, one evaluation, one of each audit row, the recording attached."""
    candidate, audio, store = sitting
    await confirm(candidate)
    for number in (1, 2):
        await candidate.say(MODEL_ANSWERS[number - 1])
    await audio.drain()  # no recording's commit races answer 3's
    proxy.lose_reply_to(b"COMMIT")
    paused = await candidate.say(MODEL_ANSWERS[2])
    assert proxy.replies_lost == 1
    assert events_of(paused, "technical_pause")
    assert question_numbers(paused) == [4]
    back = await candidate.say(MODEL_ANSWERS[3])
    assert back.events[0]["type"] == "technical_pause_over"
    assert question_numbers(back) == [5]
    await audio.drain()

    exam_session = await stored(db, candidate.conversation.session_code)
    assert await counts(db, exam_session) == ([1, 2, 3, 4], 4, 4)
    actions = await audit_actions(db, exam_session.id)
    assert actions.count("exam.answer_stored") == 4  # answer 3's once, not twice
    assert actions.count("exam.answer_evaluated") == 4
    assert actions.count("answer.audio_stored") == 4
    answer_3 = await db.scalar(
        select(Answer).where(Answer.session_id == exam_session.id, Answer.question_number == 3)
    )
    assert answer_3 is not None
    assert answer_3.answer_audio_path is not None
    assert await store.exists(answer_3.answer_audio_path)


async def test_a_client_dropped_during_an_outage_resumes_with_every_answer_kept(
    proxied: AsyncEngine, pool: InferencePool, student: User, proxy: TcpProxy, db: AsyncSession
) -> None:
    """The connection ends while answer 3 is only in memory: the sitting waits for the
    database before it lets go, so the resumed sitting finds answers 1 to 3 and asks 4."""
    clock = FakeClock()
    dependencies = exam_deps(proxied, pool, clock)
    conversation = await ExamConversation.start(dependencies, student, "medical")
    candidate = Candidate(conversation, clock)
    await confirm(candidate)
    for number in (1, 2):
        await candidate.say(MODEL_ANSWERS[number - 1])
    await proxy.cut()
    assert question_numbers(await candidate.say(MODEL_ANSWERS[2])) == [4]
    asyncio.get_running_loop().call_later(
        SHORT_OUTAGE_SECONDS, lambda: asyncio.ensure_future(proxy.restore())
    )
    await conversation.disconnected()

    resumed = await ExamConversation.resume(dependencies, conversation.session_code, student)
    assert question_numbers(await resumed.begin()) == [4]
    exam_session = await stored(db, conversation.session_code)
    assert await counts(db, exam_session) == ([1, 2, 3], 3, 3)
    assert "exam.disconnected" in await audit_actions(db, exam_session.id)
