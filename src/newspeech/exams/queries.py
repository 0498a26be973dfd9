"""Read-side queries of the REST API over exam sittings and results, limited to a scope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from newspeech.auth.scope import Scope
from newspeech.errors import NotFound
from newspeech.exams.repository import ExamSessionRepository
from newspeech.kit.pagination import PageRequest, fetch_page, order_by, where_given
from newspeech.models import ExamSession, Result, SessionStatus


@dataclass(frozen=True)
class ExamSessionFilter:
    college_type: str | None = None
    status: SessionStatus | None = None
    user_id: int | None = None
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None


SESSION_SORTABLE = {
    "id": ExamSession.id,
    "created_at": ExamSession.created_at,
    "status": ExamSession.status,
    "total_score": ExamSession.total_score,
    "start_time": ExamSession.start_time,
}


async def list_sessions(
    db: AsyncSession, scope: Scope, f: ExamSessionFilter, page: PageRequest
) -> tuple[list[ExamSession], int]:
    # The candidate is shown in every row: loaded with the page, not one query per row.
    query = select(ExamSession).options(joinedload(ExamSession.user))
    limit = scope.where(ExamSession.college_type, ExamSession.user_id)
    if limit is not None:
        query = query.where(limit)
    query = where_given(
        query,
        (ExamSession.college_type, "==", f.college_type),
        (ExamSession.status, "==", f.status),
        (ExamSession.user_id, "==", f.user_id),
        (ExamSession.created_at, ">=", f.created_from),
        (ExamSession.created_at, "<", f.created_to),
    )
    query = query.order_by(*order_by(page.sort, SESSION_SORTABLE, ["-created_at", "-id"]))
    return await fetch_page(db, query, page)


async def session_detail(db: AsyncSession, scope: Scope, exam_session_id: int) -> ExamSession:
    """The sitting with answers → evaluations and result (two queries), if in scope."""
    exam_session = await ExamSessionRepository(db).get_detailed(exam_session_id)
    if exam_session is None:
        raise NotFound(f"exam session {exam_session_id} does not exist")
    scope.require(
        exam_session.college_type, exam_session.user_id, f"exam session {exam_session_id}"
    )
    return exam_session


async def result_of_session(db: AsyncSession, scope: Scope, exam_session_id: int) -> Result:
    exam_session = await ExamSessionRepository(db).get(exam_session_id)
    if exam_session is None:
        raise NotFound(f"exam session {exam_session_id} does not exist")
    scope.require(
        exam_session.college_type, exam_session.user_id, f"exam session {exam_session_id}"
    )
    result = (await db.scalars(select(Result).where(Result.session_id == exam_session_id))).first()
    if result is None:
        raise NotFound(f"exam session {exam_session_id} has no result yet")
    return result
