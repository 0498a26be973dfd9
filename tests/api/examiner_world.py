"""Sittings for the examiner workspace tests: full 12-question medical sittings with known
scores, answers in the review queue, and a law sitting an examiner of medical must not see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.exams.repository import (
    AnswerInput,
    AnswerRepository,
    EvaluationInput,
    EvaluationRepository,
    ExamSessionRepository,
)
from newspeech.grading import KeywordGrader
from newspeech.models import (
    Answer,
    Evaluation,
    ExamSession,
    FeedbackType,
    Question,
    Result,
    User,
)
from newspeech.results.service import calculate_result
from newspeech.review.regrade import grading_question
from tests.fixtures.factories import make_session, make_user


@dataclass
class Sitting:
    exam_session: ExamSession
    answers: list[Answer]
    result: Result | None


async def sit(
    db: AsyncSession,
    student: User,
    questions: list[Question],
    scores: list[int],
    *,
    reasons: dict[int, list[str]] | None = None,
    transcripts: list[str] | None = None,
    corrected: dict[int, str] | None = None,
    finish: bool = True,
) -> Sitting:
    """One sitting answering ``questions`` in order with ``scores`` (review ``reasons`` by
    question index), completed and scored with the stored result rules when ``finish``.
    ``corrected`` gives, by question index, the text graded after term correction."""
    exam_session = await make_session(db, student)
    answers = []
    for index, (question, score) in enumerate(zip(questions, scores, strict=True)):
        text = transcripts[index] if transcripts else f"answer {index + 1} of {student.username}"
        answer = await AnswerRepository(db).store(
            exam_session,
            AnswerInput(
                question=question,
                question_number=index + 1,
                transcribed_text=text,
                answer_text=(corrected or {}).get(index),
                confidence_score=0.9,
            ),
        )
        kind = (
            FeedbackType.CORRECT
            if score >= 6
            else FeedbackType.PARTIAL
            if score > 3
            else FeedbackType.INCORRECT
        )
        await EvaluationRepository(db).store(
            answer,
            EvaluationInput(
                score_obtained=score,
                feedback_type=kind,
                review_reasons=(reasons or {}).get(index, []),
            ),
        )
        answers.append(answer)
    result = None
    if finish:
        await ExamSessionRepository(db).complete(exam_session.id)
        result = await calculate_result(db, exam_session)
    return Sitting(exam_session, answers, result)


async def graded_sitting(
    db: AsyncSession, student: User, question: Question, transcript: str
) -> Sitting:
    """A finished sitting of one answer graded by the keyword grader, as the exam would."""
    grade = KeywordGrader().grade(grading_question(question), transcript, asr_confidence=0.9)
    exam_session = await make_session(db, student)
    answer = await AnswerRepository(db).store(
        exam_session,
        AnswerInput(
            question=question, question_number=1, transcribed_text=transcript, confidence_score=0.9
        ),
    )
    await EvaluationRepository(db).store(
        answer,
        EvaluationInput(
            score_obtained=grade.score,
            max_score=grade.max_score,
            feedback_type=grade.feedback_type,
            evaluator_type=grade.evaluator,
        ),
    )
    await ExamSessionRepository(db).complete(exam_session.id)
    result = await calculate_result(db, exam_session)
    return Sitting(exam_session, [answer], result)


async def evaluation_of(db: AsyncSession, answer_id: int) -> Evaluation:
    query = select(Evaluation).where(Evaluation.answer_id == answer_id)
    return (await db.scalars(query.execution_options(populate_existing=True))).one()


async def result_of(db: AsyncSession, exam_session_id: int) -> Result:
    query = select(Result).where(Result.session_id == exam_session_id)
    return (await db.scalars(query.execution_options(populate_existing=True))).one()


async def students(db: AsyncSession, n: int, college: str = "medical") -> list[User]:
    return [await make_user(db, college_type=college) for _ in range(n)]
