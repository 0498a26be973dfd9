from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path

from newspeech.auth.deps import ExaminerUser, ScopeDep, utc
from newspeech.db.deps import DbSession
from newspeech.errors import NotFound, ValidationFailed
from newspeech.kit.responses import COMMON_ERRORS
from newspeech.statistics.queries import college_statistics_report, pass_rate_report
from newspeech.statistics.schemas import (
    ExamStatisticsRead,
    PassRateRead,
    QuestionStatisticsRead,
    ScoreBinRead,
    StatisticsReportRead,
)

router = APIRouter(prefix="/statistics", tags=["statistics"], responses=COMMON_ERRORS)


@router.get("/{college_type}")
async def college_report(
    college_type: Annotated[str, Path(max_length=50)],
    _user: ExaminerUser,
    scope: ScopeDep,
    db: DbSession,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    period: Literal["week", "month"] = "month",
) -> StatisticsReportRead:
    """Item statistics (facility, standard deviation, discrimination per question), test
    statistics (Cronbach's alpha, mean, median, score histogram) and the pass rate per week
    or month, over the college's results generated in [since, until) (times without a zone
    are UTC). Item and test statistics leave out terminated sittings (counted in
    ``terminated_excluded``); alpha and discrimination are withheld, with a note, below
    ``min_candidates`` candidates."""
    if not scope.manages_college(college_type):
        raise NotFound(f"college type {college_type!r} does not exist")
    since, until = utc(since), utc(until)
    if since is not None and until is not None and since >= until:
        raise ValidationFailed("since must be before until")
    report = await college_statistics_report(db, college_type, since=since, until=until)
    rates = await pass_rate_report(
        db, college_type=college_type, period=period, since=since, until=until
    )
    exam = report.exam
    return StatisticsReportRead(
        college_type=college_type,
        since=since,
        until=until,
        period=period,
        exam=ExamStatisticsRead(
            candidates=exam.candidates,
            items=exam.items,
            mean=exam.mean,
            median=exam.median,
            std_dev=exam.std_dev,
            cronbach_alpha=exam.cronbach_alpha,
            cronbach_alpha_note=report.cronbach_alpha_note,
            min_candidates=report.min_candidates,
            terminated_excluded=report.terminated_excluded,
            distribution=[ScoreBinRead(**vars(b)) for b in exam.distribution],
        ),
        questions=[
            QuestionStatisticsRead(
                question_id=q.question_id,
                scenario_id=q.scenario_id,
                question_number=q.question_number,
                question_text=q.question_text,
                attempts=q.statistics.attempts,
                max_score=q.statistics.max_score,
                mean=q.statistics.mean,
                facility=q.statistics.facility,
                std_dev=q.statistics.std_dev,
                discrimination=q.statistics.discrimination,
                discrimination_note=q.discrimination_note,
            )
            for q in report.questions
        ],
        pass_rates=[
            PassRateRead(
                period_start=r.period_start, attempts=r.attempts, passes=r.passes, rate=r.rate
            )
            for r in rates
        ],
    )
