from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from newspeech.attempts.schemas import AttemptGrantCreate, AttemptGrantRead, AttemptsRead
from newspeech.attempts.service import AttemptService, Standing
from newspeech.auth.deps import AuditorDep, ExaminerUser, ScopeDep
from newspeech.db.deps import DbSession
from newspeech.kit.ids import Id
from newspeech.kit.responses import COMMON_ERRORS

router = APIRouter(prefix="/attempts", tags=["attempts"], responses=COMMON_ERRORS)

CollegePath = Annotated[str, Path(min_length=1, max_length=50)]


def get_service(db: DbSession, auditor: AuditorDep, scope: ScopeDep) -> AttemptService:
    return AttemptService(db, auditor, scope)


ServiceDep = Annotated[AttemptService, Depends(get_service)]


def _read(found: Standing) -> AttemptsRead:
    return AttemptsRead(
        user_id=found.user_id,
        college_type=found.college_type,
        max_attempts=found.max_attempts,
        granted=found.granted,
        allowed=found.allowed,
        used=found.used,
        remaining=found.remaining,
        unfinished_session_code=found.unfinished_session_code,
        grants=[AttemptGrantRead.model_validate(g) for g in found.grants],
    )


@router.get("/{college_type}/{user_id}")
async def get_attempts(college_type: CollegePath, user_id: Id, service: ServiceDep) -> AttemptsRead:
    """A candidate's attempts at a college's exam: students their own, examiners those of
    their colleges, admins all."""
    return _read(await service.get(user_id, college_type))


@router.post("/{college_type}/{user_id}/grants", status_code=status.HTTP_201_CREATED)
async def grant_attempt(
    college_type: CollegePath,
    user_id: Id,
    body: AttemptGrantCreate,
    examiner: ExaminerUser,
    service: ServiceDep,
) -> AttemptsRead:
    """Allow the candidate one more attempt (examiners of the college and admins; audited as
    ``attempt.grant``)."""
    return _read(await service.grant(examiner, user_id, college_type, body.reason))
