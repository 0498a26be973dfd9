"""Gathering the data for item and test statistics from the database, one call per report.

Item and test statistics count completed sittings that have a result; each evaluation's
current score is used, so examiner overrides count. A terminated sitting (ended early: by the
candidate, the time limit, a dropped connection) has a result but not a whole test, so it is
left out of them and counted apart; pass rates count every result, terminated ones included,
since each is an attempt.

Alpha and discrimination from a handful of candidates are noise: below
``statistics_min_candidates`` (configuration, default :data:`MIN_CANDIDATES`) they are not
given, and the report says why instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.configuration.current import current_config
from newspeech.models import Answer, Evaluation, ExamSession, Question, Result, SessionStatus
from newspeech.statistics.measures import (
    CandidateScores,
    ExamStatistics,
    ItemStatistics,
    PassRate,
    Period,
    exam_statistics,
    item_statistics,
    pass_rates,
)

# Fewer candidates than this and Cronbach's alpha or a discrimination index is not reported:
# with 30 candidates the 95 % interval of a correlation near 0.3 still spans about -0.07..0.6,
# and with fewer it says nothing an examiner could act on.
MIN_CANDIDATES = 30


@dataclass(frozen=True)
class QuestionItem:
    """A bank question next to its statistics."""

    question_id: int
    scenario_id: int
    question_number: int
    question_text: str
    statistics: ItemStatistics[int]
    discrimination_note: str | None = None


@dataclass(frozen=True)
class CollegeStatisticsReport:
    college_type: str
    exam: ExamStatistics
    questions: list[QuestionItem]
    min_candidates: int = MIN_CANDIDATES
    terminated_excluded: int = 0
    cronbach_alpha_note: str | None = None


def too_few(count: int, minimum: int, what: str) -> str | None:
    """Why a statistic is withheld, or ``None`` when there are enough candidates."""
    if count >= minimum:
        return None
    return (
        f"not given: {what} needs at least {minimum} candidates to mean anything, "
        f"and there {'is' if count == 1 else 'are'} {count}"
    )


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
            .join(ExamSession, ExamSession.id == Result.session_id)
            .where(
                Result.college_type == college_type,
                ExamSession.status == SessionStatus.COMPLETED,
            )
            .order_by(Evaluation.session_id, Answer.question_bank_id, Answer.id)
        )
        query = query.where(*_window(since, until))
        return [(r[0], r[1], r[2], r[3]) for r in await self.db.execute(query)]

    async def terminated_results(
        self,
        college_type: str,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> int:
        """How many of the college's results belong to terminated sittings."""
        query = (
            select(func.count(Result.id))
            .join(ExamSession, ExamSession.id == Result.session_id)
            .where(
                Result.college_type == college_type,
                ExamSession.status == SessionStatus.TERMINATED,
                *_window(since, until),
            )
        )
        return int((await self.db.execute(query)).scalar_one())

    async def test_max(
        self,
        college_type: str,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> int | None:
        """The largest result maximum among the college's completed sittings' results (120 by
        default rules)."""
        query = (
            select(func.max(Result.max_score))
            .join(ExamSession, ExamSession.id == Result.session_id)
            .where(
                Result.college_type == college_type,
                ExamSession.status == SessionStatus.COMPLETED,
                *_window(since, until),
            )
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
    min_candidates: int | None = None,
) -> CollegeStatisticsReport:
    """Per question facility, spread and discrimination, and the test's alpha, mean, median
    and histogram, for the college's completed, scored sittings (results generated in
    [since, until)); alpha and discrimination only from ``min_candidates`` candidates up
    (default: the configured ``statistics_min_candidates``)."""
    repo = StatisticsRepository(db)
    if min_candidates is None:
        min_candidates = (await current_config(db)).statistics_min_candidates
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
    alpha_note = too_few(exam.candidates, min_candidates, "Cronbach's alpha")
    if alpha_note is not None:
        exam = replace(exam, cronbach_alpha=None)
    questions = await repo.questions(list(max_scores))
    items = []
    for stats in item_statistics(candidates, max_scores):
        note = too_few(stats.attempts, min_candidates, "a discrimination index")
        question = questions[stats.item]
        items.append(
            QuestionItem(
                question_id=stats.item,
                scenario_id=question.scenario_id,
                question_number=question.question_number,
                question_text=question.question_text,
                statistics=stats if note is None else replace(stats, discrimination=None),
                discrimination_note=note,
            )
        )
    items.sort(key=lambda q: (q.scenario_id, q.question_number))
    terminated = await repo.terminated_results(college_type, since=since, until=until)
    return CollegeStatisticsReport(
        college_type, exam, items, min_candidates, terminated, cronbach_alpha_note=alpha_note
    )


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
