"""Recording what happened: one audit row per change or sign-in, in the change's transaction."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from newspeech.audits.repository import AuditLogRepository
from newspeech.db.engine import unit_of_work
from newspeech.kit.pagination import PageRequest, fetch_page, order_by, where_given
from newspeech.models import AuditLog

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClientInfo:
    """Who is on the other end of a request, as far as the server can tell."""

    ip_address: str | None = None
    user_agent: str | None = None


class Auditor:
    """Writes audit rows through the request's session, so a change and its record commit
    together or not at all. Services receive one and call ``record`` after each change."""

    def __init__(self, db: AsyncSession, client: ClientInfo, *, enabled: bool = True) -> None:
        self._repository = AuditLogRepository(db, enabled=enabled)
        self.client = client

    async def record(
        self,
        action: str,
        *,
        actor_id: int | None,
        resource_type: str | None = None,
        resource_id: int | None = None,
        status: str = "success",
        details: dict[str, Any] | None = None,
        exam_session_id: int | None = None,
        flush: bool = True,
    ) -> None:
        await self._repository.log(
            action,
            user_id=actor_id,
            session_id=exam_session_id,
            resource_type=resource_type,
            resource_id=resource_id,
            status=status,
            details=details,
            ip_address=self.client.ip_address,
            user_agent=(self.client.user_agent or None) and self.client.user_agent[:1000],
            flush=flush,
        )


async def record_apart(
    sessionmaker: async_sessionmaker[AsyncSession],
    action: str,
    *,
    enabled: bool = True,
    user_id: int | None = None,
    exam_session_id: int | None = None,
    resource_type: str | None = None,
    resource_id: int | None = None,
    status: str = "success",
    details: dict[str, Any] | None = None,
) -> None:
    """One audit row in a transaction of its own, for background work (an e-mail, a stored
    recording) whose change committed long before, or never touched the database.

    It never raises: the row records what is done already, and a task that could not write
    it must still finish its work. When it cannot be written (the database is away, or
    anything else) the log keeps the action, with the error's traceback."""
    try:
        async with unit_of_work(sessionmaker) as db:
            await AuditLogRepository(db, enabled=enabled).log(
                action,
                user_id=user_id,
                session_id=exam_session_id,
                resource_type=resource_type,
                resource_id=resource_id,
                status=status,
                details=details,
            )
    except Exception:
        logger.exception(
            "the %s audit row (%s %s, %s) was not stored: %s",
            action,
            resource_type,
            resource_id,
            status,
            details,
        )


@dataclass(frozen=True)
class AuditFilter:
    user_id: int | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: int | None = None
    status: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


SORTABLE = {"created_at": AuditLog.created_at, "id": AuditLog.id, "action": AuditLog.action}


def _filtered(query: Select[Any], f: AuditFilter) -> Select[Any]:
    return where_given(
        query,
        (AuditLog.user_id, "==", f.user_id),
        (AuditLog.action, "==", f.action),
        (AuditLog.resource_type, "==", f.resource_type),
        (AuditLog.resource_id, "==", f.resource_id),
        (AuditLog.status, "==", f.status),
        (AuditLog.created_at, ">=", f.since),
        (AuditLog.created_at, "<", f.until),
    )


async def list_audit_logs(
    db: AsyncSession, f: AuditFilter, page: PageRequest
) -> tuple[list[AuditLog], int]:
    query = _filtered(select(AuditLog), f).order_by(
        *order_by(page.sort, SORTABLE, ["-created_at", "-id"])
    )
    return await fetch_page(db, query, page)
