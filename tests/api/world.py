"""A small world for API tests: two colleges, an admin, an examiner of one college, a student
in each college, each student with a finished, graded sitting, an analyst (recording analysis,
no college); known passwords."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.auth.repository import AuthSessionRepository
from newspeech.auth.scope import set_assigned_colleges
from newspeech.config import Settings
from newspeech.configuration.repository import ConfigurationRepository
from newspeech.configuration.values import SEED_DEFAULTS
from newspeech.exams.repository import ExamSessionRepository
from newspeech.kit.tokens import AccessClaims, encode_access_token, hash_secret
from newspeech.models import ExamSession, Invitation, Question, Result, User, UserRole
from newspeech.results.service import calculate_result
from tests.fixtures.factories import (
    FACTORY_PASSWORD,
    answer_and_evaluate,
    make_questions,
    make_session,
    make_user,
)

PASSWORD = FACTORY_PASSWORD
INVITE_CODE = "test-invitation-code-medical"


@dataclass
class World:
    admin: User
    examiner: User
    student: User  # medical, the examiner's college
    other_student: User  # law: outside the examiner's college
    question: Question  # medical
    other_question: Question  # law
    exam_session: ExamSession
    other_exam_session: ExamSession
    result: Result
    other_result: Result
    analyst: User

    def user(self, role: str) -> User | None:
        return {
            "admin": self.admin,
            "examiner": self.examiner,
            "student": self.student,
            "analyst": self.analyst,
        }.get(role)


async def _graded_session(db: AsyncSession, user: User, questions: list[Question]) -> Result:
    exam_session = await make_session(db, user)
    for number, question in enumerate(questions[:3], start=1):
        await answer_and_evaluate(db, exam_session, question, number, 7)
    await ExamSessionRepository(db).complete(exam_session.id)
    return await calculate_result(db, exam_session)


async def build_world(db: AsyncSession) -> World:
    for default in SEED_DEFAULTS:
        await ConfigurationRepository(db).get_or_create(
            default.key, default.value, default.value_type, default.description
        )
    admin = await make_user(db, role=UserRole.ADMIN, college_type=None)
    examiner = await make_user(db, role=UserRole.EXAMINER)
    student = await make_user(db)
    other = await make_user(db, college_type="law")
    analyst = await make_user(db, role=UserRole.ANALYST, college_type=None)
    await set_assigned_colleges(db, examiner.id, ["medical"])
    medical = await make_questions(db, "medical")
    law = await make_questions(db, "law")
    result = await _graded_session(db, student, medical)
    other_result = await _graded_session(db, other, law)
    sessions = {
        r.user_id: await ExamSessionRepository(db).require(r.session_id)
        for r in (result, other_result)
    }
    await db.commit()
    return World(
        admin,
        examiner,
        student,
        other,
        medical[0],
        law[0],
        sessions[student.id],
        sessions[other.id],
        result,
        other_result,
        analyst,
    )


async def issue_token(db: AsyncSession, settings: Settings, user_id: int, now: dt.datetime) -> str:
    user = await db.get(User, user_id)
    assert user is not None
    auth_session = await AuthSessionRepository(db).create(
        user_id, expires_at=now + dt.timedelta(days=1), ip_address=None, user_agent=None
    )
    claims = AccessClaims(
        user_id, auth_session.id, user.role.value, now, now + dt.timedelta(minutes=15)
    )
    return encode_access_token(claims, settings.token_secret())


async def make_invitation(
    db: AsyncSession,
    *,
    created_by: User,
    expires_at: dt.datetime,
    code: str = INVITE_CODE,
    role: UserRole = UserRole.STUDENT,
    college_type: str | None = "medical",
) -> Invitation:
    invitation = Invitation(
        code_hash=hash_secret(code),
        role=role,
        college_type=college_type,
        created_by=created_by.id,
        expires_at=expires_at,
    )
    db.add(invitation)
    await db.flush()
    return invitation
