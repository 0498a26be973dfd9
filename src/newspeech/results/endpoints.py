from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from newspeech.auth.deps import ExaminerUser, ScopeDep
from newspeech.db.deps import DbSession
from newspeech.errors import NotFound
from newspeech.kit.ids import Id
from newspeech.kit.pagination import Page, PageRequest
from newspeech.kit.responses import COMMON_ERRORS
from newspeech.results import queries
from newspeech.results.schemas import CollegeStatisticsRead, ResultRead
from newspeech.results.service import StatisticsCache, college_statistics

router = APIRouter(prefix="/results", tags=["results"], responses=COMMON_ERRORS)


@router.get("")
async def list_results(
    db: DbSession,
    scope: ScopeDep,
    page: Annotated[PageRequest, Query()],
    user_id: Id | None = None,
    college_type: Annotated[str | None, Query(max_length=50)] = None,
    pass_status: bool | None = None,
) -> Page[ResultRead]:
    """Results you may see (students: their own). Sortable by id, generated_at, total_score,
    percentage_correct."""
    f = queries.ResultFilter(user_id, college_type, pass_status)
    rows, total = await queries.list_results(db, scope, f, page)
    return Page(
        items=[ResultRead.model_validate(r) for r in rows],
        total=total,
        page=page.page,
        size=page.size,
    )


@router.get("/statistics/{college_type}")
async def get_college_statistics(
    college_type: Annotated[str, Path(max_length=50)],
    _user: ExaminerUser,
    scope: ScopeDep,
    db: DbSession,
    request: Request,
) -> CollegeStatisticsRead:
    """Attempts, passes and score range of a college you manage (cached for CACHE_TTL_SECONDS)."""
    if not scope.manages_college(college_type):
        raise NotFound(f"college type {college_type!r} does not exist")
    cache: StatisticsCache = request.app.state.statistics_cache
    stats = await college_statistics(db, college_type, cache)
    return CollegeStatisticsRead(**vars(stats), pass_rate=stats.pass_rate)


@router.get("/{result_id}")
async def get_result(result_id: Id, db: DbSession, scope: ScopeDep) -> ResultRead:
    return ResultRead.model_validate(await queries.get_result(db, scope, result_id))
