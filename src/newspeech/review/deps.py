from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from newspeech.auth.deps import AuditorDep, ClockDep, ExaminerUser, ScopeDep
from newspeech.configuration.repository import ConfigurationRepository
from newspeech.db.deps import DbSession
from newspeech.grading import AsyncGrader, GradingThresholds, KeywordGrader
from newspeech.grading.factory import PooledGrader
from newspeech.review.service import ReviewService


def get_review_service(
    request: Request,
    db: DbSession,
    auditor: AuditorDep,
    scope: ScopeDep,
    clock: ClockDep,
    _user: ExaminerUser,
) -> ReviewService:
    return ReviewService(db, auditor, scope, clock, request.app.state.statistics_cache)


async def get_grader(request: Request, db: DbSession) -> AsyncGrader:
    """The grader the exams use (built once at start-up). A node without speech engines has
    none and regrades, as it would grade, with the keyword grader and the stored thresholds."""
    grader: AsyncGrader | None = request.app.state.grader
    if grader is not None:
        return grader
    thresholds = GradingThresholds.from_config(await ConfigurationRepository(db).values())
    return PooledGrader(KeywordGrader(thresholds))


ReviewServiceDep = Annotated[ReviewService, Depends(get_review_service)]
GraderDep = Annotated[AsyncGrader, Depends(get_grader)]
