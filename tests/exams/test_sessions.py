from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from newspeech.errors import InvalidState, NotFound
from newspeech.exams.repository import ExamSessionRepository
from newspeech.models import SessionStatus
from newspeech.results.service import calculate_result
from tests.fixtures.factories import (
    answer_and_evaluate,
    make_questions,
    make_session,
    make_user,
)


async def test_creates_pending_session_with_viva_code(db: AsyncSession) -> None:
    user = await make_user(db)
    exam_session = await ExamSessionRepository(db).create(user_id=user.id, college_type="medical")
    await db.commit()

    assert re.fullmatch(r"VIVA-[0-9A-F]{12}", exam_session.session_code)
    assert exam_session.status is SessionStatus.PENDING
    assert exam_session.total_questions == 12
    assert exam_session.questions_answered == 0
    repo = ExamSessionRepository(db)
    assert await repo.get_by_code(exam_session.session_code) is exam_session
    assert await repo.get_by_code("VIVA-000000000000") is None


async def test_start_then_complete_records_times_and_duration(db: AsyncSession) -> None:
    exam_session = await make_session(db, started=False)
    repo = ExamSessionRepository(db)
    t0 = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)

    await repo.start(exam_session.id, at=t0)
    await repo.complete(exam_session.id, at=t0 + dt.timedelta(minutes=14, seconds=3))
    await db.commit()
    await db.refresh(exam_session)

    assert exam_session.status is SessionStatus.COMPLETED
    assert exam_session.start_time == t0
    assert exam_session.duration_seconds == 843


@pytest.mark.parametrize(
    ("steps", "forbidden"),
    [
        ([], "complete"),  # completing a pending sitting
        (["start", "complete"], "start"),
        (["start", "complete"], "terminate"),
        (["terminate"], "start"),
        (["start"], "start"),
    ],
)
async def test_rejects_invalid_state_changes(
    db: AsyncSession, steps: list[str], forbidden: str
) -> None:
    exam_session = await make_session(db, started=False)
    repo = ExamSessionRepository(db)
    for step in steps:
        await getattr(repo, step)(exam_session.id)
    before = exam_session.status

    with pytest.raises(InvalidState, match=exam_session.session_code):
        await getattr(repo, forbidden)(exam_session.id)
    assert exam_session.status is before


async def test_terminate_ends_a_pending_or_running_session(db: AsyncSession) -> None:
    pending = await make_session(db, started=False)
    running = await make_session(db)
    repo = ExamSessionRepository(db)
    await repo.terminate(pending.id)
    await repo.terminate(running.id)
    assert pending.status is running.status is SessionStatus.TERMINATED
    assert pending.duration_seconds == 0
    assert running.end_time is not None


async def test_unknown_session_raises_not_found(db: AsyncSession) -> None:
    with pytest.raises(NotFound):
        await ExamSessionRepository(db).start(987654)
    with pytest.raises(NotFound):
        await ExamSessionRepository(db).record_turn_latency(987654, 100.0)


async def test_lists_active_sessions_and_recent_sessions_of_a_user(db: AsyncSession) -> None:
    user = await make_user(db)
    other = await make_user(db, college_type="law")
    pending = await make_session(db, user, started=False)
    running = await make_session(db, user)
    done = await make_session(db, user)
    await ExamSessionRepository(db).complete(done.id)
    law = await make_session(db, other)
    repo = ExamSessionRepository(db)

    assert {s.id for s in await repo.list_active()} == {pending.id, running.id, law.id}
    assert {s.id for s in await repo.list_active(college_type="law")} == {law.id}
    recent = await repo.recent_for_user(user.id, limit=2)
    assert [s.id for s in recent] == [done.id, running.id]


async def test_metrics_are_set_and_latency_folds_into_mean_and_max(db: AsyncSession) -> None:
    exam_session = await make_session(db)
    repo = ExamSessionRepository(db)
    for latency in (300.0, 500.0, 400.0):
        await repo.record_turn_latency(exam_session.id, latency)
    await db.commit()
    await db.refresh(exam_session)
    assert exam_session.voice_detected_count == 3
    assert exam_session.avg_latency_ms == pytest.approx(400.0)
    assert exam_session.max_latency_ms == pytest.approx(500.0)

    await repo.update_metrics(exam_session.id, voice_detected_count=7, max_latency_ms=650.0)
    await db.commit()
    await db.refresh(exam_session)
    assert (exam_session.voice_detected_count, exam_session.max_latency_ms) == (7, 650.0)
    assert exam_session.avg_latency_ms == pytest.approx(400.0)


@contextmanager
def count_queries(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@pytest.mark.parametrize("answered", [1, 12])
async def test_detailed_load_takes_two_queries_however_many_answers(
    db: AsyncSession, engine: AsyncEngine, answered: int
) -> None:
    questions = await make_questions(db)
    exam_session = await make_session(db)
    for number, question in enumerate(questions[:answered], start=1):
        await answer_and_evaluate(db, exam_session, question, number, score=number % 11)
    await ExamSessionRepository(db).complete(exam_session.id)
    await calculate_result(db, exam_session)
    await db.commit()
    db.expunge_all()

    with count_queries(engine) as statements:
        loaded = await ExamSessionRepository(db).get_detailed(exam_session.id)
        assert loaded is not None
        # Touch everything the eager load promised; a lazy load here would raise in async.
        summary = [
            (a.question_number, a.evaluation and a.evaluation.score_obtained)
            for a in loaded.answers
        ]
        assert loaded.user.username
        assert loaded.result is not None
    assert len(statements) == 2, statements
    assert summary == [(n, n % 11) for n in range(1, answered + 1)]
