"""With the database unreachable, the non-essential writes of a live exam are skipped, not
raised: a sitting must never end because its latency figures could not be saved."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from newspeech.db.engine import create_sessionmaker
from newspeech.exams.recorder import ExamRecorder
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
