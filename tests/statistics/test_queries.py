"""The statistics queries gather the same numbers from stored sittings on every backend.

The data set is the one worked by hand in test_statistics.py (four candidates, three questions).
"""

from __future__ import annotations

import datetime as dt
import math

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.exams.repository import ExamSessionRepository
from newspeech.results.rules import ResultPolicy
from newspeech.results.service import calculate_result
from newspeech.statistics.measures import PassRate
from newspeech.statistics.queries import college_statistics_report, pass_rate_report
from tests.fixtures.factories import answer_and_evaluate, make_questions, make_session

TABLE = [(8, 6, 10), (6, 4, 6), (4, 6, 4), (2, 0, 4)]
POLICY = ResultPolicy(total_questions=3, pass_percentage=50.0)
WHEN = [
    dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 8, 9, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 9, 9, tzinfo=dt.UTC),
    dt.datetime(2026, 4, 2, 9, tzinfo=dt.UTC),
]


async def sit_the_fixed_data_set(db: AsyncSession) -> None:
    questions = await make_questions(db, "medical", scenarios=1, per_scenario=3)
    sessions = ExamSessionRepository(db)
    for scores, when in zip(TABLE, WHEN, strict=True):
        exam_session = await make_session(db)
        for number, (question, score) in enumerate(zip(questions, scores, strict=True), 1):
            await answer_and_evaluate(db, exam_session, question, number, score)
        await sessions.complete(exam_session.id)
        result = await calculate_result(db, exam_session, POLICY)
        result.generated_at = when
    # A sitting still in progress has no result and must not count.
    unfinished = await make_session(db)
    await answer_and_evaluate(db, unfinished, questions[0], 1, 0)
    await db.commit()


async def test_college_report_matches_the_hand_computation(db: AsyncSession) -> None:
    await sit_the_fixed_data_set(db)
    report = await college_statistics_report(db, "medical", bins=5, min_candidates=4)

    exam = report.exam
    assert (report.cronbach_alpha_note, report.terminated_excluded) == (None, 0)
    assert (exam.candidates, exam.items, exam.mean, exam.median) == (4, 3, 15.0, 15.0)
    assert exam.cronbach_alpha == pytest.approx(144 / 164)
    assert exam.std_dev == pytest.approx(math.sqrt(164 / 3))
    # Percentages of the stored maximum 30: 80, 53.3, 46.7, 20.
    assert [b.count for b in exam.distribution] == [0, 1, 2, 0, 1]

    assert [q.question_number for q in report.questions] == [1, 2, 3]
    facility = [q.statistics.facility for q in report.questions]
    assert facility == [0.5, 0.4, 0.6]
    discrimination = [q.statistics.discrimination for q in report.questions]
    assert discrimination == pytest.approx([0.948683, 0.623610, 0.749269], abs=1e-6)
    assert report.questions[0].question_text.startswith("Scenario 1 question 1")


async def test_alpha_and_discrimination_are_withheld_with_too_few_candidates(
    db: AsyncSession,
) -> None:
    await sit_the_fixed_data_set(db)
    report = await college_statistics_report(db, "medical", min_candidates=5)
    assert report.exam.cronbach_alpha is None
    assert report.cronbach_alpha_note == (
        "not given: Cronbach's alpha needs at least 5 candidates to mean anything, and there are 4"
    )
    assert [q.statistics.discrimination for q in report.questions] == [None, None, None]
    assert all("discrimination index" in (q.discrimination_note or "") for q in report.questions)
    # The other numbers are still given.
    assert [q.statistics.facility for q in report.questions] == [0.5, 0.4, 0.6]
    # The configured minimum applies when none is passed (seed default: 30).
    default = await college_statistics_report(db, "medical")
    assert (default.min_candidates, default.exam.cronbach_alpha) == (30, None)


async def test_terminated_sittings_are_left_out_and_counted_apart(db: AsyncSession) -> None:
    await sit_the_fixed_data_set(db)
    questions = await make_questions(db, "medical", scenarios=1, per_scenario=3)
    # Ended after one full-marks answer: as a test it would be a 10/30 outlier on question 1.
    ended = await make_session(db)
    await answer_and_evaluate(db, ended, questions[0], 1, 10)
    await ExamSessionRepository(db).terminate(ended.id)
    await calculate_result(db, ended, POLICY)
    await db.commit()

    report = await college_statistics_report(db, "medical", bins=5, min_candidates=4)
    assert (report.exam.candidates, report.terminated_excluded) == (4, 1)
    assert report.exam.cronbach_alpha == pytest.approx(144 / 164)
    assert [q.statistics.attempts for q in report.questions] == [4, 4, 4]
    # Pass rates still count the terminated sitting as an attempt (a fail at 10/30).
    rates = await pass_rate_report(db, college_type="medical")
    assert sum(r.attempts for r in rates) == 5


async def test_report_window_and_an_empty_college(db: AsyncSession) -> None:
    await sit_the_fixed_data_set(db)
    march = await college_statistics_report(
        db,
        "medical",
        since=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        until=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
    )
    assert march.exam.candidates == 3
    empty = await college_statistics_report(db, "law")
    assert (empty.exam.candidates, empty.exam.mean, empty.questions) == (0, None, [])


async def test_pass_rates_per_month_and_week(db: AsyncSession) -> None:
    await sit_the_fixed_data_set(db)
    # Totals 24, 16, 14, 6 of 30 -> 80 %, 53 %, 47 %, 20 %: pass, pass, fail, fail at 50 %.
    monthly = await pass_rate_report(db, college_type="medical", period="month")
    assert monthly == [
        PassRate("medical", dt.date(2026, 3, 1), 3, 2),
        PassRate("medical", dt.date(2026, 4, 1), 1, 0),
    ]
    weekly = await pass_rate_report(db, period="week")
    assert [(r.period_start, r.attempts, r.passes) for r in weekly] == [
        (dt.date(2026, 3, 2), 2, 2),
        (dt.date(2026, 3, 9), 1, 0),
        (dt.date(2026, 3, 30), 1, 0),
    ]
