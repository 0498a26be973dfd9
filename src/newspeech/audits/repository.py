from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.models import AuditLog


class AuditLogRepository:
    """Writes and reads audit rows. With ``enabled=False`` (``ENABLE_AUDIT_LOGS=false``) ``log``
    records nothing and returns ``None``."""

    def __init__(self, db: AsyncSession, *, enabled: bool = True) -> None:
        self.db = db
        self.enabled = enabled

    async def log(
        self,
        action: str,
        *,
        user_id: int | None = None,
        session_id: int | None = None,
        resource_type: str | None = None,
        resource_id: int | None = None,
        status: str | None = "success",
        details: dict[str, Any] | None = None,
        ip_address: str | None = None,
        user_agent: str | None = None,
        write_key: str | None = None,
        flush: bool = True,
    ) -> AuditLog | None:
        """Add the row; ``flush=False`` leaves it for the next flush (many rows at once).
        ``write_key``: the idempotency key of the write it belongs to (:meth:`has_write_key`)."""
        if not self.enabled:
            return None
        row = AuditLog(
            action=action,
            user_id=user_id,
            session_id=session_id,
            resource_type=resource_type,
            resource_id=resource_id,
            status=status,
            details=details,
            ip_address=ip_address,
            user_agent=user_agent,
            write_key=write_key,
        )
        self.db.add(row)
        if flush:
            await self.db.flush()
        return row

    async def has_write_key(self, write_key: str) -> bool:
        """A write with this idempotency key committed already."""
        query = select(AuditLog.id).where(AuditLog.write_key == write_key)
        return (await self.db.scalar(query)) is not None

    async def for_user(self, user_id: int, *, limit: int = 100) -> list[AuditLog]:
        query = (
            select(AuditLog)
            .where(AuditLog.user_id == user_id)
            .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
            .limit(limit)
        )
        return list(await self.db.scalars(query))

    async def for_session(self, exam_session_id: int, *, limit: int = 1000) -> list[AuditLog]:
        query = (
            select(AuditLog)
            .where(AuditLog.session_id == exam_session_id)
            .order_by(AuditLog.created_at, AuditLog.id)
            .limit(limit)
        )
        return list(await self.db.scalars(query))
