"""One pagination, filtering and sorting convention for every list endpoint.

``?page=1&size=50&sort=-created_at,id``: pages count from 1, ``size`` is at most 100, ``sort``
names allowed fields, ``-`` for descending. Lists answer ``Page[ThingRead]``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from newspeech.errors import ValidationFailed

T = TypeVar("T")
MAX_PAGE_SIZE = 100


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int


class PageRequest(BaseModel):
    """Query parameters of every list endpoint."""

    model_config = ConfigDict(frozen=True)

    page: int = Field(default=1, ge=1, le=100_000, description="page number, from 1")
    size: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE, description="items per page")
    sort: str | None = Field(
        default=None,
        max_length=200,
        description="comma-separated fields, '-' for descending, e.g. -created_at,id",
    )

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def order_by(
    sort: str | None, allowed: Mapping[str, Any], default: Sequence[str]
) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for ``sort``; unknown fields are a 422 naming the allowed ones."""
    fields = [f.strip() for f in (sort or "").split(",") if f.strip()] or list(default)
    clauses: list[ColumnElement[Any]] = []
    for field in fields:
        name = field.lstrip("-+")
        column = allowed.get(name)
        if column is None:
            raise ValidationFailed(
                f"cannot sort by {name!r}; choose from {', '.join(sorted(allowed))}"
            )
        clauses.append(column.desc() if field.startswith("-") else column.asc())
    return clauses


Comparison = Literal["==", ">=", "<", "is"]
_COMPARE: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "==": operator.eq,
    ">=": operator.ge,
    "<": operator.lt,
    "is": lambda column, value: column.is_(value),
}


def where_given(query: Select[Any], *filters: tuple[Any, Comparison, object | None]) -> Select[Any]:
    """``query`` narrowed by each ``(column, comparison, value)`` whose value was given (not
    ``None``): a list endpoint's optional filters, one line each."""
    for column, comparison, value in filters:
        if value is not None:
            query = query.where(_COMPARE[comparison](column, value))
    return query


async def fetch_page(
    db: AsyncSession, query: Select[Any], request: PageRequest
) -> tuple[list[Any], int]:
    """The page's rows (ORM objects) and the total count of the filtered query."""
    total_query = select(func.count()).select_from(query.order_by(None).subquery())
    total = int((await db.execute(total_query)).scalar_one())
    if total == 0 or request.offset >= total:
        return [], total
    rows = await db.scalars(query.limit(request.size).offset(request.offset))
    return list(rows.unique()), total
