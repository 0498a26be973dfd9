from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from newspeech.auth.deps import ScopeDep, utc
from newspeech.db.deps import DbSession
from newspeech.exams import queries
from newspeech.exams.schemas import ExamSessionDetail, ExamSessionRead
from newspeech.kit.ids import Id
from newspeech.kit.pagination import Page, PageRequest
from newspeech.kit.responses import COMMON_ERRORS
from newspeech.models import SessionStatus
from newspeech.results.schemas import ResultRead

router = APIRouter(prefix="/exam-sessions", tags=["exam sessions"], responses=COMMON_ERRORS)


@router.get("")
async def list_exam_sessions(
    db: DbSession,
    scope: ScopeDep,
    page: Annotated[PageRequest, Query()],
    college_type: Annotated[str | None, Query(max_length=50)] = None,
    status: SessionStatus | None = None,
    user_id: Id | None = None,
    created_from: dt.datetime | None = None,
    created_to: dt.datetime | None = None,
) -> Page[ExamSessionRead]:
    """Sittings you may see: students their own, examiners their colleges', admins all.
    Sortable by id, created_at, status, total_score, start_time."""
    f = queries.ExamSessionFilter(college_type, status, user_id, utc(created_from), utc(created_to))
    rows, total = await queries.list_sessions(db, scope, f, page)
    return Page(
        items=[ExamSessionRead.model_validate(s) for s in rows],
        total=total,
        page=page.page,
        size=page.size,
    )


@router.get("/{exam_session_id}")
async def get_exam_session(
    exam_session_id: Id, db: DbSession, scope: ScopeDep
) -> ExamSessionDetail:
    """The sitting with each answer (as asked), its evaluation, and the result."""
    exam_session = await queries.session_detail(db, scope, exam_session_id)
    return ExamSessionDetail.model_validate(exam_session)


@router.get("/{exam_session_id}/result")
async def get_exam_session_result(
    exam_session_id: Id, db: DbSession, scope: ScopeDep
) -> ResultRead:
    return ResultRead.model_validate(await queries.result_of_session(db, scope, exam_session_id))
