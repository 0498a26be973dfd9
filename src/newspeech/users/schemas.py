from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from newspeech.models import UserRole, UserStatus

Username = Annotated[str, Field(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")]
Email = Annotated[str, Field(min_length=3, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Password = Annotated[str, Field(min_length=1, max_length=128)]
FullName = Annotated[str, Field(min_length=1, max_length=255)]
CollegeCode = Annotated[str, Field(min_length=1, max_length=50)]


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str
    full_name: str | None
    role: UserRole
    college_type: str | None
    status: UserStatus
    last_login: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    email: Email
    password: Password
    full_name: FullName | None = None
    role: UserRole = UserRole.STUDENT
    college_type: CollegeCode | None = None


class UserUpdate(BaseModel):
    """An admin's change to an account; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    full_name: FullName | None = None
    role: UserRole | None = None
    status: UserStatus | None = None
    college_type: CollegeCode | None = None


class ProfileUpdate(BaseModel):
    """What every user may change about themselves."""

    model_config = ConfigDict(extra="forbid")

    full_name: FullName | None = None
    email: Email | None = None


class CollegeAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    colleges: list[CollegeCode] = Field(max_length=100)


class CollegeAssignmentRead(BaseModel):
    user_id: int
    colleges: list[str]
