from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from newspeech.models import UserRole
from newspeech.users.schemas import CollegeCode, Email, FullName, Password, Username


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: UserRole = UserRole.STUDENT
    college_type: CollegeCode | None = None
    email: Email | None = Field(default=None, description="only this address may redeem it")
    expires_in_hours: int | None = Field(default=None, ge=1, le=24 * 30)


class InvitationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    role: UserRole
    college_type: str | None
    email: str | None
    created_by: int | None
    expires_at: dt.datetime
    used_at: dt.datetime | None
    used_by: int | None
    created_at: dt.datetime


class InvitationCreated(InvitationRead):
    code: str = Field(description="shown once; only its hash is stored")


class InvitationRedeem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=200)
    username: Username
    email: Email
    password: Password
    full_name: FullName | None = None
