"""The sitting lease (``newspeech.exams.lease``) on every backend: two nodes share one database,
the candidate reconnects to the other node mid-sitting, and the loop left running on the first
writes nothing more for the sitting.

Each "node" is its own :class:`ExamDependencies` with its own lease holder, as two processes
would have; everything they share is the database, which is all the lease relies on. The
real-socket version with two ``newspeech serve`` processes is ``test_two_nodes.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.db.base import utcnow
from newspeech.exams.dependencies import ExamDependencies
from newspeech.exams.lease import LeasePolicy, SittingTakenOver
from newspeech.exams.recorder import ExamRecorder
from newspeech.exams.repository import ExamSessionRepository
from newspeech.exams.service import ExamConversation
from newspeech.grading import KeywordGrader
from newspeech.grading.factory import PooledGrader
from newspeech.models import Answer, AuditLog, Evaluation, SittingLease, User
from newspeech.voice.pool import InferencePool
from tests.exams.plans import FakeClock
from tests.exams.test_service import MODEL_ANSWERS, Candidate, confirm, question_numbers


def node(
    sessionmaker: async_sessionmaker[AsyncSession], pool: InferencePool, name: str
) -> ExamDependencies:
    return ExamDependencies(
        sessionmaker=sessionmaker,
        grader=PooledGrader(KeywordGrader(), pool.run),
        clock=FakeClock(),
        lease=LeasePolicy(seconds=15.0, holder=name),
    )


async def rows(db: AsyncSession, model: type[Answer] | type[Evaluation], session_id: int) -> int:
    await db.commit()  # a fresh snapshot (MariaDB's REPEATABLE READ)
    count = await db.scalar(
        select(func.count()).select_from(model).where(model.session_id == session_id)
    )
    return int(count or 0)


async def audits(db: AsyncSession, session_id: int) -> list[str]:
    await db.commit()
    query = select(AuditLog.action).where(AuditLog.session_id == session_id)
    return list(await db.scalars(query.order_by(AuditLog.id)))


async def lease_row(db: AsyncSession, session_id: int) -> SittingLease:
    await db.commit()
    query = (
        select(SittingLease)
        .where(SittingLease.session_id == session_id)
        .execution_options(populate_existing=True)
    )
    return (await db.scalars(query)).one()


async def silent_until_taken_over(candidate: Candidate) -> bool:
    """Silences until the question is passed "no answer": True if that write was refused."""
    for _ in range(3):
        try:
            await candidate.silent()
        except SittingTakenOver:
            return True
    return False


async def test_a_reconnect_to_another_node_takes_the_sitting_and_the_old_loop_writes_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
    pool: InferencePool,
    student: User,
    db: AsyncSession,
) -> None:
    first = node(sessionmaker, pool, "node-a:1")
    second = node(sessionmaker, pool, "node-b:1")
    old = Candidate(await ExamConversation.start(first, student, "medical"), FakeClock())
    await confirm(old)
    turn = await old.say(MODEL_ANSWERS[0], seconds=12.0)
    assert question_numbers(turn) == [2]
    sitting = old.conversation.exam_session_id
    held = await lease_row(db, sitting)
    assert (held.generation, held.holder) == (1, "node-a:1")

    # The network dropped without node A noticing; the candidate reconnects to node B.
    new = Candidate(
        await ExamConversation.resume(second, old.conversation.session_code, student),
        FakeClock(),
    )
    taken = await lease_row(db, sitting)
    assert (taken.generation, taken.holder) == (2, "node-b:1")
    before = await audits(db, sitting)

    # Node A's loop goes on a moment: a silence timing out (question 2 passed "no answer"),
    # an answer, the end of its connection. Each finds the sitting taken and stores nothing.
    assert await silent_until_taken_over(old)
    with pytest.raises(SittingTakenOver):
        await old.say(MODEL_ANSWERS[2], seconds=12.0)
    assert old.conversation.lease is not None
    assert old.conversation.lease.lost
    await old.conversation.disconnected()  # quietly: no "exam.disconnected" row
    assert await rows(db, Answer, sitting) == 1
    assert await rows(db, Evaluation, sitting) == 1
    assert await audits(db, sitting) == before

    # Node B carries on from question 2 and stores each answer once.
    turn = await new.conversation.begin()
    assert question_numbers(turn) == [2]
    turn = await new.say(MODEL_ANSWERS[1], seconds=12.0)
    assert question_numbers(turn) == [3]
    assert await rows(db, Answer, sitting) == 2
    assert await rows(db, Evaluation, sitting) == 2
    await db.commit()
    numbers = await db.scalars(
        select(Answer.question_number).where(Answer.session_id == sitting).order_by(Answer.id)
    )
    assert list(numbers) == [1, 2]
    assert (await lease_row(db, sitting)).generation == 2


async def test_the_old_loop_finds_out_at_its_next_renewal_and_a_renewal_keeps_the_lease(
    sessionmaker: async_sessionmaker[AsyncSession],
    pool: InferencePool,
    student: User,
    db: AsyncSession,
) -> None:
    first = node(sessionmaker, pool, "node-a:1")
    conversation = await ExamConversation.start(first, student, "medical")
    lease = conversation.lease
    assert lease is not None
    before = (await lease_row(db, conversation.exam_session_id)).expires_at
    await lease.renew(sessionmaker)  # still ours: renewed, nothing else changes
    renewed = await lease_row(db, conversation.exam_session_id)
    assert renewed.generation == 1
    assert renewed.expires_at >= before

    await ExamConversation.start(node(sessionmaker, pool, "node-b:1"), student, "medical")
    with pytest.raises(SittingTakenOver):
        await lease.renew(sessionmaker)
    assert lease.lost


async def test_a_sitting_from_before_leases_gets_one_at_its_next_opening(
    sessionmaker: async_sessionmaker[AsyncSession],
    pool: InferencePool,
    student: User,
    db: AsyncSession,
) -> None:
    first = node(sessionmaker, pool, "node-a:1")
    conversation = await ExamConversation.start(first, student, "medical")
    sitting = conversation.exam_session_id
    await db.execute(delete(SittingLease))
    await db.commit()

    resumed = await ExamConversation.resume(first, conversation.session_code, student)

    assert (await lease_row(db, sitting)).generation == 1
    turn = await Candidate(resumed, FakeClock()).conversation.begin()
    assert turn.utterances  # the sitting runs: its writes pass the check


LOCK_WAITS = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity"
    " WHERE wait_event_type = 'Lock' AND datname = current_database()",
    # MariaDB 10.11 lists a transaction blocked on a row lock in neither innodb_trx nor
    # innodb_lock_waits; its statement shows in the process list, still updating.
    "mariadb": "SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE()"
    " AND command = 'Query' AND info LIKE 'UPDATE sitting_leases%'",
}


async def until_a_lock_wait(
    sessionmaker: async_sessionmaker[AsyncSession], backend: str, waiting: asyncio.Task[Any]
) -> None:
    """Until the database shows a transaction waiting for a row lock (30 s at most: an outcome
    waited for, not a timing assertion); ``waiting`` must not end meanwhile."""
    for _ in range(1500):
        async with sessionmaker() as session:
            if await session.scalar(text(LOCK_WAITS[backend])):
                return
        if waiting.done():
            raise AssertionError(f"it did not wait for the lock: {waiting.result()!r}")
        await asyncio.sleep(0.02)
    raise AssertionError("no transaction waited for the lease row")


async def test_a_take_waits_for_a_write_under_way_and_the_new_loop_reads_it(
    sessionmaker: async_sessionmaker[AsyncSession],
    pool: InferencePool,
    student: User,
    backend: str,
) -> None:
    if backend not in LOCK_WAITS:
        pytest.skip("SQLite has one writer at a time: no write is under way during a take")
    first = node(sessionmaker, pool, "node-a:1")
    conversation = await ExamConversation.start(first, student, "medical")
    sitting = conversation.exam_session_id
    writer = ExamRecorder(sessionmaker, sitting, user_id=student.id, lease=conversation.lease)

    # Node A's write is under way (the lease checked and locked, the candidate confirmed, not
    # yet committed) as the candidate's reconnect reaches node B.
    async with writer.writing() as tx:
        await ExamSessionRepository(tx).start(sitting, at=utcnow())
        taking = asyncio.create_task(
            ExamConversation.resume(
                node(sessionmaker, pool, "node-b:1"), conversation.session_code, student
            )
        )
        await until_a_lock_wait(sessionmaker, backend, taking)
        assert not taking.done()  # the take waits for the write
    resumed = await taking

    # Node B read what A committed: the candidate is confirmed, so B asks question 1 (not
    # "is this you?"); and A's next write stores nothing.
    turn = await resumed.begin()
    assert question_numbers(turn) == [1]
    with pytest.raises(SittingTakenOver):
        await writer.audit("exam.request", {"request": "repeat"})
