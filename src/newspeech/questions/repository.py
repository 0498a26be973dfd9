from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Text, func, insert, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.db.base import utcnow
from newspeech.db.errors import integrity_as_conflict
from newspeech.models import Question


@dataclass(frozen=True)
class ScenarioSummary:
    scenario_id: int
    scenario_name: str
    scenario_description: str | None
    question_count: int


class QuestionRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, question_id: int) -> Question | None:
        return await self.db.get(Question, question_id)

    async def for_scenario(self, college_type: str, scenario_id: int) -> list[Question]:
        query = (
            select(Question)
            .where(Question.college_type == college_type, Question.scenario_id == scenario_id)
            .order_by(Question.question_number)
        )
        return list(await self.db.scalars(query))

    async def for_college(self, college_type: str) -> list[Question]:
        query = (
            select(Question)
            .where(Question.college_type == college_type)
            .order_by(Question.scenario_id, Question.question_number)
        )
        return list(await self.db.scalars(query))

    async def snapshots(
        self, college_type: str, columns: Sequence[str], *, batch: int
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """``columns`` of every question of the college as plain tuples, JSON columns as their
        text (no ORM objects, no JSON decoding: an import plans against 25,000 of them in
        another process), ``batch`` rows at a time so other requests run in between."""
        selected = [
            type_coerce(column, Text) if isinstance(column.type, JSON) else column
            for column in (getattr(Question, name) for name in columns)
        ]
        query = select(*selected).where(Question.college_type == college_type)
        result = await self.db.stream(query.execution_options(yield_per=batch))
        async for partition in result.partitions():
            yield [tuple(row) for row in partition]

    async def update_many(self, changes: Sequence[dict[str, Any]]) -> None:
        """Update questions by id, each with its own columns (``{"id": ..., column: value}``)."""
        if changes:
            await self.db.execute(update(Question), list(changes))

    async def scenarios(self, college_type: str) -> list[ScenarioSummary]:
        """The college's scenarios in order, each with its name, case text and question count."""
        query = (
            select(
                Question.scenario_id,
                func.min(Question.scenario_name),
                func.min(Question.scenario_description),
                func.count(Question.id),
            )
            .where(Question.college_type == college_type)
            .group_by(Question.scenario_id)
            .order_by(Question.scenario_id)
        )
        return [
            ScenarioSummary(int(row[0]), str(row[1]), row[2], int(row[3]))
            for row in await self.db.execute(query)
        ]

    async def bulk_insert(self, questions: Sequence[dict[str, Any]]) -> int:
        """Insert many questions in one statement; all or nothing. Returns the count. A Core
        insert of the table: the ORM's bulk insert adds a third to the CPU time per row."""
        if not questions:
            return 0
        now = utcnow()
        rows = [{"created_at": now, "updated_at": now, **row} for row in questions]
        async with integrity_as_conflict("cannot insert questions"):
            await self.db.execute(insert(Question.__table__), rows)  # type: ignore[arg-type]
        return len(rows)
