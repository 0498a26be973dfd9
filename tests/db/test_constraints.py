"""Foreign keys, unique keys and the seed's ON DELETE rules, on every backend."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.audits.repository import AuditLogRepository
from newspeech.errors import Conflict
from newspeech.exams.repository import ExamSessionRepository
from newspeech.models import (
    Answer,
    AuditLog,
    CollegeType,
    Evaluation,
    ExamSession,
    FeedbackType,
    Question,
    Result,
    User,
)
from newspeech.questions.repository import QuestionRepository
from newspeech.results.service import calculate_result
from tests.fixtures.factories import answer_and_evaluate, make_questions, make_session, make_user


async def count(db: AsyncSession, model: type) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_evaluation_without_an_answer_is_rejected(db: AsyncSession) -> None:
    exam_session = await make_session(db)
    await db.commit()
    db.add(
        Evaluation(
            answer_id=10**9,
            session_id=exam_session.id,
            score_obtained=5,
            feedback_type=FeedbackType.PARTIAL,
        )
    )
    with pytest.raises(IntegrityError):
        await db.flush()


async def test_session_for_unknown_user_is_rejected(db: AsyncSession) -> None:
    await make_questions(db)
    await db.commit()
    db.add(ExamSession(user_id=10**9, college_type="medical", session_code="VIVA-0123456789AB"))
    with pytest.raises(IntegrityError):
        await db.flush()


async def test_duplicate_question_position_is_rejected(db: AsyncSession) -> None:
    questions = await make_questions(db, scenarios=1, per_scenario=1)
    await db.commit()
    with pytest.raises(Conflict, match="cannot insert questions"):
        await QuestionRepository(db).bulk_insert(
            [
                {
                    "college_type": "medical",
                    "scenario_id": questions[0].scenario_id,
                    "scenario_name": "Again",
                    "question_number": questions[0].question_number,
                    "question_text": "A second question in the same place",
                }
            ]
        )


async def test_deleting_a_user_cascades_to_sessions_and_keeps_audit_rows(
    db: AsyncSession,
) -> None:
    user = await make_user(db)
    questions = await make_questions(db)
    exam_session = await make_session(db, user)
    await answer_and_evaluate(db, exam_session, questions[0], 1, score=8)
    await ExamSessionRepository(db).complete(exam_session.id)
    await calculate_result(db, exam_session)
    await AuditLogRepository(db).log(
        "session.complete", user_id=user.id, session_id=exam_session.id
    )
    await db.commit()

    await db.execute(delete(User).where(User.id == user.id))
    await db.commit()

    for model in (ExamSession, Answer, Evaluation, Result):
        assert await count(db, model) == 0, model.__name__
    row = (await db.scalars(select(AuditLog))).one()
    await db.refresh(row)
    assert (row.user_id, row.session_id, row.action) == (None, None, "session.complete")
    assert await count(db, Question) == 12  # questions are not owned by sessions


async def test_deleting_a_session_cascades_to_answers_evaluations_and_result(
    db: AsyncSession,
) -> None:
    questions = await make_questions(db)
    exam_session = await make_session(db)
    await answer_and_evaluate(db, exam_session, questions[0], 1, score=3)
    await ExamSessionRepository(db).terminate(exam_session.id)
    await calculate_result(db, exam_session)
    await db.commit()

    await db.execute(delete(ExamSession).where(ExamSession.id == exam_session.id))
    await db.commit()
    assert [await count(db, m) for m in (Answer, Evaluation, Result)] == [0, 0, 0]
    assert await count(db, User) == 1


async def test_a_question_with_answers_cannot_be_deleted(db: AsyncSession) -> None:
    questions = await make_questions(db)
    exam_session = await make_session(db)
    await answer_and_evaluate(db, exam_session, questions[0], 1, score=3)
    await db.commit()
    with pytest.raises(IntegrityError):
        await db.execute(delete(Question).where(Question.id == questions[0].id))
    await db.rollback()
    assert await count(db, Question) == 12


async def test_a_college_type_in_use_cannot_be_deleted(db: AsyncSession) -> None:
    await make_user(db, college_type="aviation")
    await db.commit()
    with pytest.raises(IntegrityError):
        await db.execute(delete(CollegeType).where(CollegeType.code == "aviation"))
