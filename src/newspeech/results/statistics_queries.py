"""Gathering the data for item and test statistics from the database, one call per report.

Only sittings that have a result count (a result exists once a sitting is completed or
terminated and scored); each evaluation's current score is used, so examiner overrides count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.models import Answer, Evaluation, Question, Result
from newspeech.results.statistics import (
    CandidateScores,
    ExamStatistics,
    ItemStatistics,
    PassRate,
    Period,
    exam_statistics,
    item_statistics,
    pass_rates,
)


@dataclass(frozen=True)
class QuestionItem:
    """A bank question next to its statistics."""

    question_id: int
    scenario_id: int
    question_number: int
    question_text: str
    statistics: ItemStatistics[int]


@dataclass(frozen=True)
class CollegeStatisticsReport:
    college_type: str
    exam: ExamStatistics
    questions: list[QuestionItem]


class StatisticsRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def item_scores(
        self,
        college_type: str,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[tuple[int, int, int, int]]:
        """``(session_id, question_bank_id, score_obtained, max_score)`` per scored answer."""
        query = (
            select(
                Evaluation.session_id,
                Answer.question_bank_id,
                Evaluation.score_obtained,
                Evaluation.max_score,
            )
            .join(Answer, Answer.id == Evaluation.answer_id)
            .join(Result, Result.session_id == Evaluation.session_id)
            .where(Result.college_type == college_type)
            .order_by(Evaluation.session_id, Answer.question_bank_id, Answer.id)
        )
        query = query.where(*_window(since, until))
        return [(r[0], r[1], r[2], r[3]) for r in await self.db.execute(query)]

    async def test_max(
        self,
        college_type: str,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> int | None:
        """The largest result maximum among the college's results (120 by default rules)."""
        query = select(func.max(Result.max_score)).where(
            Result.college_type == college_type, *_window(since, until)
        )
        value = (await self.db.execute(query)).scalar_one_or_none()
        return None if value is None else int(value)

    async def result_outcomes(
        self,
        *,
        college_type: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[tuple[str, dt.datetime, bool]]:
        """``(college_type, generated_at, pass_status)`` per result, oldest first."""
        query = select(Result.college_type, Result.generated_at, Result.pass_status).order_by(
            Result.generated_at, Result.id
        )
        if college_type is not None:
            query = query.where(Result.college_type == college_type)
        query = query.where(*_window(since, until))
        return [(r[0], r[1], bool(r[2])) for r in await self.db.execute(query)]

    async def questions(self, ids: list[int]) -> dict[int, Question]:
        if not ids:
            return {}
        found = await self.db.scalars(select(Question).where(Question.id.in_(ids)))
        return {q.id: q for q in found}


def _window(since: dt.datetime | None, until: dt.datetime | None) -> list[ColumnElement[bool]]:
    conditions = []
    if since is not None:
        conditions.append(Result.generated_at >= since)
    if until is not None:
        conditions.append(Result.generated_at < until)
    return conditions


async def college_statistics_report(
    db: AsyncSession,
    college_type: str,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    bins: int = 10,
) -> CollegeStatisticsReport:
    """Per question facility, spread and discrimination, and the test's alpha, mean, median
    and histogram, for the college's scored sittings (results generated in [since, until))."""
    repo = StatisticsRepository(db)
    rows = await repo.item_scores(college_type, since=since, until=until)
    by_session: dict[int, dict[int, float]] = {}
    max_scores: dict[int, float] = {}
    for session_id, question_id, score, top in rows:
        # A question asked twice in one sitting (a retry) counts once, with the later score.
        by_session.setdefault(session_id, {})[question_id] = float(score)
        max_scores[question_id] = max(float(top), max_scores.get(question_id, 0.0))
    candidates = [CandidateScores(s, scores) for s, scores in by_session.items()]
    test_max = await repo.test_max(college_type, since=since, until=until)
    exam = exam_statistics(
        candidates, max_scores, bins=bins, test_max=None if test_max is None else float(test_max)
    )
    questions = await repo.questions(list(max_scores))
    items = [
        QuestionItem(
            question_id=stats.item,
            scenario_id=questions[stats.item].scenario_id,
            question_number=questions[stats.item].question_number,
            question_text=questions[stats.item].question_text,
            statistics=stats,
        )
        for stats in item_statistics(candidates, max_scores)
    ]
    items.sort(key=lambda q: (q.scenario_id, q.question_number))
    return CollegeStatisticsReport(college_type, exam, items)


async def pass_rate_report(
    db: AsyncSession,
    *,
    college_type: str | None = None,
    period: Period = "month",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[PassRate]:
    """Attempts, passes and pass rate per college per week or month."""
    outcomes = await StatisticsRepository(db).result_outcomes(
        college_type=college_type, since=since, until=until
    )
    return pass_rates(outcomes, period)
