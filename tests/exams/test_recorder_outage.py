"""With the database unreachable, the non-essential writes of a live exam are skipped, not
raised: a sitting must never end because its latency figures could not be saved."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from newspeech.db.engine import create_sessionmaker
from newspeech.exams.outage import DatabaseAway, HeldAnswer, HeldWrites
from newspeech.exams.recorder import ExamRecorder, HeardSpan
from tests.exams.plans import bank_questions
from tests.fixtures.databases import closed_port


async def test_turn_latency_is_skipped_with_a_warning_while_the_database_is_away(
    caplog: pytest.LogCaptureFixture,
) -> None:
    away = create_async_engine(
        f"postgresql+asyncpg://nobody@127.0.0.1:{closed_port()}/gone",
        connect_args={"timeout": 2},
    )
    recorder = ExamRecorder(create_sessionmaker(away), 1, user_id=1, audit_enabled=True)
    try:
        with caplog.at_level(logging.WARNING, logger="newspeech.exams.recorder"):
            await recorder.turn_latency(7, {"response_ms": 420.0}, 420.0)
    finally:
        await away.dispose()
    assert "latency was not stored" in caplog.text


async def test_a_full_buffer_waits_for_the_database_and_gives_up_after_its_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bounded: with as many answers held as allowed, the next one waits for the database
    (``wait_seconds``) and, if it stays away, fails saying what is still held."""
    away = create_async_engine(
        f"postgresql+asyncpg://nobody@127.0.0.1:{closed_port()}/gone",
        connect_args={"timeout": 2},
    )
    recorder = ExamRecorder(create_sessionmaker(away), 1, user_id=1, audit_enabled=True)
    writes = HeldWrites(recorder, max_answers=1, retry_seconds=0.05, wait_seconds=0.3)
    [question] = bank_questions()[:1]
    heard = HeardSpan("An inferior myocardial infarction.", 0.9, 4.0, None, None)
    try:
        await writes.hold(HeldAnswer(question, 1, heard))
        assert writes.full
        with (
            caplog.at_level(logging.ERROR, logger="newspeech.exams.outage"),
            pytest.raises(DatabaseAway, match="1 writes still held"),
        ):
            await writes.hold(HeldAnswer(question, 2, heard))
    finally:
        await away.dispose()
    assert writes.answers == 1  # the first is still held; the second was never taken
    assert "1 writes (1 answers) held in memory are not stored" in caplog.text
