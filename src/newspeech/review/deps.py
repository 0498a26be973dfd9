from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from newspeech.auth.deps import AuditorDep, ClockDep, ExaminerUser, ScopeDep
from newspeech.configuration.current import current_config
from newspeech.db.deps import DbSession
from newspeech.grading import AsyncGrader
from newspeech.grading.factory import GraderCache, keyword_graders
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
    """The grader a regrade uses: the exams' grader with the values stored now (a regrade is a
    decision taken now). A node without speech engines regrades, as it would grade, with the
    keyword grader."""
    graders: GraderCache | None = getattr(request.app.state, "graders", None)
    config = await current_config(db)
    return (graders or keyword_graders()).get(config.thresholds, config.llm_temperature)


ReviewServiceDep = Annotated[ReviewService, Depends(get_review_service)]
GraderDep = Annotated[AsyncGrader, Depends(get_grader)]
