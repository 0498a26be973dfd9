"""Read-side queries of the REST API over results, limited to a scope."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.auth.scope import Scope
from newspeech.errors import NotFound
from newspeech.kit.pagination import PageRequest, fetch_page, order_by, where_given
from newspeech.models import Result


@dataclass(frozen=True)
class ResultFilter:
    user_id: int | None = None
    college_type: str | None = None
    pass_status: bool | None = None


RESULT_SORTABLE = {
    "id": Result.id,
    "generated_at": Result.generated_at,
    "total_score": Result.total_score,
    "percentage_correct": Result.percentage_correct,
}


async def list_results(
    db: AsyncSession, scope: Scope, f: ResultFilter, page: PageRequest
) -> tuple[list[Result], int]:
    query = select(Result)
    limit = scope.where(Result.college_type, Result.user_id)
    if limit is not None:
        query = query.where(limit)
    query = where_given(
        query,
        (Result.user_id, "==", f.user_id),
        (Result.college_type, "==", f.college_type),
        (Result.pass_status, "is", f.pass_status),
    )
    query = query.order_by(*order_by(page.sort, RESULT_SORTABLE, ["-generated_at", "-id"]))
    return await fetch_page(db, query, page)


async def get_result(db: AsyncSession, scope: Scope, result_id: int) -> Result:
    result = await db.get(Result, result_id)
    if result is None:
        raise NotFound(f"result {result_id} does not exist")
    scope.require(result.college_type, result.user_id, f"result {result_id}")
    return result
