"""The examiner browser tests' data: a seeded SQLite database with an examiner, a student and
finished medical sittings stored through the repositories and the result service, as the
exam engine stores them."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.answers.audio.service import AnswerAudioRecorder
from newspeech.auth.scope import set_assigned_colleges
from newspeech.exams.repository import (
    AnswerInput,
    AnswerRepository,
    EvaluationInput,
    EvaluationRepository,
    ExamSessionRepository,
)
from newspeech.kit.passwords import hash_password
from newspeech.models import Answer, FeedbackType, Question, User, UserRole
from newspeech.questions.repository import QuestionRepository
from newspeech.results.service import calculate_result
from newspeech.seed import seed_reference_data
from newspeech.storage.protocols import AudioStore
from newspeech.users.repository import UserRepository
from newspeech.voice.audio import decode_audio

PASSWORD = "a long enough passphrase for tests"
EXAMINER = "exam.iner"
STUDENT = "asha.rao"

SCORES = (8, 7, 6, 5, 2, 6, 7, 5, 6, 4, 6, 6)
"""Asha's sitting: 68 / 120 = 57 %, grade E, passed (the seed's pass mark is 50 %)."""
OVERRIDDEN = 5
"""The question whose answer (scored 2) the examiner raises to 10: 76 / 120 = 63 %, grade D."""
OTHER_SITTINGS = (
    (9, 9, 8, 9, 8, 7, 9, 8, 9, 7, 8, 9),
    (3, 2, 4, 1, 2, 3, 2, 4, 3, 1, 2, 3),
    (6, 5, 7, 6, 5, 6, 4, 6, 5, 6, 7, 5),
)


@dataclass(frozen=True)
class Sitting:
    id: int
    code: str
    answer_ids: tuple[int, ...]
    question_ids: tuple[int, ...]


def feedback_type(score: int) -> FeedbackType:
    if score >= 7:
        return FeedbackType.CORRECT
    return FeedbackType.PARTIAL if score >= 4 else FeedbackType.INCORRECT


async def make_account(db: AsyncSession, username: str, full_name: str, role: UserRole) -> User:
    return await UserRepository(db).create(
        username=username,
        email=f"{username}@example.org",
        password_hash=hash_password(PASSWORD),
        full_name=full_name,
        role=role,
        college_type="medical",
    )


async def finished_sitting(
    db: AsyncSession,
    student: User,
    questions: Sequence[Question],
    scores: Sequence[int],
    *,
    ended: dt.datetime,
) -> Sitting:
    """A completed sitting: one graded answer per question, then its result."""
    sittings = ExamSessionRepository(db)
    exam_session = await sittings.create(user_id=student.id, college_type="medical")
    await sittings.start(exam_session.id, at=ended - dt.timedelta(minutes=30))
    answers: list[Answer] = []
    for number, (question, score) in enumerate(zip(questions, scores, strict=True), start=1):
        answer = await AnswerRepository(db).store(
            exam_session,
            AnswerInput(
                question=question,
                question_number=number,
                transcribed_text=f"My answer to question {number} names {score} key points.",
                confidence_score=0.9,
            ),
        )
        await EvaluationRepository(db).store(
            answer,
            EvaluationInput(
                score_obtained=score,
                feedback_type=feedback_type(score),
                feedback=f"Machine feedback on answer {number}.",
                matched_keywords=["sepsis"] if score >= 5 else [],
                missing_keywords=[] if score >= 5 else ["fluids"],
            ),
        )
        answers.append(answer)
    exam_session = await sittings.complete(exam_session.id, at=ended)
    await calculate_result(db, exam_session)
    return Sitting(
        exam_session.id,
        exam_session.session_code,
        tuple(a.id for a in answers),
        tuple(q.id for q in questions),
    )


async def seed_workspace(
    sessionmaker: async_sessionmaker[AsyncSession], store: AudioStore, recording: Path
) -> Sitting:
    """Reference data, the examiner, the student, Asha's sitting and three others (for the
    statistics); ``recording`` (any format uploads accept) is kept as the audio of Asha's
    answer to question :data:`OVERRIDDEN`, as the live exam keeps it. Returns Asha's sitting."""
    async with sessionmaker() as db:
        await seed_reference_data(db)
        examiner = await make_account(db, EXAMINER, "Dr Examiner", UserRole.EXAMINER)
        await set_assigned_colleges(db, examiner.id, ["medical"])
        asha = await make_account(db, STUDENT, "Asha Rao", UserRole.STUDENT)
        questions = (await QuestionRepository(db).for_college("medical"))[:12]
        now = dt.datetime.now(dt.UTC)
        for n, scores in enumerate(OTHER_SITTINGS, start=1):
            other = await make_account(db, f"student{n}", f"Student {n}", UserRole.STUDENT)
            await finished_sitting(
                db, other, questions, scores, ended=now - dt.timedelta(days=n * 7)
            )
        sitting = await finished_sitting(db, asha, questions, SCORES, ended=now)
        await db.commit()
    pcm = decode_audio(await asyncio.to_thread(recording.read_bytes), max_seconds=30)
    key = await AnswerAudioRecorder(store, sessionmaker).store_now(
        sitting.answer_ids[OVERRIDDEN - 1], sitting.id, asha.id, pcm.tobytes()
    )
    assert key is not None, "the recording was not stored"
    return sitting
