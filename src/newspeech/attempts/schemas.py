from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class AttemptGrantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None, max_length=2000, description="why another attempt is allowed (audited)"
    )


class AttemptGrantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    granted_by: int | None
    reason: str | None
    created_at: dt.datetime


class AttemptsRead(BaseModel):
    """Where one candidate stands with one college's exam."""

    user_id: int
    college_type: str
    max_attempts: int = Field(description="the configured attempts every candidate has")
    granted: int = Field(description="extra attempts examiners allowed this candidate")
    allowed: int = Field(description="max_attempts + granted")
    used: int = Field(description="sittings so far, finished or not")
    remaining: int = Field(description="new sittings the candidate may still start")
    unfinished_session_code: str | None = Field(
        description="the sitting a start resumes (pending or in progress), if any"
    )
    grants: list[AttemptGrantRead]
