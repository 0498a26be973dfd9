"""Turning a finished sitting's evaluations into its stored result."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.configuration.repository import ConfigurationRepository
from newspeech.errors import Conflict, InvalidState
from newspeech.exams.repository import EvaluationRepository
from newspeech.kit.cache import TTLCache
from newspeech.models import ExamSession, Result, SessionStatus
from newspeech.results.repository import CollegeStatistics, ResultRepository
from newspeech.results.rules import QuestionScore, ResultPolicy, summarise


async def load_policy(db: AsyncSession) -> ResultPolicy:
    """The result rules as an admin has configured them (seed defaults where unset)."""
    return ResultPolicy.from_config(await ConfigurationRepository(db).values())


StatisticsCache = TTLCache[str, CollegeStatistics]


async def college_statistics(
    db: AsyncSession, college_type: str, cache: StatisticsCache | None = None
) -> CollegeStatistics:
    """Attempts, passes and score range of a college, served from ``cache`` while fresh."""
    cached = cache.get(college_type) if cache is not None else None
    if cached is not None:
        return cached
    statistics = await ResultRepository(db).college_statistics(college_type)
    if cache is not None:
        cache.set(college_type, statistics)
    return statistics


async def calculate_result(
    db: AsyncSession,
    exam_session: ExamSession,
    policy: ResultPolicy | None = None,
    *,
    cache: StatisticsCache | None = None,
) -> Result:
    """Sum the sitting's evaluations, apply the result rules, store the result and the total.

    The sitting must be completed (or terminated: a candidate who stops early still gets a
    result on what was answered). Flushes; the caller's unit of work commits.
    """
    if exam_session.status not in (SessionStatus.COMPLETED, SessionStatus.TERMINATED):
        raise InvalidState(
            f"exam session {exam_session.session_code} is {exam_session.status.value}; "
            "a result is calculated only once it is completed or terminated"
        )
    results = ResultRepository(db)
    if await results.by_session(exam_session.id) is not None:
        raise Conflict(f"exam session {exam_session.session_code} already has a result")
    policy = policy or await load_policy(db)
    rows = await EvaluationRepository(db).scores_by_question(exam_session.id)
    summary = summarise([QuestionScore(n, score, top) for n, score, top in rows], policy)
    exam_session.total_score = summary.total_score
    result = await results.create(exam_session, summary)
    if cache is not None:
        cache.invalidate(exam_session.college_type)
    return result
