from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.audits.repository import AuditLogRepository
from newspeech.models import AuditLog
from tests.fixtures.factories import make_session, make_user


async def test_logs_events_and_reads_them_per_user_and_per_session(db: AsyncSession) -> None:
    user = await make_user(db)
    exam_session = await make_session(db, user)
    repo = AuditLogRepository(db)
    await repo.log(
        "session.start",
        user_id=user.id,
        session_id=exam_session.id,
        resource_type="session",
        resource_id=exam_session.id,
        details={"college_type": "medical"},
        ip_address="2001:db8::1",
        user_agent="Mozilla/5.0",
    )
    await repo.log("answer.store", user_id=user.id, session_id=exam_session.id)
    await repo.log("user.login", user_id=user.id, status="failure")
    await db.commit()

    by_user = await repo.for_user(user.id)
    assert [row.action for row in by_user] == ["user.login", "answer.store", "session.start"]
    by_session = await repo.for_session(exam_session.id)
    assert [row.action for row in by_session] == ["session.start", "answer.store"]
    assert by_session[0].details == {"college_type": "medical"}
    assert by_session[0].ip_address == "2001:db8::1"
    assert by_user[0].status == "failure"


async def test_disabled_audit_log_writes_nothing(db: AsyncSession) -> None:
    assert await AuditLogRepository(db, enabled=False).log("user.login") is None
    assert await db.scalar(select(func.count(AuditLog.id))) == 0
