from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from newspeech.audits.schemas import AuditLogRead
from newspeech.audits.service import AuditFilter, list_audit_logs
from newspeech.auth.deps import AdminUser, utc
from newspeech.db.deps import DbSession
from newspeech.kit.ids import Id
from newspeech.kit.pagination import Page, PageRequest
from newspeech.kit.responses import COMMON_ERRORS

router = APIRouter(prefix="/audit-logs", tags=["audit log"], responses=COMMON_ERRORS)


@router.get("")
async def list_audit_log(
    _admin: AdminUser,
    db: DbSession,
    page: Annotated[PageRequest, Query()],
    user_id: Id | None = None,
    action: Annotated[str | None, Query(max_length=255)] = None,
    resource_type: Annotated[str | None, Query(max_length=100)] = None,
    resource_id: Id | None = None,
    status: Annotated[str | None, Query(max_length=50)] = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Page[AuditLogRead]:
    """Filter by user, action, resource and time range [since, until). Sortable by
    created_at, id, action."""
    f = AuditFilter(user_id, action, resource_type, resource_id, status, utc(since), utc(until))
    rows, total = await list_audit_logs(db, f, page)
    return Page(
        items=[AuditLogRead.model_validate(r) for r in rows],
        total=total,
        page=page.page,
        size=page.size,
    )
