"""Turning a finished sitting's evaluations into its stored result."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.configuration.current import current_config
from newspeech.db.engine import after_commit
from newspeech.errors import Conflict, InvalidState
from newspeech.exams.repository import EvaluationRepository
from newspeech.kit.cache import LocalCache, RedisCache, SharedCache, TTLCache
from newspeech.models import Answer, Evaluation, ExamSession, Result, SessionStatus
from newspeech.results.repository import CollegeStatistics, ResultRepository
from newspeech.results.rules import QuestionScore, ResultPolicy, ResultSummary, summarise

logger = logging.getLogger(__name__)


async def load_policy(db: AsyncSession) -> ResultPolicy:
    """The result rules as an admin has configured them (seed defaults where unset).

    Writes are validated (``ConfigurationService``), but a value stored before that check
    existed may still contradict itself: then the seed's rules apply and the log says why,
    rather than every result and override failing until an admin notices.
    """
    values = (await current_config(db)).values()
    try:
        return ResultPolicy.from_config(values)
    except (ValueError, TypeError, AttributeError) as exc:
        logger.error("stored result rules are invalid (%s); using the seed's rules", exc)
        return ResultPolicy()


StatisticsCache = SharedCache[CollegeStatistics]


class StatisticsCodec:
    """A college's statistics as JSON, for a cache shared in Redis."""

    def encode(self, value: CollegeStatistics) -> str:
        return json.dumps(dataclasses.asdict(value))

    def decode(self, text: str) -> CollegeStatistics:
        return CollegeStatistics(**json.loads(text))


def statistics_cache(
    ttl_seconds: int, *, enabled: bool, redis: Redis | None = None, namespace: str = "newspeech:"
) -> StatisticsCache:
    """The college statistics cache: in Redis when there is one, so that a result stored on
    one node invalidates the statistics every node serves; else in this process. Its keys
    start with ``namespace`` (``Settings.redis_prefix``: one per installation)."""
    if redis is not None:
        return RedisCache(
            redis, ttl_seconds, StatisticsCodec(), prefix=f"{namespace}statistics:", enabled=enabled
        )
    return LocalCache(TTLCache(ttl_seconds, enabled=enabled))


async def college_statistics(
    db: AsyncSession, college_type: str, cache: StatisticsCache | None = None
) -> CollegeStatistics:
    """Attempts, passes and score range of a college, served from ``cache`` while fresh."""
    cached = await cache.get(college_type) if cache is not None else None
    if cached is not None:
        return cached
    statistics = await ResultRepository(db).college_statistics(college_type)
    if cache is not None:
        await cache.set(college_type, statistics)
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
        _invalidate_after_commit(db, cache, exam_session.college_type)
    return result


@dataclass(frozen=True)
class ResultChange:
    """A stored result before and after its sitting's scores changed."""

    session_id: int
    session_code: str
    old_total: int
    new_total: int
    old_grade: str | None
    new_grade: str
    old_passed: bool
    new_passed: bool
    certificate_invalidated: bool = False

    @property
    def changed(self) -> bool:
        return (self.old_total, self.old_grade, self.old_passed) != (
            self.new_total,
            self.new_grade,
            self.new_passed,
        )

    def audit(self) -> dict[str, Any]:
        return {
            "before": {"total": self.old_total, "grade": self.old_grade, "pass": self.old_passed},
            "after": {"total": self.new_total, "grade": self.new_grade, "pass": self.new_passed},
            "certificate_invalidated": self.certificate_invalidated,
        }


_IN_CHUNK = 500  # bound parameters per IN list, well inside every backend's limit


async def recompute_results(
    db: AsyncSession,
    exam_session_ids: Iterable[int],
    *,
    policy: ResultPolicy | None = None,
    scores: Mapping[int, int] | None = None,
    apply: bool = True,
    cache: StatisticsCache | None = None,
) -> list[ResultChange]:
    """Re-sum the stored results of these sittings from their evaluations, with the result
    rules (after an override or a regrade). Sittings without a result are left out.

    ``scores`` (answer id -> score) stands in for those answers' stored scores; with
    ``apply=False`` nothing is changed (a dry run). Applied, a changed result also updates the
    sitting's total and clears ``certificate_path``: the certificate states the old score
    (a passed sitting gets a new one on the next download). Flushes; the caller commits.
    """
    ids = sorted(set(exam_session_ids))
    if not ids:
        return []
    policy = policy or await load_policy(db)
    per_session: dict[int, list[QuestionScore]] = {}
    stored: dict[int, tuple[Result, str]] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        rows = await db.execute(
            select(
                Evaluation.session_id,
                Evaluation.answer_id,
                Answer.question_number,
                Evaluation.score_obtained,
                Evaluation.max_score,
            )
            .join(Answer, Answer.id == Evaluation.answer_id)
            .where(Evaluation.session_id.in_(chunk))
            .order_by(Evaluation.session_id, Answer.question_number, Answer.id)
        )
        for session_id, answer_id, number, score, top in rows:
            value = scores.get(answer_id, score) if scores is not None else score
            per_session.setdefault(session_id, []).append(QuestionScore(number, value, top))
        found = await db.execute(
            select(Result, ExamSession.session_code)
            .join(ExamSession, ExamSession.id == Result.session_id)
            .where(Result.session_id.in_(chunk))
        )
        stored |= {result.session_id: (result, code) for result, code in found}
    changes = []
    for session_id in ids:
        if session_id not in stored:
            continue
        result, code = stored[session_id]
        summary = summarise(per_session.get(session_id, []), policy)
        change = ResultChange(
            session_id,
            code,
            result.total_score,
            summary.total_score,
            result.grade,
            summary.grade,
            result.pass_status,
            summary.passed,
            certificate_invalidated=apply
            and result.certificate_path is not None
            and summary.total_score != result.total_score,
        )
        changes.append(change)
        if apply and (change.changed or summary.percentage != result.percentage_correct):
            _store_summary(result, summary)
            await db.execute(
                update(ExamSession)
                .where(ExamSession.id == session_id)
                .values(total_score=summary.total_score),
                execution_options={"synchronize_session": False},
            )
            if cache is not None:
                _invalidate_after_commit(db, cache, result.college_type)
    await db.flush()
    return changes


def _invalidate_after_commit(db: AsyncSession, cache: StatisticsCache, college_type: str) -> None:
    """Drop the college's cached statistics once the new result has committed, not before:
    a read on another node between the two (the rows not yet visible to it) would otherwise
    cache the old statistics for the cache's whole lifetime."""
    after_commit(db, lambda: cache.invalidate(college_type))


def _store_summary(result: Result, summary: ResultSummary) -> None:
    if summary.total_score != result.total_score:
        result.certificate_path = None
    result.total_score = summary.total_score
    result.max_score = summary.max_score
    result.percentage_correct = summary.percentage
    result.grade = summary.grade
    result.pass_status = summary.passed
    result.result_json = summary.to_json()
