"""Accounts: admins create, change and deactivate them; everyone edits their own profile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.audits.service import Auditor
from newspeech.auth.scope import assigned_colleges, set_assigned_colleges
from newspeech.auth.service import AuthService
from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.db.errors import integrity_as_conflict
from newspeech.errors import InvalidState, NotFound, ValidationFailed
from newspeech.kit.pagination import PageRequest, fetch_page, order_by, where_given
from newspeech.kit.passwords import hash_password_async
from newspeech.models import User, UserRole, UserStatus
from newspeech.users.repository import UserRepository
from newspeech.users.schemas import ProfileUpdate, UserCreate, UserUpdate


@dataclass(frozen=True)
class UserFilter:
    role: UserRole | None = None
    status: UserStatus | None = None
    college_type: str | None = None
    q: str | None = None


SORTABLE = {
    "id": User.id,
    "username": User.username,
    "email": User.email,
    "created_at": User.created_at,
    "last_login": User.last_login,
}


class UserService:
    def __init__(self, db: AsyncSession, auth: AuthService, auditor: Auditor) -> None:
        self.db = db
        self.auth = auth
        self.auditor = auditor
        self.users = UserRepository(db)

    async def search(self, f: UserFilter, page: PageRequest) -> tuple[list[User], int]:
        query = select(User)
        query = where_given(
            query,
            (User.role, "==", f.role),
            (User.status, "==", f.status),
            (User.college_type, "==", f.college_type),
        )
        if f.q:
            pattern = f"%{f.q.lower()}%"
            query = query.where(or_(User.username.ilike(pattern), User.email.ilike(pattern)))
        query = query.order_by(*order_by(page.sort, SORTABLE, ["id"]))
        return await fetch_page(self.db, query, page)

    async def get(self, user_id: int) -> User:
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound(f"user {user_id} does not exist")
        return user

    async def register(self, data: UserCreate, *, actor_id: int | None, action: str) -> User:
        """Create an account after checking the password policy and the college."""
        self.auth.check_policy(data.password, data.username, data.email)
        await self.require_college(data.college_type)
        user = await self.users.create(
            username=data.username,
            email=data.email,
            password_hash=await hash_password_async(data.password),
            full_name=data.full_name,
            role=data.role,
            college_type=data.college_type,
        )
        await self.auditor.record(
            action,
            actor_id=actor_id if actor_id is not None else user.id,
            resource_type="user",
            resource_id=user.id,
            details={"role": user.role.value, "college_type": user.college_type},
        )
        return user

    async def update(self, actor: User, user_id: int, data: UserUpdate) -> User:
        user = await self.get(user_id)
        changes = data.model_dump(exclude_unset=True)
        if user.id == actor.id and (
            changes.get("role") not in (None, UserRole.ADMIN)
            or changes.get("status") not in (None, UserStatus.ACTIVE)
        ):
            raise InvalidState("admins cannot demote or deactivate themselves")
        if "college_type" in changes:
            await self.require_college(changes["college_type"])
        for name in ("role", "status"):
            if changes.get(name, ...) is None:
                raise ValidationFailed(f"{name} cannot be null")
        for name, value in changes.items():
            setattr(user, name, value)
        async with integrity_as_conflict(f"cannot update user {user_id}"):
            await self.db.flush()
        if user.status is not UserStatus.ACTIVE:
            await self.auth.revoke_all(user.id, f"status_{user.status.value}")
        await self.auditor.record(
            "user.update",
            actor_id=actor.id,
            resource_type="user",
            resource_id=user.id,
            details=_jsonable(changes),
        )
        return user

    async def deactivate(self, actor: User, user_id: int) -> User:
        return await self.update(actor, user_id, UserUpdate(status=UserStatus.INACTIVE))

    async def update_profile(self, user: User, data: ProfileUpdate) -> User:
        changes = data.model_dump(exclude_unset=True, exclude_none=True)
        if "email" in changes:
            changes["email"] = changes["email"].strip().lower()
        for name, value in changes.items():
            setattr(user, name, value)
        async with integrity_as_conflict("cannot update profile"):
            await self.db.flush()
        await self.auditor.record(
            "user.profile_update",
            actor_id=user.id,
            resource_type="user",
            resource_id=user.id,
            details={"fields": sorted(changes)},
        )
        return user

    async def colleges(self, user_id: int) -> list[str]:
        await self.get(user_id)
        return await assigned_colleges(self.db, user_id)

    async def assign_colleges(self, actor: User, user_id: int, colleges: list[str]) -> list[str]:
        user = await self.get(user_id)
        if user.role is not UserRole.EXAMINER:
            raise InvalidState("only examiners are assigned to colleges")
        for code in colleges:
            await self.require_college(code)
        await set_assigned_colleges(self.db, user.id, colleges)
        await self.auditor.record(
            "user.assign_colleges",
            actor_id=actor.id,
            resource_type="user",
            resource_id=user.id,
            details={"colleges": sorted(set(colleges))},
        )
        return sorted(set(colleges))

    async def unlock(self, actor: User, user_id: int) -> None:
        user = await self.get(user_id)
        await self.auth.unlock(user)
        await self.auditor.record(
            "user.unlock", actor_id=actor.id, resource_type="user", resource_id=user.id
        )

    async def require_college(self, code: str | None) -> None:
        if code is not None and await CollegeTypeRepository(self.db).get(code) is None:
            raise ValidationFailed(f"college type {code!r} does not exist")


def _jsonable(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in changes.items()}
