from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.db.engine import unit_of_work
from newspeech.errors import Conflict, InvalidState
from newspeech.exams.repository import (
    AnswerInput,
    AnswerRepository,
    EvaluationInput,
    EvaluationRepository,
    ExamSessionRepository,
)
from newspeech.models import Answer, EvaluatorType, FeedbackType, Question
from tests.fixtures.factories import answer_and_evaluate, make_questions, make_session


async def test_stores_answer_with_the_question_text_as_asked(db: AsyncSession) -> None:
    questions = await make_questions(db)
    exam_session = await make_session(db)
    answer = await AnswerRepository(db).store(
        exam_session,
        AnswerInput(
            question=questions[0],
            question_number=1,
            transcribed_text="I suspect sepsis",
            confidence_score=0.91,
            audio_duration_seconds=4.2,
            answer_audio_path="audio/1.wav",
        ),
    )
    await db.commit()
    questions[0].question_text = "An edited question"
    await db.commit()
    await db.refresh(answer)
    await db.refresh(exam_session)

    assert answer.question_text == "Scenario 1 question 1: what would you do?"
    assert answer.answer_text == answer.transcribed_text == "I suspect sepsis"
    assert answer.is_complete
    assert exam_session.questions_answered == 1
    assert await AnswerRepository(db).get(answer.id) is answer


async def test_rejects_answer_for_completed_or_pending_session(db: AsyncSession) -> None:
    questions = await make_questions(db)
    completed = await make_session(db)
    await ExamSessionRepository(db).complete(completed.id)
    pending = await make_session(db, started=False)
    for exam_session in (completed, pending):
        with pytest.raises(InvalidState, match="answers are accepted only while in_progress"):
            await AnswerRepository(db).store(
                exam_session, AnswerInput(question=questions[0], question_number=1)
            )


async def test_lists_answers_per_session_and_those_not_yet_evaluated(db: AsyncSession) -> None:
    questions = await make_questions(db)
    exam_session = await make_session(db)
    other = await make_session(db)
    first, _ = await answer_and_evaluate(db, exam_session, questions[0], 1, score=7)
    repo = AnswerRepository(db)
    second = await repo.store(exam_session, AnswerInput(question=questions[1], question_number=2))
    await repo.store(other, AnswerInput(question=questions[0], question_number=1))

    assert [a.id for a in await repo.for_session(exam_session.id)] == [first.id, second.id]
    assert [a.id for a in await repo.unevaluated(exam_session.id)] == [second.id]


async def test_stores_evaluations_and_sums_the_session_score(db: AsyncSession) -> None:
    questions = await make_questions(db)
    exam_session = await make_session(db)
    for number, score in enumerate((10, 4, 0), start=1):
        await answer_and_evaluate(db, exam_session, questions[number - 1], number, score)
    repo = EvaluationRepository(db)
    evaluations = await repo.for_session(exam_session.id)

    assert [e.score_obtained for e in evaluations] == [10, 4, 0]
    assert [e.percentage_correct for e in evaluations] == [100.0, 40.0, 0.0]
    assert evaluations[0].evaluator_type is EvaluatorType.KEYWORD_MATCH
    assert await repo.session_score(exam_session.id) == 14
    assert await repo.session_score(exam_session.id + 999) == 0


async def test_rejects_second_evaluation_of_an_answer_and_out_of_range_scores(
    db: AsyncSession,
) -> None:
    questions = await make_questions(db)
    exam_session = await make_session(db)
    answer, _ = await answer_and_evaluate(db, exam_session, questions[0], 1, score=5)
    await db.commit()
    repo = EvaluationRepository(db)
    with pytest.raises(ValueError, match=r"outside 0\.\.10"):
        await repo.store(
            answer, EvaluationInput(score_obtained=11, feedback_type=FeedbackType.CORRECT)
        )
    with pytest.raises(Conflict, match=f"evaluation of answer {answer.id}"):
        await repo.store(
            answer, EvaluationInput(score_obtained=3, feedback_type=FeedbackType.PARTIAL)
        )


async def test_batch_with_one_bad_answer_leaves_no_row(
    db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    questions = await make_questions(db)
    exam_session = await make_session(db)
    await db.commit()
    ghost = Question(id=10**9, question_number=3, question_text="never stored")
    batch = [
        AnswerInput(question=questions[0], question_number=1, transcribed_text="fine"),
        AnswerInput(question=questions[1], question_number=2, transcribed_text="fine too"),
        AnswerInput(question=ghost, question_number=3, transcribed_text="bad foreign key"),
    ]

    async def store_batch() -> None:
        async with unit_of_work(sessionmaker) as work:
            target = await ExamSessionRepository(work).require(exam_session.id)
            await AnswerRepository(work).store_many(target, batch)

    with pytest.raises(Conflict):
        await store_batch()

    async with sessionmaker() as check:
        count = await check.scalar(select(func.count(Answer.id)))
        target = await ExamSessionRepository(check).require(exam_session.id)
        assert (count, target.questions_answered) == (0, 0)
