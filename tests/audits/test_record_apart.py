"""The audit row of background work, in a transaction of its own: stored on every backend, and
with the database away the log keeps it and the work goes on."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from newspeech.audits.service import record_apart
from newspeech.db.engine import create_sessionmaker
from newspeech.models import AuditLog
from tests.fixtures.databases import closed_port
from tests.fixtures.factories import make_session, make_user


async def test_stores_the_row_in_a_transaction_of_its_own(
    sessionmaker: async_sessionmaker[AsyncSession], db: AsyncSession
) -> None:
    user = await make_user(db)
    exam_session = await make_session(db, user)
    await db.commit()

    await record_apart(
        sessionmaker,
        "answer.audio_failed",
        user_id=user.id,
        exam_session_id=exam_session.id,
        resource_type="answer",
        resource_id=7,
        status="failure",
        details={"retried": False},
    )

    await db.commit()  # a fresh snapshot (MariaDB's REPEATABLE READ)
    row = (await db.scalars(select(AuditLog))).one()
    assert (row.action, row.user_id, row.session_id, row.resource_id, row.status) == (
        "answer.audio_failed",
        user.id,
        exam_session.id,
        7,
        "failure",
    )
    assert row.details == {"retried": False}


async def test_with_the_database_away_the_log_keeps_it_and_nothing_is_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    away = create_async_engine(
        f"postgresql+asyncpg://nobody@127.0.0.1:{closed_port()}/gone", connect_args={"timeout": 2}
    )
    try:
        with caplog.at_level(logging.ERROR, logger="newspeech.audits.service"):
            await record_apart(
                create_sessionmaker(away),
                "result.email_sent",
                resource_type="result",
                resource_id=3,
                details={"attempts": 1},
            )
    finally:
        await away.dispose()

    (record,) = caplog.records
    assert "result.email_sent audit row (result 3, success) was not stored" in record.message
    assert record.exc_info is not None
