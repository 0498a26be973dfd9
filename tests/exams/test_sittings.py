"""A sitting that can't be lost or gamed, on every database backend: a start resumes the
unfinished sitting, new sittings follow the attempt policy, and each sitting asks and grades
the exam form chosen when it started, whatever happens to the bank meanwhile."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.attempts.service import AttemptService
from newspeech.audits.service import Auditor, ClientInfo
from newspeech.auth.scope import load_scope, set_assigned_colleges
from newspeech.configuration.repository import ConfigurationRepository
from newspeech.errors import AttemptLimitReached, Conflict
from newspeech.exams.dependencies import ExamDependencies
from newspeech.exams.repository import (
    AnswerRepository,
    EvaluationRepository,
    ExamSessionRepository,
)
from newspeech.exams.service import ExamConversation
from newspeech.grading import KeywordGrader
from newspeech.grading.factory import PooledGrader
from newspeech.models import AuditLog, ExamSession, SessionStatus, User, UserRole
from newspeech.questions.banks import BANKS_DIR, load_bank
from newspeech.questions.importer import import_questions
from newspeech.questions.interchange import ImportFormat, parse_questions
from newspeech.questions.repository import QuestionRepository
from newspeech.questions.schemas import QuestionUpdate
from newspeech.questions.service import QuestionService
from newspeech.voice.conversation import Control
from newspeech.voice.pool import InferencePool
from tests.exams.plans import FakeClock
from tests.exams.test_service import Candidate, question_numbers, stored
from tests.fixtures.factories import make_user

MEDICAL = load_bank(BANKS_DIR / "medical.yaml")
MODEL_ANSWERS = [q.model_answer for s in MEDICAL.scenarios for q in s.questions]
# Two more cases, five questions: a bank of 17 where total_questions is 12.
EXTRA_CASES = b"""$CATEGORY: $course$/medical/5. Sepsis on the ward

::S1:: Which bedside score screens for sepsis? {####The qSOFA score.}

::S2:: Which bundle do you start within the first hour? {####The sepsis six.}

$CATEGORY: $course$/medical/6. Falls clinic

::F1:: Which medicines raise the risk of falls? {####Sedatives and antihypertensives.}

::F2:: Which test of gait would you use first? {####The timed up and go test.}

::F3:: Which bone protection would you offer? {####A bisphosphonate with calcium and vitamin D.}
"""


@pytest.fixture
def exam_deps(
    sessionmaker: async_sessionmaker[AsyncSession], pool: InferencePool
) -> ExamDependencies:
    return ExamDependencies(
        sessionmaker=sessionmaker,
        grader=PooledGrader(KeywordGrader(), pool.run),
        clock=FakeClock(),
        rng=random.Random(7),
    )


async def begin(deps: ExamDependencies, student: User) -> Candidate:
    conversation = await ExamConversation.start(deps, student, "medical")
    assert isinstance(deps.clock, FakeClock)
    return Candidate(conversation, deps.clock)


async def confirmed(deps: ExamDependencies, student: User) -> Candidate:
    candidate = await begin(deps, student)
    await candidate.conversation.begin()
    turn = await candidate.say("Yes, that's me.", seconds=1.0)
    assert question_numbers(turn) == [1]
    return candidate


async def sittings(db: AsyncSession, user: User) -> list[ExamSession]:
    await db.commit()
    query = (
        select(ExamSession)
        .where(ExamSession.user_id == user.id)
        .order_by(ExamSession.id)
        .execution_options(populate_existing=True)
    )
    return list(await db.scalars(query))


async def actions(db: AsyncSession, user: User) -> list[str]:
    await db.commit()
    query = select(AuditLog.action).where(AuditLog.user_id == user.id).order_by(AuditLog.id)
    return list(await db.scalars(query))


async def examiner_service(db: AsyncSession, examiner: User) -> AttemptService:
    return AttemptService(db, Auditor(db, ClientInfo()), await load_scope(db, examiner))


# -- signing in again resumes ---------------------------------------------------------------


async def test_a_start_with_a_sitting_in_progress_resumes_it(
    exam_deps: ExamDependencies, student: User, db: AsyncSession
) -> None:
    first = await confirmed(exam_deps, student)
    assert not first.conversation.resumed
    await first.say(MODEL_ANSWERS[0], seconds=10.0)
    await first.conversation.disconnected()

    again = await begin(exam_deps, student)
    assert again.conversation.resumed
    assert again.conversation.session_code == first.conversation.session_code
    back = await again.conversation.begin()
    assert question_numbers(back) == [2]  # nothing asked twice, no identity step again
    assert len(await sittings(db, student)) == 1
    assert (await actions(db, student)).count("exam.resumed") == 1


async def test_a_start_before_the_identity_was_confirmed_resumes_the_pending_sitting(
    exam_deps: ExamDependencies, student: User, db: AsyncSession
) -> None:
    first = await begin(exam_deps, student)
    await first.conversation.begin()
    again = await begin(exam_deps, student)
    assert again.conversation.resumed
    assert again.conversation.session_code == first.conversation.session_code
    [sitting] = await sittings(db, student)
    assert sitting.status is SessionStatus.PENDING


# -- the attempt policy ------------------------------------------------------------------------


async def test_a_second_attempt_is_refused_once_the_first_has_ended(
    exam_deps: ExamDependencies, student: User, db: AsyncSession
) -> None:
    candidate = await confirmed(exam_deps, student)
    end = await candidate.conversation.control(Control.END)
    assert end.finished

    with pytest.raises(AttemptLimitReached) as refused:
        await begin(exam_deps, student)
    assert refused.value.code == "attempt_limit_reached"
    assert "ask your examiner to allow another attempt" in refused.value.detail
    assert "Medical exam" in refused.value.detail
    assert len(await sittings(db, student)) == 1
    assert (await actions(db, student))[-1] == "exam.start_refused"


async def test_a_sitting_ended_at_the_identity_step_counts_as_an_attempt(
    exam_deps: ExamDependencies, student: User, db: AsyncSession
) -> None:
    candidate = await begin(exam_deps, student)
    await candidate.conversation.begin()
    turn = await candidate.say("No, that is not me.", seconds=1.0)
    assert turn.finished
    with pytest.raises(AttemptLimitReached):
        await begin(exam_deps, student)
    [sitting] = await sittings(db, student)
    assert sitting.status is SessionStatus.TERMINATED


async def test_an_examiner_allows_another_attempt_and_it_is_audited(
    exam_deps: ExamDependencies, student: User, db: AsyncSession
) -> None:
    candidate = await confirmed(exam_deps, student)
    await candidate.conversation.control(Control.END)
    examiner = await make_user(db, role=UserRole.EXAMINER)
    await set_assigned_colleges(db, examiner.id, ["medical"])
    service = await examiner_service(db, examiner)
    before = await service.get(student.id, "medical")
    assert (before.allowed, before.used, before.remaining) == (1, 1, 0)
    after = await service.grant(examiner, student.id, "medical", "fire alarm in the hall")
    await db.commit()
    assert (after.allowed, after.used, after.remaining, after.granted) == (2, 1, 1, 1)
    assert after.grants[0].granted_by == examiner.id

    second = await confirmed(exam_deps, student)
    assert not second.conversation.resumed
    await second.conversation.control(Control.END)
    with pytest.raises(AttemptLimitReached):
        await begin(exam_deps, student)

    assert [s.attempt_number for s in await sittings(db, student)] == [1, 2]
    grant_rows = list(await db.scalars(select(AuditLog).where(AuditLog.action == "attempt.grant")))
    assert [(r.user_id, r.resource_type) for r in grant_rows] == [(examiner.id, "attempt_grant")]
    assert grant_rows[0].details is not None
    assert grant_rows[0].details["reason"] == "fire alarm in the hall"
    assert grant_rows[0].details["user_id"] == student.id


async def test_the_configured_max_attempts_is_the_default_for_everyone(
    exam_deps: ExamDependencies, student: User, db: AsyncSession
) -> None:
    await ConfigurationRepository(db).set("max_attempts", 2)
    await db.commit()
    for _ in range(2):
        candidate = await confirmed(exam_deps, student)
        await candidate.conversation.control(Control.END)
    with pytest.raises(AttemptLimitReached) as refused:
        await begin(exam_deps, student)
    assert "all 2 of your attempts" in refused.value.detail


# -- a fixed exam form -----------------------------------------------------------------------


async def test_questions_edited_or_imported_mid_sitting_never_reach_it(
    exam_deps: ExamDependencies, student: User, db: AsyncSession
) -> None:
    candidate = await confirmed(exam_deps, student)
    code = candidate.conversation.session_code
    bank = await QuestionRepository(db).for_college("medical")
    asked_second = bank[1].question_text
    admin = await make_user(db, role=UserRole.ADMIN, college_type=None)
    editor = QuestionService(db, Auditor(db, ClientInfo()), await load_scope(db, admin))
    # The examiner rewords question 2 and makes question 1 about something else entirely.
    await editor.update(admin, bank[1].id, QuestionUpdate(question_text="Reworded question two?"))
    await editor.update(
        admin,
        bank[0].id,
        QuestionUpdate.model_validate(
            {
                "model_answer": "Nothing to do with the heart.",
                "keywords": [{"term": "gout", "synonyms": [], "weight": 1}],
            }
        ),
    )
    report = await import_questions(db, parse_questions(EXTRA_CASES, ImportFormat.GIFT))
    assert (report.new, report.errors) == (5, 0)
    await db.commit()

    turn = await candidate.say(MODEL_ANSWERS[0], seconds=12.0)
    [question] = [e for e in turn.events if e["type"] == "question"]
    assert question["text"] == asked_second
    [evaluation] = [e for e in turn.events if e["type"] == "evaluation"]
    assert evaluation["score"] == 10  # graded against the question as it was asked
    await candidate.conversation.disconnected()

    resumed = await begin(exam_deps, student)
    assert resumed.conversation.session_code == code
    assert resumed.conversation.total_questions == 12
    back = await resumed.conversation.begin()
    [again] = [e for e in back.events if e["type"] == "question"]
    assert (again["number"], again["text"]) == (2, asked_second)
    await resumed.say(MODEL_ANSWERS[1], seconds=12.0)
    await resumed.conversation.control(Control.END)

    exam_session = await stored(db, code)
    answers = await AnswerRepository(db).for_session(exam_session.id)
    assert [a.question_text for a in answers[:2]] == [bank[0].question_text, asked_second]
    scores = [e.score_obtained for e in await EvaluationRepository(db).for_session(exam_session.id)]
    assert scores == [10, 10]


async def test_a_new_sitting_takes_total_questions_from_a_bank_grown_by_an_import(
    exam_deps: ExamDependencies, student: User, db: AsyncSession
) -> None:
    report = await import_questions(db, parse_questions(EXTRA_CASES, ImportFormat.GIFT))
    assert report.new == 5
    await db.commit()
    assert len(await QuestionRepository(db).for_college("medical")) == 17

    candidate = await begin(exam_deps, student)
    assert candidate.conversation.total_questions == 12
    [sitting] = await sittings(db, student)
    assert sitting.total_questions == 12
    stored_form = await ExamSessionRepository(db).form_of(sitting.id)
    assert stored_form is not None
    form = stored_form["scenarios"]
    assert sum(len(s["questions"]) for s in form) == 12
    ids = [q["question_id"] for s in form for q in s["questions"]]
    assert len(set(ids)) == 12
    assert [s["scenario_id"] for s in form] == sorted(s["scenario_id"] for s in form)


async def test_with_as_many_questions_as_total_questions_the_form_is_the_bank_in_order(
    exam_deps: ExamDependencies, student: User, db: AsyncSession
) -> None:
    candidate = await begin(exam_deps, student)
    bank = await QuestionRepository(db).for_college("medical")
    [sitting] = await sittings(db, student)
    stored_form = await ExamSessionRepository(db).form_of(sitting.id)
    assert stored_form is not None
    ids = [q["question_id"] for s in stored_form["scenarios"] for q in s["questions"]]
    assert ids == [q.id for q in bank]
    assert candidate.conversation.total_questions == 12
    assert await db.scalar(select(func.count(ExamSession.id))) == 1


async def test_a_question_on_an_unfinished_sitting_s_form_cannot_be_deleted(
    exam_deps: ExamDependencies, student: User, db: AsyncSession
) -> None:
    candidate = await confirmed(exam_deps, student)
    last = (await QuestionRepository(db).for_college("medical"))[-1]
    admin = await make_user(db, role=UserRole.ADMIN, college_type=None)
    editor = QuestionService(db, Auditor(db, ClientInfo()), await load_scope(db, admin))
    await db.commit()
    with pytest.raises(Conflict, match="has not finished"):
        await editor.delete(admin, last.id)  # refused before it changes anything
    await db.commit()

    await candidate.conversation.control(Control.END)
    await db.commit()
    await editor.delete(admin, last.id)  # never answered, and no sitting will ask it now
    await db.commit()
    assert await QuestionRepository(db).get(last.id) is None


async def test_two_starts_at_once_make_one_sitting(
    exam_deps: ExamDependencies, student: User, db: AsyncSession
) -> None:
    outcomes = await asyncio.gather(
        begin(exam_deps, student), begin(exam_deps, student), return_exceptions=True
    )
    [sitting] = await sittings(db, student)
    opened = [o for o in outcomes if isinstance(o, Candidate)]
    assert opened, outcomes
    assert {o.conversation.session_code for o in opened} == {sitting.session_code}
    # The loser of a true race is refused (4409), and may start again: it resumes.
    assert all(isinstance(o, Conflict) for o in outcomes if not isinstance(o, Candidate))
    again = await begin(exam_deps, student)
    assert (again.conversation.resumed, again.conversation.session_code) == (
        True,
        sitting.session_code,
    )
