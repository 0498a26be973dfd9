from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.db.base import utcnow
from newspeech.db.errors import integrity_as_conflict
from newspeech.models import User, UserRole, UserStatus


class UserRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def create(
        self,
        *,
        username: str,
        email: str,
        password_hash: str,
        full_name: str | None = None,
        role: UserRole = UserRole.STUDENT,
        college_type: str | None = None,
        status: UserStatus = UserStatus.ACTIVE,
    ) -> User:
        user = User(
            username=username,
            email=email.strip().lower(),
            password_hash=password_hash,
            full_name=full_name,
            role=role,
            college_type=college_type,
            status=status,
        )
        self.db.add(user)
        async with integrity_as_conflict(f"cannot create user {username!r}"):
            await self.db.flush()
        return user

    async def get(self, user_id: int) -> User | None:
        return await self.db.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        result = await self.db.scalars(select(User).where(User.email == email.strip().lower()))
        return result.one_or_none()

    async def get_by_username(self, username: str) -> User | None:
        result = await self.db.scalars(select(User).where(User.username == username))
        return result.one_or_none()

    async def list_by_college(
        self, college_type: str, *, role: UserRole | None = None
    ) -> list[User]:
        query = select(User).where(User.college_type == college_type).order_by(User.id)
        if role is not None:
            query = query.where(User.role == role)
        return list(await self.db.scalars(query))

    async def update_last_login(self, user_id: int, when: dt.datetime | None = None) -> None:
        await self.db.execute(
            update(User).where(User.id == user_id).values(last_login=when or utcnow())
        )
