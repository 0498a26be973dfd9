from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.config import Settings
from newspeech.configuration.repository import ConfigurationRepository
from newspeech.db.engine import unit_of_work
from newspeech.errors import Conflict, InvalidState
from newspeech.exams.repository import ExamSessionRepository
from newspeech.kit.cache import RedisCache
from newspeech.models import ConfigValueType
from newspeech.results.repository import CollegeStatistics, ResultRepository
from newspeech.results.rules import QuestionScore, ResultPolicy, summarise
from newspeech.results.service import (
    StatisticsCache,
    StatisticsCodec,
    calculate_result,
    college_statistics,
    statistics_cache,
)
from newspeech.seed import seed_reference_data
from tests.fixtures.factories import answer_and_evaluate, make_questions, make_session, make_user

REDIS_URL = os.environ.get("NEWSPEECH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def summarise_scores(scores: list[int]):  # type: ignore[no-untyped-def]
    return summarise([QuestionScore(n, s, 10) for n, s in enumerate(scores, 1)], ResultPolicy())


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
    # The typed configuration (ExamConfig) takes the key's default and says which key was bad.
    assert "configuration ['grade_thresholds']: stored values are invalid" in caplog.text


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


@pytest.fixture(params=["process", "redis"])
async def nodes(request: pytest.FixtureRequest) -> AsyncIterator[tuple[StatisticsCache, ...]]:
    """Two nodes' statistics caches: one process's own (the same cache twice), or two caches
    sharing one Redis, as two nodes of a deployment do."""
    if request.param == "process":
        cache = statistics_cache(300, enabled=True)
        yield cache, cache
        return
    # A fresh key prefix per test: other checkouts may share this Redis server.
    prefix = f"newspeech-test:{uuid.uuid4().hex}:"
    caches = tuple(
        RedisCache(Redis.from_url(REDIS_URL), 300, StatisticsCodec(), prefix=prefix)
        for _ in range(2)
    )
    try:
        yield caches
    finally:
        await caches[0].clear()
        for cache in caches:
            await cache.aclose()


async def test_statistics_are_cached_until_a_new_result_invalidates_them(
    sessionmaker: async_sessionmaker[AsyncSession], nodes: tuple[StatisticsCache, StatisticsCache]
) -> None:
    one, other = nodes
    async with unit_of_work(sessionmaker) as db:
        user = await make_user(db)
        await calculate_result(db, await finished_session(db, [10] * 12, user), cache=one)
    async with sessionmaker() as db:
        first = await college_statistics(db, "medical", one)
        assert first.attempts == 1
        assert await college_statistics(db, "medical", other) == first  # served from the cache
    async with unit_of_work(sessionmaker) as db:
        await ResultRepository(db).create(  # a result the cache does not hear of
            await finished_session(db, [5] * 12, user), summarise_scores([5] * 12)
        )
    async with sessionmaker() as db:
        assert (await college_statistics(db, "medical", other)).attempts == 1

    # A result stored through the other node invalidates what both serve — once it has
    # committed: a read on the first node meanwhile (which cannot see the new row yet) must
    # not leave the statistics without it in the cache.
    async with unit_of_work(sessionmaker) as db:
        await calculate_result(db, await finished_session(db, [1] * 12, user), cache=other)
        async with sessionmaker() as meanwhile:
            await college_statistics(meanwhile, "medical", one)
    async with sessionmaker() as db:
        assert (await college_statistics(db, "medical", one)).attempts == 3


async def test_two_installations_sharing_one_redis_database_keep_their_own_statistics(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Each installation's keys carry its namespace (``Settings.redis_prefix``): what one
    caches or invalidates is not what the other serves."""
    run = uuid.uuid4().hex[:8]
    ours, theirs = (
        statistics_cache(
            300,
            enabled=True,
            redis=Redis.from_url(REDIS_URL),
            namespace=settings.model_copy(
                update={"redis_namespace": f"t{run}-{name}"}
            ).redis_prefix,
        )
        for name in ("ours", "theirs")
    )
    try:
        async with unit_of_work(sessionmaker) as db:
            await calculate_result(db, await finished_session(db, [10] * 12), cache=ours)
        elsewhere = CollegeStatistics("medical", 7, 7, 100.0, 120, 120)
        await theirs.set("medical", elsewhere)  # the other installation's own statistics
        async with sessionmaker() as db:
            assert (await college_statistics(db, "medical", ours)).attempts == 1
        assert await theirs.get("medical") == elsewhere
        await ours.invalidate("medical")
        assert await theirs.get("medical") == elsewhere
    finally:
        for cache in (ours, theirs):
            await cache.clear()
            await cache.aclose()


async def test_statistics_are_read_from_the_database_while_redis_is_away(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # Nothing listens on port 1: every Redis command fails at once.
    cache = RedisCache(
        Redis.from_url("redis://127.0.0.1:1/0"), 300, StatisticsCodec(), prefix="newspeech-test:"
    )
    for attempts, scores in ((1, [10] * 12), (2, [1] * 12)):
        async with unit_of_work(sessionmaker) as db:
            user = await make_user(db)
            await calculate_result(db, await finished_session(db, scores, user), cache=cache)
        async with sessionmaker() as db:
            assert (await college_statistics(db, "medical", cache)).attempts == attempts
    await cache.aclose()


async def test_shared_entries_expire_with_the_ttl_and_bad_ones_are_misses() -> None:
    prefix = f"newspeech-test:{uuid.uuid4().hex}:"
    client: Redis = Redis.from_url(REDIS_URL)
    cache = RedisCache(client, 300, StatisticsCodec(), prefix=prefix)
    statistics = CollegeStatistics("law", 3, 2, 61.5, 90, 40)
    try:
        await cache.set("law", statistics)
        assert await cache.get("law") == statistics
        assert 290 <= await client.ttl(prefix + "law") <= 300
        await client.set(prefix + "law", '{"college": "law"}')  # another version's shape
        assert await cache.get("law") is None
        disabled = RedisCache(client, 300, StatisticsCodec(), prefix=prefix, enabled=False)
        await disabled.set("medical", statistics)
        assert await client.exists(prefix + "medical") == 0
    finally:
        await cache.clear()
        await cache.aclose()
