"""What a user may see: everything (admin), assigned colleges (examiner), own data (student)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, false, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from newspeech.errors import NotFound
from newspeech.models import ExaminerCollege, User, UserRole


@dataclass(frozen=True)
class Scope:
    user_id: int
    role: UserRole
    colleges: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.role is UserRole.ADMIN

    def where(self, college_column: Any, user_column: Any) -> ColumnElement[bool] | None:
        """A WHERE clause limiting rows to this scope (``None``: no limit)."""
        if self.role is UserRole.ADMIN:
            return None
        if self.role is UserRole.EXAMINER:
            if not self.colleges:
                return false()
            clause: ColumnElement[bool] = college_column.in_(self.colleges)
            return clause
        own: ColumnElement[bool] = user_column == self.user_id
        return own

    def can_see(self, college_type: str | None, owner_id: int | None) -> bool:
        if self.role is UserRole.ADMIN:
            return True
        if self.role is UserRole.EXAMINER:
            return college_type is not None and college_type in self.colleges
        return owner_id is not None and owner_id == self.user_id

    def require(self, college_type: str | None, owner_id: int | None, what: str) -> None:
        """Out of scope reads as absent: callers learn nothing about others' resources."""
        if not self.can_see(college_type, owner_id):
            raise NotFound(f"{what} does not exist")

    def manages_college(self, college_type: str | None) -> bool:
        return self.is_admin or (
            self.role is UserRole.EXAMINER
            and college_type is not None
            and college_type in self.colleges
        )


async def assigned_colleges(db: AsyncSession, user_id: int) -> list[str]:
    query = (
        select(ExaminerCollege.college_type)
        .where(ExaminerCollege.user_id == user_id)
        .order_by(ExaminerCollege.college_type)
    )
    return list(await db.scalars(query))


async def set_assigned_colleges(db: AsyncSession, user_id: int, colleges: list[str]) -> None:
    await db.execute(delete(ExaminerCollege).where(ExaminerCollege.user_id == user_id))
    for code in sorted(set(colleges)):
        db.add(ExaminerCollege(user_id=user_id, college_type=code))
    await db.flush()


async def load_scope(db: AsyncSession, user: User) -> Scope:
    colleges: frozenset[str] = frozenset()
    if user.role is UserRole.EXAMINER:
        colleges = frozenset(await assigned_colleges(db, user.id))
    return Scope(user.id, user.role, colleges)
