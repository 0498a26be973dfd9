from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.configuration.repository import ConfigurationRepository
from newspeech.errors import Conflict, InvalidState
from newspeech.exams.repository import ExamSessionRepository
from newspeech.kit.cache import TTLCache
from newspeech.models import ConfigValueType
from newspeech.results.repository import ResultRepository
from newspeech.results.service import StatisticsCache, calculate_result, college_statistics
from newspeech.seed import seed_reference_data
from tests.fixtures.factories import answer_and_evaluate, make_questions, make_session, make_user


async def finished_session(db: AsyncSession, scores: list[int], user=None, college="medical"):  # type: ignore[no-untyped-def]
    questions = await make_questions(db, college)
    exam_session = await make_session(db, user or await make_user(db, college_type=college))
    for number, score in enumerate(scores, start=1):
        await answer_and_evaluate(db, exam_session, questions[number - 1], number, score)
    await ExamSessionRepository(db).complete(exam_session.id)
    return exam_session


async def test_calculates_and_stores_result_with_per_question_scores(db: AsyncSession) -> None:
    exam_session = await finished_session(db, [10, 9, 9, 8, 8, 8, 7, 7, 7, 7, 6, 6])
    result = await calculate_result(db, exam_session)
    await db.commit()

    assert (result.total_score, result.max_score, result.grade, result.pass_status) == (
        92,
        120,
        "C",
        True,
    )
    assert result.percentage_correct == pytest.approx(76.67)
    assert exam_session.total_score == 92
    assert result.result_json is not None
    assert [q["score"] for q in result.result_json["questions"]][:3] == [10, 9, 9]
    repo = ResultRepository(db)
    assert await repo.get(result.id) is result
    assert await repo.by_session(exam_session.id) is result
    assert [r.id for r in await repo.by_user(exam_session.user_id)] == [result.id]


async def test_result_uses_the_configured_pass_mark(db: AsyncSession) -> None:
    await seed_reference_data(db, banks=[])
    await ConfigurationRepository(db).set("pass_percentage", 60, value_type=ConfigValueType.FLOAT)
    exam_session = await finished_session(db, [5] * 12)  # 60/120 = 50 %
    result = await calculate_result(db, exam_session)
    assert (result.grade, result.pass_status) == ("F", False)


async def test_rules_stored_before_validation_existed_fall_back_to_the_seed(
    db: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_reference_data(db, banks=[])
    # What an unvalidated write could store: a grade band that is not a number.
    await ConfigurationRepository(db).set("grade_thresholds", {"A": "ninety"})
    exam_session = await finished_session(db, [10] * 12)
    result = await calculate_result(db, exam_session)
    assert (result.grade, result.pass_status) == ("A", True)
    assert "stored result rules are invalid" in caplog.text


async def test_refuses_result_for_running_session_or_twice(db: AsyncSession) -> None:
    running = await make_session(db)
    with pytest.raises(InvalidState, match="completed or terminated"):
        await calculate_result(db, running)
    done = await finished_session(db, [5])
    await calculate_result(db, done)
    with pytest.raises(Conflict, match="already has a result"):
        await calculate_result(db, done)


async def test_college_statistics(db: AsyncSession) -> None:
    user = await make_user(db)
    for scores in ([10] * 12, [5] * 12, [2] * 12):
        await calculate_result(db, await finished_session(db, scores, user))
    law = await finished_session(db, [9] * 12, college="law")
    await calculate_result(db, law)
    await db.commit()

    stats = await ResultRepository(db).college_statistics("medical")
    assert (stats.attempts, stats.passes) == (3, 2)
    assert stats.average_percentage == pytest.approx((100 + 50 + 20) / 3, abs=0.01)
    assert (stats.highest_score, stats.lowest_score) == (120, 24)
    assert stats.pass_rate == pytest.approx(2 / 3)
    empty = await ResultRepository(db).college_statistics("aviation")
    assert (empty.attempts, empty.passes, empty.average_percentage, empty.pass_rate) == (
        0,
        0,
        None,
        None,
    )


async def test_statistics_are_cached_until_a_new_result_invalidates_them(
    db: AsyncSession,
) -> None:
    cache: StatisticsCache = TTLCache(300)
    user = await make_user(db)
    await calculate_result(db, await finished_session(db, [10] * 12, user), cache=cache)
    first = await college_statistics(db, "medical", cache)
    assert first.attempts == 1
    assert await college_statistics(db, "medical", cache) is first

    await calculate_result(db, await finished_session(db, [1] * 12, user), cache=cache)
    assert (await college_statistics(db, "medical", cache)).attempts == 2
