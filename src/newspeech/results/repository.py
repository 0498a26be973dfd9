from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.db.errors import integrity_as_conflict
from newspeech.models import ExamSession, Result
from newspeech.results.rules import ResultSummary


@dataclass(frozen=True)
class CollegeStatistics:
    college_type: str
    attempts: int
    passes: int
    average_percentage: float | None
    highest_score: int | None
    lowest_score: int | None

    @property
    def pass_rate(self) -> float | None:
        return None if self.attempts == 0 else self.passes / self.attempts


class ResultRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def create(
        self,
        exam_session: ExamSession,
        summary: ResultSummary,
        *,
        certificate_path: str | None = None,
    ) -> Result:
        result = Result(
            session_id=exam_session.id,
            user_id=exam_session.user_id,
            college_type=exam_session.college_type,
            total_score=summary.total_score,
            max_score=summary.max_score,
            percentage_correct=summary.percentage,
            grade=summary.grade,
            pass_status=summary.passed,
            result_json=summary.to_json(),
            certificate_path=certificate_path,
        )
        self.db.add(result)
        async with integrity_as_conflict(f"cannot store result of {exam_session.session_code}"):
            await self.db.flush()
        return result

    async def get(self, result_id: int) -> Result | None:
        return await self.db.get(Result, result_id)

    async def by_session(self, exam_session_id: int) -> Result | None:
        query = select(Result).where(Result.session_id == exam_session_id)
        return (await self.db.scalars(query)).one_or_none()

    async def by_user(self, user_id: int) -> list[Result]:
        query = (
            select(Result)
            .where(Result.user_id == user_id)
            .order_by(Result.generated_at.desc(), Result.id.desc())
        )
        return list(await self.db.scalars(query))

    async def college_statistics(self, college_type: str) -> CollegeStatistics:
        query = select(
            func.count(Result.id),
            func.coalesce(func.sum(case((Result.pass_status.is_(True), 1), else_=0)), 0).cast(
                Integer
            ),
            func.avg(Result.percentage_correct),
            func.max(Result.total_score),
            func.min(Result.total_score),
        ).where(Result.college_type == college_type)
        row: Any = (await self.db.execute(query)).one()
        return CollegeStatistics(
            college_type=college_type,
            attempts=int(row[0]),
            passes=int(row[1]),
            average_percentage=None if row[2] is None else round(float(row[2]), 2),
            highest_score=None if row[3] is None else int(row[3]),
            lowest_score=None if row[4] is None else int(row[4]),
        )
