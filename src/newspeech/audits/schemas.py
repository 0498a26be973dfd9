from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditLogRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int | None
    session_id: int | None
    action: str
    resource_type: str | None
    resource_id: int | None
    status: str | None
    details: dict[str, Any] | None
    ip_address: str | None
    user_agent: str | None
    created_at: dt.datetime
